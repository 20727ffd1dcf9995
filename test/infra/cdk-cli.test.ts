/**
 * The real `npx cdk synth`, as a fresh clone runs it: empty environment (no AWS credentials, no region,
 * no profile), a throw-away HOME, cdk.json's settings, cdk-nag on.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const scratch = mkdtempSync(join(tmpdir(), 'cdk-cli-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

it('synthesizes with `npx cdk synth` and no AWS credentials', async () => {
  const home = join(scratch, 'home');
  const out = join(scratch, 'cdk.out');
  // `-c @aws-cdk/core.slowSynthThreshold=0`: the app writes performance-counters.json only for a synth slower than
  // that threshold per stack, 10 s by default (node_modules/aws-cdk-lib/core/lib/app.js: shouldReportSlowSynth,
  // DEFAULT_SLOW_SYNTH_PER_STACK_THRESHOLD_MS, emitPerformanceCountersFile), so without it the file exists on a loaded
  // machine and not on an idle one. The context key changes nothing else.
  const { stderr } = await promisify(execFile)('npx', ['cdk', 'synth', '--quiet', '--output', out, '-c', '@aws-cdk/core.slowSynthThreshold=0'], {
    cwd: root,
    env: { PATH: process.env.PATH, HOME: home },
    maxBuffer: 64 * 1024 * 1024,
    timeout: 180_000,
  });
  expect(stderr).not.toMatch(/AwsSolutions-/);
  // aws-cdk-lib's built-in template validation (@aws/cloudformation-validate) ran, here only (the other tests'
  // synths turn it off: vitest.config.ts), and found nothing: it prints "Template validation found issues" when it
  // does (node_modules/aws-cdk-lib/core/lib/private/synthesis-validation.js); the cloud assembly's
  // performance-counters.json counts its runs.
  const counters = JSON.parse(readFileSync(join(out, 'performance-counters.json'), 'utf8')) as { counters: Record<string, number> };
  expect(counters.counters['CloudFormationValidate.validate(cnt)']).toBeGreaterThanOrEqual(1);
  expect(stderr).not.toMatch(/Template validation found issues/);
  const template = JSON.parse(readFileSync(join(out, 'SnapshotFactory.template.json'), 'utf8'));
  const types = Object.values(template.Resources as Record<string, { Type: string }>).map((r) => r.Type);
  expect(types.filter((t) => t === 'AWS::StepFunctions::StateMachine')).toHaveLength(1);
  expect(types.filter((t) => t === 'AWS::Lambda::Function')).toHaveLength(22);
  expect(Object.keys(template.Outputs)).toEqual(expect.arrayContaining(['StateMachineArn', 'StartBuildCommand']));
}, 200_000);

it('takes the settings from `-c snapshotFactory=<json>` (a string on the command line), recipes included, clean under cdk-nag', async () => {
  // `cdk ls` runs the app like synth does but bundles nothing (the CLI bundles only for synth, deploy, diff...),
  // so this second run costs seconds, not the bundling of 22 functions.
  const settings = {
    dataVolume: { sizeGiB: 200 },
    recipes: [{ name: 'ml', images: ['public.ecr.aws/docker/library/python:3.12'], watchRepositories: ['ml/trainer'], schedule: { cron: 'cron(30 2 * * ? *)' } }],
  };
  const out = join(scratch, 'cdk.out.context');
  const { stdout } = await promisify(execFile)('npx', ['cdk', 'ls', '-c', `snapshotFactory=${JSON.stringify(settings)}`, '--output', out], {
    cwd: root,
    // The built-in template validation off (CDK_VALIDATION=false, as in the other tests' synths): the test above
    // runs it on a real synth, cfn-lint checks this recipe's kind of template (test/infra/templates.test.ts), and
    // it costs this run most of its CPU time. cdk-nag, which this test checks, runs either way.
    env: { PATH: process.env.PATH, HOME: join(scratch, 'home'), CDK_VALIDATION: 'false' },
    maxBuffer: 64 * 1024 * 1024,
    timeout: 120_000,
  });
  expect(stdout.trim()).toBe('SnapshotFactory');
  const report = JSON.parse(readFileSync(join(out, 'validation-report.json'), 'utf8')) as { pluginReports: { pluginName: string; conclusion: string; violations: unknown[] }[] };
  expect(report.pluginReports.map(({ pluginName, conclusion, violations }) => ({ pluginName, conclusion, violations }))).toEqual([
    { pluginName: 'AwsSolutions', conclusion: 'success', violations: [] },
  ]);
  const template = JSON.parse(readFileSync(join(out, 'SnapshotFactory.template.json'), 'utf8'));
  const resources = Object.values(template.Resources as Record<string, { Type: string; Properties: Record<string, unknown> }>);
  expect(resources.filter((r) => r.Type === 'AWS::Scheduler::Schedule').map((r) => r.Properties.ScheduleExpression)).toEqual(['cron(30 2 * * ? *)']);
  expect(resources.filter((r) => r.Type === 'AWS::Events::Rule').length).toBe(4); // the reaper's, the execution-ended cleanup's and failure notice's, and ml's ECR push rule
  const [prepareBuild] = resources.filter((r) => r.Type === 'AWS::Lambda::Function' && String(r.Properties.Description).includes('prepare-build'));
  expect(JSON.stringify(prepareBuild!.Properties.Environment)).toContain('\\"sizeGiB\\":200');
}, 150_000);
