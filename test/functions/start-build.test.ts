import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { useRegistryLookup } from '../../functions/lib/digests';
import type { RecipeSettings } from '../../functions/lib/recipes';
import { handler as startBuild, type StartBuildOutput } from '../../functions/start-build';
import { createSimulatedAccount, type SimulatedAccount } from '../../simulation/aws/account';
import { installSimulatedAws } from '../../simulation/aws/install';
import { SimulatedRegistries } from '../../simulation/registries';

const STATE_MACHINE_ARN = 'arn:aws:states:us-west-2:111122223333:stateMachine:snapshot-factory';
const PUBLIC = 'public.ecr.aws/docker/library/python:3.12';

let account: SimulatedAccount;
let registries: SimulatedRegistries;
let restore: (() => void)[] = [];
let modelReference: string;

const RECIPES = (): RecipeSettings[] => [
  { name: 'ml', images: [modelReference, PUBLIC], architectures: ['x86_64', 'arm64'], watchRepositories: ['team/model'], overrides: { dataVolume: { sizeGiB: 80 } } },
  { name: 'web', images: [PUBLIC] },
];

const start = async (event: unknown) => (await startBuild(event)) as StartBuildOutput;
const executions = () => [...account.sfn.executions.values()];

beforeEach(() => {
  vi.useFakeTimers({ now: new Date('2026-11-24T03:00:00Z') });
  account = createSimulatedAccount();
  registries = new SimulatedRegistries();
  registries.push(PUBLIC);
  account.ecr.pushImage('team/model', 'v1', { platforms: ['linux/amd64', 'linux/arm64'] });
  account.ecr.pushImage('team/other', 'v1');
  modelReference = `${account.core.accountId}.dkr.ecr.${account.core.region}.amazonaws.com/team/model:v1`;
  vi.stubEnv('RECIPES', JSON.stringify(RECIPES()));
  vi.stubEnv('STATE_MACHINE_ARN', STATE_MACHINE_ARN);
  restore = [installSimulatedAws(account.core), useRegistryLookup(registries.lookup)];
});

afterEach(() => {
  for (const undo of restore) undo();
  vi.unstubAllEnvs();
  vi.useRealTimers();
});

describe('start-build', () => {
  it('starts one build for a burst of ten identical ECR push events', async () => {
    // Prepare
    const image = account.ecr.pushImage('team/model', 'v1', { platforms: ['linux/amd64', 'linux/arm64'] });
    const event = account.ecr.pushEvent('team/model', 'v1', image.digest);
    // Act
    const outputs = await Promise.all(Array.from({ length: 10 }, () => start(structuredClone(event))));
    // Assess
    expect(executions()).toHaveLength(1);
    expect(new Set(outputs.map((o) => o.started[0]?.executionName))).toEqual(new Set([executions()[0]!.name]));
    // Each probed attempt 1 first; those that found it unknown raced to StartExecution, idempotent while it runs.
    expect(account.core.callsOf('sfn', 'DescribeExecution').length).toBeGreaterThanOrEqual(10);
    expect(account.core.callsOf('sfn', 'StartExecution').every((c) => !c.error)).toBe(true);
    expect(JSON.parse(executions()[0]!.input)).toEqual({
      dataVolume: { sizeGiB: 80 },
      recipe: 'ml',
      images: [modelReference, PUBLIC],
      architectures: ['x86_64', 'arm64'],
      layout: 'per-architecture',
      force: false,
    });
  });

  it('starts none for a push to an unwatched repository', async () => {
    const image = account.ecr.pushImage('team/other', 'v2');

    const output = await start(account.ecr.pushEvent('team/other', 'v2', image.digest));

    expect(output).toEqual({ started: [], ignored: 'no recipe watches repository team/other' });
    expect(account.core.callsOf('sfn', 'StartExecution')).toHaveLength(0);
  });

  it('starts none for a failed push', async () => {
    const event = account.ecr.pushEvent('team/model', 'v1', 'sha256:0') as { detail: Record<string, string> };
    event.detail.result = 'FAILURE';

    expect((await start(event)).started).toEqual([]);
    expect(account.core.callsOf('sfn', 'StartExecution')).toHaveLength(0);
  });

  it('starts none when the push rule input names a repository the recipe does not watch', async () => {
    expect((await start({ source: 'ecr-push', recipe: 'ml', repositoryName: 'team/other' })).started).toEqual([]);
  });

  it('names the execution after the recipe, the digest set and the attempt, so a changed image starts a new build', async () => {
    const first = await start({ source: 'ecr-push', recipe: 'ml', repositoryName: 'team/model' });
    account.ecr.pushImage('team/model', 'v1', { platforms: ['linux/amd64', 'linux/arm64'] });

    const second = await start({ source: 'ecr-push', recipe: 'ml', repositoryName: 'team/model' });

    expect(first.started[0]?.executionName).toBe(`ml-${first.started[0]?.digestSet.slice(7, 23)}-1`);
    expect(second.started[0]?.executionName).toMatch(/^ml-[0-9a-f]{16}-1$/);
    expect(second.started[0]?.executionName).not.toBe(first.started[0]?.executionName);
    expect(executions()).toHaveLength(2);
  });

  it('starts one build for identical triggers either side of UTC midnight', async () => {
    // Prepare
    vi.setSystemTime(new Date('2026-11-24T23:59:50Z'));
    const before = await start({ source: 'schedule', recipe: 'web' });
    // Act
    vi.setSystemTime(new Date('2026-11-25T00:00:10Z'));
    const after = await start({ source: 'ecr-push', recipe: 'web' });
    // Assess
    expect(executions()).toHaveLength(1);
    expect(after.started[0]).toMatchObject({ executionName: before.started[0]?.executionName, executionArn: before.started[0]?.executionArn, alreadyStarted: true });
  });

  it.each(['FAILED', 'TIMED_OUT', 'ABORTED'] as const)('starts the next attempt after the build of the same digest set ended %s', async (status) => {
    // Prepare
    const first = await start({ source: 'schedule', recipe: 'web' });
    account.sfn.finish(first.started[0]!.executionArn, { status, error: 'PullFailedError' });
    // Act
    const retry = await start({ source: 'ecr-push', recipe: 'web' });
    const again = await start({ source: 'ecr-push', recipe: 'web' });
    // Assess
    expect(retry.started[0]).toMatchObject({ executionName: first.started[0]!.executionName.replace(/-1$/, '-2'), alreadyStarted: false });
    expect(again.started[0]).toMatchObject({ executionName: retry.started[0]?.executionName, alreadyStarted: true });
    expect(executions().map((e) => e.status)).toEqual([status, 'RUNNING']);
  });

  it('answers "already started" with the succeeded build while it is the recipe\'s latest success', async () => {
    const first = await start({ source: 'ecr-push', recipe: 'ml' });
    account.sfn.finish(first.started[0]!.executionArn, { output: { status: 'BUILT' } });
    vi.setSystemTime(new Date('2026-11-26T03:00:00Z'));

    const again = await start({ source: 'schedule', recipe: 'ml' });

    expect(again.started[0]).toMatchObject({ executionName: first.started[0]?.executionName, executionArn: first.started[0]?.executionArn, alreadyStarted: true });
    expect(executions()).toHaveLength(1);
    expect(account.core.callsOf('sfn', 'StartExecution')).toHaveLength(1);
  });

  it('builds again when the images roll back to a set whose build was superseded by a later success', async () => {
    const v1 = { platforms: ['linux/amd64', 'linux/arm64'], seed: 'model v1' };
    account.ecr.pushImage('team/model', 'v1', v1);
    const first = await start({ source: 'ecr-push', recipe: 'ml' });
    account.sfn.finish(first.started[0]!.executionArn, { output: { status: 'BUILT' } });
    vi.advanceTimersByTime(3_600_000);
    account.ecr.pushImage('team/model', 'v1', { platforms: ['linux/amd64', 'linux/arm64'], seed: 'model v2' });
    const second = await start({ source: 'ecr-push', recipe: 'ml' });
    account.sfn.finish(second.started[0]!.executionArn, { output: { status: 'BUILT' } });
    vi.advanceTimersByTime(3_600_000);
    account.ecr.pushImage('team/model', 'v1', v1); // rollback

    const rollback = await start({ source: 'ecr-push', recipe: 'ml' });

    expect(rollback.started[0]).toMatchObject({ digestSet: first.started[0]?.digestSet, executionName: first.started[0]!.executionName.replace(/-1$/, '-2'), alreadyStarted: false });
    expect(executions()).toHaveLength(3);
  });

  it('starts attempt 1 again once Step Functions has forgotten the failed one (90 days after it closed)', async () => {
    const first = await start({ source: 'schedule', recipe: 'web' });
    account.sfn.finish(first.started[0]!.executionArn, { error: 'PullFailedError' });
    vi.advanceTimersByTime(91 * 24 * 3_600_000);

    const later = await start({ source: 'schedule', recipe: 'web' });

    expect(later.started[0]).toMatchObject({ executionName: first.started[0]?.executionName, alreadyStarted: false });
  });

  it('starts every forced build, naming it with the time', async () => {
    const first = await start({ source: 'manual', recipe: 'web', force: true });
    vi.advanceTimersByTime(60_000);
    const second = await start({ source: 'manual', recipe: 'web', force: true });

    expect(first.started[0]?.executionName).toBe(`web-f20261124030000-${first.started[0]?.digestSet.slice(7, 19)}`);
    expect(second.started[0]?.executionName).toMatch(/^web-f20261124030100-[0-9a-f]{12}$/);
    expect(executions()).toHaveLength(2);
    expect(JSON.parse(executions()[0]!.input)).toMatchObject({ force: true });
  });

  it('keeps the longest names within 80 characters', async () => {
    const name = 'r'.repeat(48);
    vi.stubEnv('RECIPES', JSON.stringify([{ name, images: [PUBLIC] }]));

    const names = [
      (await start({ source: 'schedule', recipe: name })).started[0]!.executionName,
      (await start({ source: 'manual', recipe: name, force: true })).started[0]!.executionName,
    ];

    expect(names.map((n) => n.length)).toEqual([67, 77]);
    for (const n of names) expect(n).toMatch(/^[A-Za-z0-9_-]{1,80}$/);
  });

  it('uses the recipe sent in the trigger input without needing RECIPES', async () => {
    vi.stubEnv('RECIPES', '');

    const output = await start({ source: 'schedule', recipe: 'solo', definition: { name: 'solo', images: [PUBLIC], architectures: ['arm64'] } });

    expect(output.started[0]?.executionName).toMatch(/^solo-[0-9a-f]{16}-1$/);
    expect(JSON.parse(executions()[0]!.input)).toMatchObject({ recipe: 'solo', images: [PUBLIC], architectures: ['arm64'] });
  });

  it('fails when the recipe is not configured', async () => {
    await expect(start({ source: 'schedule', recipe: 'nope' })).rejects.toMatchObject({ name: 'InvalidInputError', message: expect.stringContaining('"nope" is not configured (known: ml, web)') });
  });

  it('fails with ImageNotFoundError and starts nothing when a recipe image does not exist', async () => {
    vi.stubEnv('RECIPES', JSON.stringify([{ name: 'bad', images: ['quay.io/team/missing:v1'] }]));

    await expect(start({ source: 'schedule', recipe: 'bad' })).rejects.toMatchObject({ name: 'ImageNotFoundError' });
    expect(account.core.callsOf('sfn', 'StartExecution')).toHaveLength(0);
  });
});
