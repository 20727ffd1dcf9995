/**
 * The optional result parameter (the old script's `-op`): an extra, user-named SSM parameter that publish-snapshot
 * writes each snapshot ID to, after the factory's own parameters. Its name is a template set at deploy time
 * (setting `resultParameterName`, env `RESULT_PARAMETER_NAME` of publish-snapshot) with the placeholders
 * `{recipe}` and `{architecture}`. The factory's own parameters stay the source of truth for the skip check.
 */
import type { Architecture } from './schemas';

export const RESULT_PARAMETER_ENV = 'RESULT_PARAMETER_NAME';
export const RESULT_PARAMETER_PLACEHOLDERS = ['{recipe}', '{architecture}'] as const;

/**
 * Parameter Store takes at most 1011 characters including the ARN prefix `arn:<partition>:ssm:<region>:<account>:parameter`
 * (up to ~60 characters), so names are kept to 950; at most 15 hierarchy levels.
 */
export const RESULT_PARAMETER_MAX_LENGTH = 950;
export const RESULT_PARAMETER_MAX_LEVELS = 15;

/** The longest values the placeholders take: a 48-character recipe name, `x86_64`. */
const LONGEST = { recipe: 'r'.repeat(48), architecture: 'x86_64' };

/**
 * The parameter name for one recipe and architecture.
 *
 * @example resolveResultParameterName('/platform/{recipe}/{architecture}/snapshot-id', 'web', 'arm64') // '/platform/web/arm64/snapshot-id'
 */
export const resolveResultParameterName = (template: string, recipe: string, architecture: Architecture): string =>
  template.replaceAll('{recipe}', recipe).replaceAll('{architecture}', architecture);

/** The template with each placeholder as an IAM wildcard: the resource `ssm:PutParameter` is granted on. */
export const resultParameterWildcard = (template: string): string => template.replaceAll('{recipe}', '*').replaceAll('{architecture}', '*');

/** Why `template` cannot name a parameter, or undefined when it can. Checked at synth (infra/config.ts). */
export const resultParameterNameProblem = (template: string): string | undefined => {
  const unknown = [...template.matchAll(/\{[^}]*\}?/g)].map((m) => m[0]).filter((p) => !(RESULT_PARAMETER_PLACEHOLDERS as readonly string[]).includes(p));
  if (unknown.length > 0) return `unknown placeholder ${unknown.map((p) => `"${p}"`).join(', ')}: the placeholders are {recipe} and {architecture}`;
  const name = resolveResultParameterName(template, LONGEST.recipe, LONGEST.architecture as Architecture);
  if (!name.startsWith('/')) return 'expected a parameter path starting with "/", e.g. /platform/bottlerocket/{recipe}/{architecture}/snapshot-id';
  if (!/^[A-Za-z0-9_.\-/]+$/.test(name)) return 'expected only the characters Parameter Store accepts in names: a-z A-Z 0-9 _ . - and /';
  if (/^\/(aws|ssm)/i.test(name)) return 'names starting with /aws or /ssm are reserved by AWS';
  if (name.startsWith('/snapshot-factory/')) return 'the /snapshot-factory/ prefix holds the factory\'s own parameters (the skip check reads them): choose another path';
  if (name.split('/').slice(1).some((level) => level === '')) return 'expected no empty path level (no "//" and no trailing "/")';
  if (name.split('/').length - 1 > RESULT_PARAMETER_MAX_LEVELS) return `expected at most ${RESULT_PARAMETER_MAX_LEVELS} hierarchy levels`;
  if (name.length > RESULT_PARAMETER_MAX_LENGTH) {
    return `expected at most ${RESULT_PARAMETER_MAX_LENGTH} characters with a 48-character recipe name (Parameter Store's limit of 1011 includes the ARN prefix)`;
  }
  return undefined;
};

/**
 * The result parameter names of one execution's snapshots, by build: for each architecture a snapshot serves (a
 * combined snapshot serves both), the resolved name, once. A name two different snapshots resolve to (a template
 * without `{architecture}` and an execution started by hand with several per-architecture builds) is left out
 * and returned in `conflicts`: the factory never lets one snapshot silently overwrite another.
 */
export const resultParameterNames = (
  template: string | undefined,
  recipe: string,
  servedArchitectures: readonly (readonly Architecture[])[],
): { names: string[][]; conflicts: string[] } => {
  if (!template) return { names: servedArchitectures.map(() => []), conflicts: [] };
  const perBuild = servedArchitectures.map((architectures) => [...new Set(architectures.map((a) => resolveResultParameterName(template, recipe, a)))]);
  const counts = new Map<string, number>();
  for (const name of perBuild.flat()) counts.set(name, (counts.get(name) ?? 0) + 1);
  const conflicts = [...counts].filter(([, count]) => count > 1).map(([name]) => name);
  return { names: perBuild.map((names) => names.filter((name) => !conflicts.includes(name))), conflicts };
};
