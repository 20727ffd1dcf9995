/**
 * Recipes end to end in the local simulation: the real state machine (C's harness) with every real handler,
 * the simulated AWS account, simulated public registries (no lookup reaches the internet), virtual time.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { NO_LEFTOVERS } from '../../simulation/after-execution';
import { useRegistryLookup } from '../../functions/lib/digests';
import { handler as startBuild, type StartBuildOutput } from '../../functions/start-build';
import { createSimulatedAccount, type SimulatedAccount } from '../../simulation/aws/account';
import { installSimulatedAws } from '../../simulation/aws/install';
import { SimulatedRegistries } from '../../simulation/registries';
import { runSimulation, type SimulationReport } from '../../simulation/run-state-machine';

const NGINX = 'public.ecr.aws/docker/library/nginx:1.27';
const PYTHON = 'docker.io/library/python:3.12';
const INPUT = { recipe: 'nightly', images: [NGINX, PYTHON], architectures: ['x86_64', 'arm64'] };

const runInstances = (account: SimulatedAccount) => account.core.callsOf('ec2', 'RunInstances').length;
const entered = (report: SimulationReport) => report.events.filter((e) => e.type === 'StateEntered').map((e) => e.state);
const currentId = (account: SimulatedAccount, architecture: string) => account.parameters.parameters.get(`/snapshot-factory/nightly/${architecture}/snapshot-id`)?.Value;

/** A first build, so the recipe has current snapshots. */
const firstBuild = async () => {
  const account = createSimulatedAccount();
  const registries = new SimulatedRegistries();
  registries.push(NGINX);
  registries.push(PYTHON);
  const report = await runSimulation({ input: INPUT, executionName: 'nightly-first', account, registries });
  expect(report).toMatchObject({ status: 'SUCCEEDED', output: { status: 'BUILT' } });
  return { account, registries, first: report };
};

describe('skip when unchanged, in the simulation', () => {
  it('an unchanged nightly run launches no instance and ends UP_TO_DATE with the current snapshot IDs', async () => {
    // Prepare
    const { account, registries, first } = await firstBuild();
    const launchesBefore = runInstances(account);
    // Act
    const report = await runSimulation({ input: INPUT, executionName: 'nightly-20260106-unchanged', account, registries });
    // Assess
    expect(report.status).toBe('SUCCEEDED');
    expect(report.output).toMatchObject({ status: 'UP_TO_DATE', builds: [], current: [{ architecture: 'x86_64', snapshotId: currentId(account, 'x86_64') }, { architecture: 'arm64', snapshotId: currentId(account, 'arm64') }] });
    expect(runInstances(account)).toBe(launchesBefore);
    expect(entered(report)).toEqual(['PrepareBuild', 'IsUpToDate', 'AlreadyUpToDate']);
    expect(report.stateTransitions).toBe(3);
    expect(report.invocationsByFunction).toEqual({ 'prepare-build': 1 });
    console.info(
      `unchanged nightly: ${report.stateTransitions} state transitions, ${report.lambdaInvocations} Lambda invocation, ` +
        `${report.durationMs / 1000} s virtual; first build: ${first.stateTransitions} transitions, ${first.durationMs / 1000} s virtual`,
    );
  }, 60_000);

  it('one changed image rebuilds and publishes new current snapshots', async () => {
    const { account, registries } = await firstBuild();
    const before = { x86_64: currentId(account, 'x86_64'), arm64: currentId(account, 'arm64') };
    registries.push(PYTHON); // a new image behind the same tag

    const report = await runSimulation({ input: INPUT, executionName: 'nightly-changed', account, registries });

    expect(report).toMatchObject({ status: 'SUCCEEDED', output: { status: 'BUILT' } });
    expect(currentId(account, 'x86_64')).not.toBe(before.x86_64);
    expect(currentId(account, 'arm64')).not.toBe(before.arm64);
    expect(report.invocationsByFunction['launch-instance']).toBe(2);
    expect(report.leftovers).toEqual(NO_LEFTOVERS);
  }, 60_000);

  it('force rebuilds although nothing changed', async () => {
    const { account, registries } = await firstBuild();
    const launchesBefore = runInstances(account);

    const report = await runSimulation({ input: { ...INPUT, force: true }, executionName: 'nightly-forced', account, registries });

    expect(report).toMatchObject({ status: 'SUCCEEDED', output: { status: 'BUILT' } });
    expect(runInstances(account)).toBeGreaterThan(launchesBefore);
    const prepared = report.events.find((e) => e.type === 'StateEntered' && e.state === 'IsUpToDate')?.input as { plan: { reason: string } };
    expect(prepared.plan.reason).toBe('FORCED');
  }, 60_000);
});

describe('ECR push trigger, in the simulation', () => {
  const STATE_MACHINE_ARN = 'arn:aws:states:us-west-2:111122223333:stateMachine:snapshot-factory';
  afterEach(() => {
    vi.unstubAllEnvs();
    vi.useRealTimers();
  });

  it('ten identical push events start one build, which publishes; a push to an unwatched repository starts none', async () => {
    // Prepare
    const account = createSimulatedAccount();
    const registries = new SimulatedRegistries();
    registries.push(NGINX);
    const image = account.ecr.pushImage('team/model', 'v7', { platforms: ['linux/amd64', 'linux/arm64'] });
    const other = account.ecr.pushImage('team/unwatched', 'v1');
    const model = `${account.core.accountId}.dkr.ecr.${account.core.region}.amazonaws.com/team/model:v7`;
    vi.stubEnv('RECIPES', JSON.stringify([{ name: 'model', images: [model, NGINX], architectures: ['x86_64', 'arm64'], watchRepositories: ['team/model'] }]));
    vi.stubEnv('STATE_MACHINE_ARN', STATE_MACHINE_ARN);
    const restore = [installSimulatedAws(account.core), useRegistryLookup(registries.lookup)];
    let outputs: StartBuildOutput[];
    let unwatched: StartBuildOutput;
    try {
      // Act
      const event = account.ecr.pushEvent('team/model', 'v7', image.digest);
      outputs = (await Promise.all(Array.from({ length: 10 }, () => startBuild(structuredClone(event))))) as StartBuildOutput[];
      unwatched = (await startBuild(account.ecr.pushEvent('team/unwatched', 'v1', other.digest))) as StartBuildOutput;
    } finally {
      for (const undo of restore) undo();
    }
    // Assess
    const executions = [...account.sfn.executions.values()];
    expect(executions).toHaveLength(1);
    expect(unwatched.started).toEqual([]);
    expect(new Set(outputs.map((o) => o.started[0]?.executionArn))).toEqual(new Set([executions[0]!.executionArn]));

    const execution = executions[0]!;
    const report = await runSimulation({ input: JSON.parse(execution.input), executionName: execution.name, account, registries });
    account.sfn.finish(execution.executionArn, { output: report.output });
    expect(report).toMatchObject({ status: 'SUCCEEDED', output: { status: 'BUILT', recipe: 'model' } });
    expect(account.events.ofType('Snapshot Ready').map((e) => (e.detail as { architecture: string }).architecture).sort()).toEqual(['arm64', 'x86_64']);
  }, 60_000);
  it('triggers either side of midnight start one build; after it FAILED a re-trigger builds the same digest set, once', async () => {
    // Prepare
    const account = createSimulatedAccount();
    const registries = new SimulatedRegistries();
    registries.push(NGINX);
    const image = account.ecr.pushImage('team/model', 'v7', { platforms: ['linux/amd64', 'linux/arm64'] });
    const model = `${account.core.accountId}.dkr.ecr.${account.core.region}.amazonaws.com/team/model:v7`;
    vi.stubEnv('RECIPES', JSON.stringify([{ name: 'model', images: [model, NGINX], architectures: ['x86_64', 'arm64'], watchRepositories: ['team/model'] }]));
    vi.stubEnv('STATE_MACHINE_ARN', STATE_MACHINE_ARN);
    const trigger = async (event: unknown, at: string) => {
      vi.setSystemTime(new Date(at));
      const restore = [installSimulatedAws(account.core), useRegistryLookup(registries.lookup)];
      try {
        return ((await startBuild(event)) as StartBuildOutput).started[0]!;
      } finally {
        for (const undo of restore) undo();
      }
    };
    const push = account.ecr.pushEvent('team/model', 'v7', image.digest);
    const nightly = { source: 'schedule', recipe: 'model' };
    // Act 1: a push just before midnight, the nightly run just after it; the build fails (the pull is refused).
    const beforeMidnight = await trigger(push, '2026-11-24T23:59:30Z');
    const afterMidnight = await trigger(nightly, '2026-11-25T00:00:30Z');
    const failing = account.sfn.executions.get(beforeMidnight.executionArn)!;
    account.ssmCommands.nextCommandFails('ctr: failed to copy: unexpected status code 503 Service Unavailable');
    const failed = await runSimulation({ input: JSON.parse(failing.input), executionName: failing.name, account, registries });
    account.sfn.finish(failing.executionArn, { status: 'FAILED', error: failed.error, cause: failed.cause });
    // Act 2: the next trigger of the same digest set.
    const retry = await trigger(push, '2026-11-25T01:00:00Z');
    const retrying = account.sfn.executions.get(retry.executionArn)!;
    const built = await runSimulation({ input: JSON.parse(retrying.input), executionName: retrying.name, account, registries });
    account.sfn.finish(retrying.executionArn, { output: built.output });
    const afterSuccess = await trigger(nightly, '2026-11-26T00:00:30Z');
    // Assess
    expect(afterMidnight).toMatchObject({ executionArn: beforeMidnight.executionArn, alreadyStarted: true });
    expect(failed.status).toBe('FAILED');
    expect(failed.leftovers).toEqual(NO_LEFTOVERS);
    expect(retry).toMatchObject({ executionName: beforeMidnight.executionName.replace(/-1$/, '-2'), alreadyStarted: false, digestSet: beforeMidnight.digestSet });
    expect(built).toMatchObject({ status: 'SUCCEEDED', output: { status: 'BUILT', recipe: 'model' } });
    expect(built.leftovers).toEqual(NO_LEFTOVERS);
    expect(afterSuccess).toMatchObject({ executionArn: retry.executionArn, alreadyStarted: true });
    // The harness also records each run under the deployed state machine (for the reaper): only the triggers' count here.
    expect([...account.sfn.executions.values()].filter((e) => e.stateMachineArn === STATE_MACHINE_ARN).map((e) => [e.name, e.status])).toEqual([
      [beforeMidnight.executionName, 'FAILED'],
      [retry.executionName, 'SUCCEEDED'],
    ]);
  }, 120_000);
});
