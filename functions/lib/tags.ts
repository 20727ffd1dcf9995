/**
 * The factory's resource tags. IAM conditions, cleanup and the reaper select resources by them,
 * so every resource the factory creates carries {@link factoryTags}.
 */
import type { BuildTarget } from './schemas';

export const TAG_MANAGED = 'snapshot-factory:managed';
export const TAG_EXECUTION = 'snapshot-factory:execution';
export const TAG_RECIPE = 'snapshot-factory:recipe';
export const TAG_ARCHITECTURE = 'snapshot-factory:architecture';

/** EC2's documented tag limits (the SDK does not check them). */
export const EC2_TAG_LIMITS = { maxTags: 50, maxKeyLength: 128, maxValueLength: 256 } as const;

export interface Tag {
  Key: string;
  Value: string;
}

/**
 * Cuts `text` to at most `max` characters, saying how much was left out, so a description
 * built from a long image list never exceeds an API limit.
 *
 * @example fitText('a,b,c,d', 5) // 'a,b…'
 */
export const fitText = (text: string, max: number): string => {
  if (text.length <= max) return text;
  const marker = '…';
  return text.slice(0, Math.max(0, max - marker.length)) + marker;
};

/**
 * Summarises a list of items in at most `max` characters: as many whole items as fit,
 * then `(+N more)`.
 *
 * @example summarizeList(['a:1', 'b:2', 'c:3'], 14) // 'a:1 (+2 more)'
 */
export const summarizeList = (items: readonly string[], max: number, separator = ', '): string => {
  const all = items.join(separator);
  if (all.length <= max) return all;
  for (let kept = items.length - 1; kept >= 1; kept -= 1) {
    const text = `${items.slice(0, kept).join(separator)} (+${items.length - kept} more)`;
    if (text.length <= max) return text;
  }
  return fitText(`${items.length} images: ${all}`, max);
};

/** The tags every resource of one build carries, plus the user's extra tags, within EC2's limits. */
export const factoryTags = (
  build: Pick<BuildTarget, 'executionName' | 'recipe' | 'architecture' | 'tags'>,
  name?: string,
): Tag[] => {
  const own: Tag[] = [
    { Key: TAG_MANAGED, Value: 'true' },
    { Key: TAG_EXECUTION, Value: build.executionName },
    { Key: TAG_RECIPE, Value: build.recipe },
    { Key: TAG_ARCHITECTURE, Value: build.architecture },
  ];
  if (name) own.push({ Key: 'Name', Value: name });
  const ownKeys = new Set(own.map((t) => t.Key));
  const extra = Object.entries(build.tags ?? {})
    .filter(([key]) => !ownKeys.has(key))
    .map(([Key, Value]) => ({ Key, Value }));
  return [...own, ...extra].slice(0, EC2_TAG_LIMITS.maxTags).map((tag) => ({
    Key: fitText(tag.Key, EC2_TAG_LIMITS.maxKeyLength),
    Value: fitText(tag.Value, EC2_TAG_LIMITS.maxValueLength),
  }));
};
