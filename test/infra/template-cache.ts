/**
 * Synthesized templates shared by every infra test file and kept across runs: synthesis with cdk-nag costs seconds
 * per distinct configuration, and the same configurations are synthesized by several files and by every run.
 *
 * A template is cached under `.tmp/infra-templates/<key>.json`, the key a SHA-256 of the app's context and of
 * everything synthesis reads (simulation/deploy/template.ts `synthesisInputsHash`: infra/, functions/,
 * statemachine/, cdk.json, package-lock.json with the aws-cdk-lib and cdk-nag versions). Synthesis is deterministic
 * in those inputs, so a hit returns the very template a synthesis would. Only a synthesis that passed cdk-nag is
 * written: one that throws throws again on the next call. Without bundling (`aws:cdk:bundling-stacks: []`): what
 * these files check is the template, not the bundles (test/infra/bundles.test.ts and stack.test.ts check those).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createApp } from '../../infra/app';
import { synthesisInputsHash } from '../../simulation/deploy/template';

/** A synthesized template, as CloudFormation receives it. */
export type TemplateJson = { Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }> };

const ROOT = join(import.meta.dirname, '..', '..');
const CACHE_DIR = join(ROOT, '.tmp', 'infra-templates');

let inputsHash: string | undefined;
const memo = new Map<string, TemplateJson>();

/** JSON with object keys sorted, so equal contexts give one key whatever their key order. */
const canonical = (value: unknown): string =>
  JSON.stringify(value, (_key, field: unknown) =>
    field && typeof field === 'object' && !Array.isArray(field)
      ? Object.fromEntries(Object.entries(field as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)))
      : field,
  );

/**
 * The template of the app with `context` (infra/app.ts `createApp`, cdk-nag on; `app.synth()` throws on any
 * unacknowledged finding), memoized in the process and cached on disk across files and runs.
 *
 * @example templateOfContext({ ...cdkJsonContext(), snapshotFactory: { encrypted: false } }).Resources
 */
export const templateOfContext = (context: Record<string, unknown>): TemplateJson => {
  const unbundled = { ...context, 'aws:cdk:bundling-stacks': [] };
  inputsHash ??= synthesisInputsHash(ROOT);
  const key = createHash('sha256').update(inputsHash).update('\0').update(canonical(unbundled)).digest('hex').slice(0, 32);
  const known = memo.get(key);
  if (known) return known;
  const file = join(CACHE_DIR, `${key}.json`);
  let template: TemplateJson;
  if (existsSync(file)) {
    template = JSON.parse(readFileSync(file, 'utf8')) as TemplateJson;
  } else {
    const { app, stack } = createApp(unbundled);
    template = app.synth().getStackByName(stack.stackName).template as TemplateJson;
    mkdirSync(CACHE_DIR, { recursive: true });
    // Write then rename: files running in parallel may synthesize the same context; none reads half a file.
    const partial = `${file}.${process.pid}.partial`;
    writeFileSync(partial, JSON.stringify(template));
    renameSync(partial, file);
  }
  memo.set(key, template);
  return template;
};
