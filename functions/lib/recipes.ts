/**
 * Recipes: named image sets kept fresh by the factory. A recipe names the lineage of its snapshots:
 * its current snapshot lives under `/snapshot-factory/<recipe>/<architecture>/snapshot-id`.
 *
 * Recipes come from the deployment's settings; the start-build function receives them as JSON in its
 * `RECIPES` environment variable. An execution started by hand with only `images` belongs to the
 * default recipe {@link defaultRecipeName} derived from its input.
 */
import { createHash } from 'node:crypto';
import * as z from './zod-mini';
import { InvalidInputError } from './errors';
import { fastSnapshotRestoreSchema } from './fast-snapshot-restore';
import { copiesSchema } from './snapshot-copies';
import { describeDuplicateImage, findDuplicateImage } from './image-reference';
import { retentionInputSchema, sharingInputSchema } from './lifecycle-settings';
import { ARCHITECTURES, PLATFORM_OF, type Architecture } from './architectures';
import { describeIssues } from './stage';

/** Recipe names are used in SSM parameter names, execution names, schedule and rule names. */
export const RECIPE_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,47}$/;

export const LAYOUTS = ['per-architecture', 'combined'] as const;
export const layoutSchema = z.enum(LAYOUTS);
/** An EC2 architecture as a setting names it (x86_64 or arm64). */
export const architectureSettingSchema = z.enum(ARCHITECTURES);
export type Layout = z.infer<typeof layoutSchema>;

export const DEFAULT_SCHEDULE_CRON = 'cron(0 3 * * ? *)';

export const recipeSchema = z.object({
  /** Lineage name: letters, digits, `_` and `-`, at most 48 characters. */
  name: z.string().check(z.regex(RECIPE_NAME_PATTERN, 'recipe names are 1-48 letters, digits, _ or -, starting with a letter or digit')),
  /** Image references to pre-pull. */
  images: z.array(z.string().check(z.minLength(1))).check(z.minLength(1)),
  /** Architectures to build for. */
  architectures: z._default(z.array(architectureSettingSchema).check(z.minLength(1)), [...ARCHITECTURES]),
  /** `per-architecture`: one snapshot per architecture; `combined`: one snapshot holding every platform. */
  layout: z._default(layoutSchema, 'per-architecture'),
  /** Nightly rebuild check (EventBridge Scheduler). */
  schedule: z.prefault(
    z.object({
      /** Scheduler expression, e.g. `cron(0 3 * * ? *)`. */
      cron: z._default(
        z.string().check(z.regex(/^cron\(.+\)$/, 'a Scheduler cron expression: cron(minutes hours day-of-month month day-of-week year)')),
        DEFAULT_SCHEDULE_CRON,
      ),
      /** IANA time zone the cron expression is read in. */
      timezone: z._default(z.string().check(z.minLength(1)), 'UTC'),
      enabled: z._default(z.boolean(), true),
    }),
    {},
  ),
  /** Private ECR repository names in this account and region whose pushes rebuild the recipe. */
  watchRepositories: z._default(z.array(z.string().check(z.regex(/^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*\/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$/))), []),
  /** Fast Snapshot Restore of this recipe's snapshots (execution input `fastSnapshotRestore`); unset: the deployed default. */
  fastSnapshotRestore: z.optional(fastSnapshotRestoreSchema),
  /** Cross-region copies of this recipe's snapshots (execution input `copies`); unset: the deployed default. */
  copies: z.optional(copiesSchema),
  /** Execution input fields merged into every execution of this recipe (instance types, volume size, tags...). */
  overrides: z._default(z.record(z.string(), z.unknown()), {}),
  /** This recipe's retention of superseded snapshots, over the deploy-time `retention` setting. */
  retention: z.optional(retentionInputSchema),
  /** This recipe's sharing, over the deploy-time `sharing` setting (`accountIds: []` stops sharing it). */
  sharing: z.optional(sharingInputSchema),
});
export type Recipe = z.infer<typeof recipeSchema>;
export type RecipeSettings = z.input<typeof recipeSchema>;

export const recipesSchema = z.array(recipeSchema).check(
  z.superRefine((recipes, ctx) => {
    const seen = new Set<string>();
    for (const [index, recipe] of recipes.entries()) {
      if (seen.has(recipe.name)) ctx.addIssue({ code: 'custom', path: [index, 'name'], message: `duplicate recipe name ${recipe.name}` });
      seen.add(recipe.name);
      // prepare-build refuses an image listed twice in any spelling: a recipe doing so would fail every night.
      let duplicate;
      try {
        duplicate = findDuplicateImage(recipe.images);
      } catch {
        continue; // an invalid reference is reported where references are validated (start-build, prepare-build)
      }
      if (duplicate) {
        ctx.addIssue({ code: 'custom', path: [index, 'images', duplicate.second.index], message: `lists ${describeDuplicateImage(duplicate)}: list each image once` });
      }
    }
  }),
);

/** Parses recipe settings, naming the bad field. */
export const parseRecipes = (settings: unknown, what = 'recipes'): Recipe[] => {
  const parsed = recipesSchema.safeParse(settings);
  if (!parsed.success) throw new InvalidInputError(`${what} are invalid: ${describeIssues(parsed.error)}`);
  return parsed.data;
};

/** Reads the `RECIPES` environment variable (JSON array of recipes). */
export const recipesFromEnvironment = (env: NodeJS.ProcessEnv = process.env): Recipe[] => {
  const raw = env.RECIPES;
  if (!raw) return [];
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (error) {
    throw new InvalidInputError(`RECIPES is not JSON: ${(error as Error).message}`);
  }
  return parseRecipes(json, 'RECIPES');
};

/** Platforms a recipe's snapshots hold, in architecture order. */
export const platformsOf = (architectures: readonly Architecture[]): string[] => architectures.map((a) => PLATFORM_OF[a]);

/**
 * Name of the recipe of an execution started with only `images`: `adhoc-<12 hex>`, the start of the
 * SHA-256 of the sorted, de-duplicated image list, the layout and the sorted architectures. The same
 * image set always lands in the same lineage, whatever the order it was given in.
 *
 * @example defaultRecipeName(['nginx:1', 'redis:7'], 'per-architecture', ['x86_64', 'arm64']) // 'adhoc-…'
 */
export const defaultRecipeName = (images: readonly string[], layout: Layout = 'per-architecture', architectures: readonly Architecture[] = ARCHITECTURES): string => {
  const key = [[...new Set(images)].sort().join('\n'), layout, [...new Set(architectures)].sort().join(',')].join('\n--\n');
  return `adhoc-${createHash('sha256').update(key).digest('hex').slice(0, 12)}`;
};

/** Characters allowed in a Step Functions execution name by this factory (AWS allows more; these are safe in tags and URLs). */
export const EXECUTION_NAME_PATTERN = /^[A-Za-z0-9_-]{1,80}$/;

/** The longest attempt number a triggered build's name carries (see {@link executionNameFor}). */
export const MAX_BUILD_ATTEMPTS = 99;

/**
 * Execution name of a triggered build:
 * - `<recipe>-<16 hex of the digest set>-<attempt>` (schedule, ECR push, manual): attempt 1 is the first build of
 *   that digest set; start-build probes the attempts in order and starts the next one only after the previous
 *   closed FAILED, TIMED_OUT or ABORTED. No date: identical triggers either side of midnight share a name;
 * - `<recipe>-f<YYYYMMDDHHMMSS>-<12 hex>` (forced): a forced build is never deduplicated against an earlier one.
 * At most 80 characters of `[A-Za-z0-9_-]`.
 *
 * @example executionNameFor('ml', 'sha256:0123456789abcdef…', { attempt: 1 }) // 'ml-0123456789abcdef-1'
 */
export const executionNameFor = (recipe: string, digestSet: string, options: { attempt?: number; forcedAt?: Date } = {}): string => {
  const hash = digestSet.replace(/^sha256:/, '');
  const stamp = (date: Date, length: number) => date.toISOString().replace(/[^0-9]/g, '').slice(0, length);
  const attempt = options.attempt ?? 1;
  if (!Number.isInteger(attempt) || attempt < 1 || attempt > MAX_BUILD_ATTEMPTS) throw new InvalidInputError(`execution name: attempt must be an integer from 1 to ${MAX_BUILD_ATTEMPTS}, got ${attempt}`);
  const name = options.forcedAt
    ? `${recipe.slice(0, 48)}-f${stamp(options.forcedAt, 14)}-${hash.slice(0, 12)}`
    : `${recipe.slice(0, 48)}-${hash.slice(0, 16)}-${attempt}`;
  return name.replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 80);
};
