/**
 * Every deployment the documentation shows, synthesized as `cdk synth` would (cdk.json's context with the example's
 * settings, cdk-nag's AwsSolutions checks on), and cfn-lint over those templates and the default one. Without
 * bundling (its output is not what these check), one synth per distinct settings, cached across files and runs
 * (test/infra/template-cache.ts).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { executionInputSchema } from '../../functions/prepare-build';
import { CONTEXT_KEY } from '../../infra/config';
import { FALSE_POSITIVES, cachedCfnLint, cfnLintVersion, type CfnLintFinding } from './cfn-lint';
import { SETTINGS_BLOCK_INFO, examplesOf, settingsExamples } from './doc-examples';
import { cdkJsonContext } from './synthesized';
import { templateOfContext, type TemplateJson } from './template-cache';

type Template = TemplateJson;

const scratch = mkdtempSync(join(tmpdir(), 'templates-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const synthesized = new Map<string, Template>();
/** The template of a deployment with these settings (cdk.json's other context kept): shared with other files and runs (template-cache.ts). */
const templateWith = (settings: Record<string, unknown>): Template => {
  const key = JSON.stringify(settings);
  let template = synthesized.get(key);
  if (!template) {
    // Synthesis runs cdk-nag and throws on any unacknowledged finding; only a template that passed is cached.
    template = templateOfContext({ ...cdkJsonContext(), [CONTEXT_KEY]: settings });
    synthesized.set(key, template);
  }
  return template;
};

const examples = settingsExamples();

describe('settings examples of the documentation', () => {
  it('finds the examples of configuration, recipes and deploy docs', () => {
    const documents = new Set(examples.map((example) => example.where.split(':')[0]));
    expect([...documents]).toEqual(expect.arrayContaining(['docs/configuration.md', 'docs/recipes.md', 'docs/deploy.md']));
    // Recipes with a schedule and with ECR watches are among them.
    const recipes = examples.flatMap((example) => (example.settings?.recipes as Array<Record<string, unknown>> | undefined) ?? []);
    expect(recipes.some((recipe) => recipe.schedule)).toBe(true);
    expect(recipes.some((recipe) => Array.isArray(recipe.watchRepositories) && recipe.watchRepositories.length > 0)).toBe(true);
  });

  it.each(examples.map((example) => [example.where, example] as const))('%s synthesizes under cdk-nag', (where, example) => {
    if (example.problem) throw new Error(`${where}: ${example.problem}`);
    try {
      templateWith(example.settings!);
    } catch (error) {
      throw new Error(`${where}: the example does not synthesize:\n${(error as Error).message}`, { cause: error });
    }
    // Synth takes a recipe's overrides as they are; prepare-build checks them per execution, as start-build sends
    // them (functions/start-build.ts: the overrides, then the recipe's own fields): check them now.
    for (const recipe of (example.settings!.recipes as Array<Record<string, unknown>> | undefined) ?? []) {
      const { name, images, architectures, layout, overrides } = recipe;
      const input = { ...(overrides as object | undefined), recipe: name, images, ...(architectures ? { architectures } : {}), ...(layout ? { layout } : {}) };
      const result = executionInputSchema.safeParse(input);
      expect(result.error?.issues ?? [], `${where}: recipe ${String(name)}'s overrides are not a valid execution input`).toEqual([]);
    }
  });
});

describe('reading settings examples', () => {
  it('reads each form a marked block may take, and every -c on a command line', () => {
    const settings = { dataVolume: { sizeGiB: 200 } };
    const markdown = [
      `\`\`\`${SETTINGS_BLOCK_INFO}`, JSON.stringify({ context: { snapshotFactory: settings } }), '```',
      `\`\`\`${SETTINGS_BLOCK_INFO}`, `"snapshotFactory": ${JSON.stringify(settings)}`, '```',
      `\`\`\`${SETTINGS_BLOCK_INFO}`, JSON.stringify(settings), '```',
      "Run `npx cdk deploy -c snapshotFactory='{\"logLevel\":\"DEBUG\"}'`.",
    ].join('\n');

    const found = examplesOf('x.md', markdown);

    expect(found).toEqual([
      { where: 'x.md:1 (settings block 1)', settings },
      { where: 'x.md:4 (settings block 2)', settings },
      { where: 'x.md:7 (settings block 3)', settings },
      { where: 'x.md:10 (-c snapshotFactory=...)', settings: { logLevel: 'DEBUG' } },
    ]);
  });

  it('leaves other blocks alone', () => {
    const markdown = ['```json', '{ "source": ["snapshot-factory"] }', '```', '```bash', 'npx cdk deploy', '```'].join('\n');

    expect(examplesOf('x.md', markdown)).toEqual([]);
  });

  it('fails when a json block holds settings without the marker, or a marked block is not JSON', () => {
    const markdown = ['```json', '{ "snapshotFactory": {} }', '```', `\`\`\`${SETTINGS_BLOCK_INFO}`, '{ "recipes": [', '```'].join('\n');

    const [unmarked, broken] = examplesOf('x.md', markdown);

    expect(unmarked).toEqual({ where: 'x.md:1', problem: expect.stringContaining(`info string is not "${SETTINGS_BLOCK_INFO}"`) });
    expect(broken).toEqual({ where: 'x.md:4 (settings block 1)', problem: expect.stringContaining('not readable as factory settings') });
  });
});

describe('cfn-lint', () => {
  const describeFinding = (finding: CfnLintFinding, name: string) =>
    `${name}: ${finding.Rule.Id} ${finding.Location.Path.join('/')}: ${finding.Message}`;

  it('is installed (cfn-lint 1.x, whose JSON output this reads)', async () => {
    expect(await cfnLintVersion()).toMatch(/^cfn-lint 1\.\d+\.\d+/);
  });

  it('finds nothing in the default and every documented deployment but its own listed false positives', async () => {
    const deployments: Array<[string, Record<string, unknown>]> = [
      ['cdk.json', cdkJsonContext()[CONTEXT_KEY] as Record<string, unknown>],
      ...examples.filter((example) => example.settings).map((example) => [example.where, example.settings!] as [string, Record<string, unknown>]),
    ];
    const files = new Map<string, { name: string; template: Template }>();
    for (const [name, settings] of deployments) {
      const template = templateWith(settings);
      const file = join(scratch, `deployment-${[...synthesized.keys()].indexOf(JSON.stringify(settings))}.template.json`);
      if (!files.has(file)) {
        writeFileSync(file, JSON.stringify(template, null, 1));
        files.set(file, { name, template });
      }
    }

    const findings = await cachedCfnLint([...files.keys()]);

    const unexplained = findings.filter((finding) => {
      const { template } = files.get(finding.Filename)!;
      return !FALSE_POSITIVES.some((known) => known.matches(finding, template));
    });
    expect(unexplained.map((finding) => describeFinding(finding, files.get(finding.Filename)!.name))).toEqual([]);
  }, 300_000); // cold: one cfn-lint run over every template, minutes on a loaded 2-core machine; warm: cached (cfn-lint.ts)

  it('accepts its Succeed-state false positive on a Succeed state only', () => {
    const definition = { StartAt: 'A', States: { A: { Type: 'Pass', OutputPath: '$.x', Next: 'B' }, B: { Type: 'Succeed', OutputPath: '$.x' } } };
    const template: Template = { Resources: { Machine: { Type: 'AWS::StepFunctions::StateMachine', Properties: { DefinitionString: JSON.stringify(definition) } } } };
    const finding = (state: string): CfnLintFinding => ({
      Filename: 'x',
      Level: 'Error',
      Message: `Additional properties are not allowed ('OutputPath' was unexpected) at 'States/${state}/OutputPath'`,
      Rule: { Id: 'E3601' },
      Location: { Path: ['Resources', 'Machine', 'Properties', 'DefinitionString', 'States', state, 'OutputPath'], Start: { LineNumber: 1 } },
    });

    const [succeedState] = FALSE_POSITIVES;

    expect(succeedState!.matches(finding('B'), template)).toBe(true);
    expect(succeedState!.matches(finding('A'), template)).toBe(false);
    expect(succeedState!.matches({ ...finding('B'), Rule: { Id: 'E3012' } }, template)).toBe(false);
  });
});
