/**
 * Step Functions' quotas in the simulation harness (simulation/sfn-quotas.ts, simulation/execution-history.ts):
 * the 256 KiB payload quota with its uncatchable States.DataLimitExceeded, the 25,000-event history, and the
 * payload budget of the largest input the factory accepts.
 */
import { describe, expect, it } from 'vitest';
import { HISTORY_EVENT_LIMIT, type HistoryEvent } from '../../simulation/execution-history';
import { maximumInput } from '../../simulation/max-input';
import { runSimulation, type AslDefinition, type SimulationReport } from '../../simulation/run-state-machine';
import { PAYLOAD_LIMIT_BYTES } from '../../simulation/sfn-quotas';

const NGINX = 'public.ecr.aws/docker/library/nginx:1.27';
/** The budget docs/architecture.md promises: the largest payload at the maximum input stays at 60 % of the quota. */
const BUDGET_BYTES = Math.floor(PAYLOAD_LIMIT_BYTES * 0.6);

const mapStates = (definition: AslDefinition) => definition.States.BuildEachArchitecture.ItemProcessor.States;

/** Checks the invariants of any history: consecutive ids, links to earlier events, one start, one end. */
const expectWellFormed = (history: HistoryEvent[]) => {
  expect(history.map((e) => e.id)).toEqual(history.map((_, i) => i + 1));
  for (const event of history) expect(event.previousEventId).toBeLessThan(event.id);
  expect(history[0]?.type).toBe('ExecutionStarted');
  expect(history.filter((e) => e.type.startsWith('Execution') && e.type !== 'ExecutionStarted')).toHaveLength(1);
};

/** The history events Step Functions logs for the runner's events, counted independently of execution-history.ts. */
const expectedHistoryLength = (report: SimulationReport): number => {
  let count = 0;
  for (const event of report.events) {
    if (event.type === 'ExecutionStarted' || event.type === 'ExecutionSucceeded') count += 1;
    else if (event.type === 'MapIterationStarted' || event.type === 'MapIterationSucceeded') count += 1;
    else if (event.type === 'StateRetried') count += 2; // TaskScheduled, TaskStarted
    else if (event.type === 'StateFailed' && event.stateType === 'Task') count += 1; // TaskFailed
    else if (event.type === 'StateEntered') count += event.stateType === 'Task' ? 3 : event.stateType === 'Map' ? 2 : 1;
    else if (event.type === 'StateExited') count += event.stateType === 'Task' || event.stateType === 'Map' ? 2 : 1; // + TaskSucceeded / MapStateSucceeded
  }
  return count;
};

describe('the payload budget at the largest input', () => {
  it.each(['per-architecture', 'combined'] as const)('builds 100 of the longest tag references in the %s layout within 60 per cent of the payload quota', async (layout) => {
    // Prepare: tag references make prepare-build resolve an index and a manifest per platform for each.
    const input = maximumInput(layout, { pinned: false });
    // Act
    const report = await runSimulation({ input });
    // Assess
    expect(report.status, report.cause).toBe('SUCCEEDED');
    expect(report.largestPayload!.bytes).toBeLessThanOrEqual(BUDGET_BYTES);
    const output = report.output as { snapshots: { images: unknown[] }[] };
    expect(output.snapshots.reduce((n, s) => n + s.images.length, 0)).toBe(200);
  });

  it.each(['per-architecture', 'combined'] as const)('fails in prepare-build, before any launch, when 100 of the longest pinned references (520 characters) in the %s layout make a pull script too large for one SSM command', async (layout) => {
    // Prepare
    const input = maximumInput(layout, { pinned: true });
    // Act
    const report = await runSimulation({ input });
    // Assess: refused where the input is checked (issue 9, item 7), not after a builder was launched and waited for.
    expect({ status: report.status, error: report.error }).toEqual({ status: 'FAILED', error: 'InvalidInputError' });
    expect(report.cause).toMatch(/^prepare-build: the pull script of the x86_64 build for 100 images \(linux\/amd64.*\) is \d+ bytes, more than one SSM command carries/);
    expect(report.account.core.callsOf('ec2', 'RunInstances')).toHaveLength(0);
    expect(report.largestPayload!.bytes).toBeLessThanOrEqual(BUDGET_BYTES);
  });
});

describe('States.DataLimitExceeded', () => {
  it('fails the execution when a state output is over 256 KiB, and no States.ALL catch runs', async () => {
    // Prepare: the iteration's last state returns 300 KB; the Map catches States.ALL into CleanupExecution.
    const oversized = (definition: AslDefinition) => {
      mapStates(definition).BuildResult.Parameters.padding = 'x'.repeat(300_000);
      return definition;
    };
    // Act
    const report = await runSimulation({ input: { images: [NGINX] }, transformDefinition: oversized });
    // Assess
    expect(report).toMatchObject({
      status: 'FAILED',
      error: 'States.DataLimitExceeded',
      cause: "The state/task 'BuildResult' returned a result with a size exceeding the maximum number of bytes service limit.",
    });
    expect(report.invocationsByFunction['cleanup-build']).toBeUndefined();
    expect(report.events.some((e) => e.state === 'CleanupExecution' || e.state === 'PublishSnapshot')).toBe(false);
    expect(report.history.at(-1)).toMatchObject({ type: 'ExecutionFailed', executionFailedEventDetails: { error: 'States.DataLimitExceeded' } });
    expect(report.largestPayload).toMatchObject({ kind: 'state output', state: 'BuildResult' });
    expectWellFormed(report.history);
  });

  it("fails the execution when a Task's result, measured before ResultSelector, is over the quota", async () => {
    // Prepare: a 1 KiB quota; PrepareBuild's lambda:invoke result (plan + invoke metadata) is larger, its input is not.
    const quotas = { payloadLimitBytes: 1024 };
    // Act
    const report = await runSimulation({ input: { images: [NGINX] }, quotas });
    // Assess
    expect(report).toMatchObject({
      status: 'FAILED',
      error: 'States.DataLimitExceeded',
      cause: "The state/task 'PrepareBuild' returned a result with a size exceeding the maximum number of bytes service limit.",
    });
    expect(report.largestPayload).toMatchObject({ kind: 'task result', state: 'PrepareBuild' });
    expect(report.invocationsByFunction).toEqual({ 'prepare-build': 1 });
  });

  it('fails when a Task would be sent parameters over the quota, before its handler runs', async () => {
    // Prepare: LaunchInstance's Payload gets 300 KB of padding.
    const padded = (definition: AslDefinition) => {
      mapStates(definition).LaunchInstance.Parameters.Payload.padding = 'x'.repeat(300_000);
      return definition;
    };
    // Act
    const report = await runSimulation({ input: { images: [NGINX] }, transformDefinition: padded });
    // Assess
    expect(report).toMatchObject({
      status: 'FAILED',
      error: 'States.DataLimitExceeded',
      cause: "The state/task 'LaunchInstance' provided parameters with a size exceeding the maximum number of bytes service limit.",
    });
    expect(report.invocationsByFunction['launch-instance']).toBeUndefined();
    expect(report.account.ec2.liveInstances()).toHaveLength(0);
  });

  it('fails when the execution input is over the quota, as StartExecution refuses it', async () => {
    // Prepare
    const input = { images: [NGINX], padding: 'x'.repeat(PAYLOAD_LIMIT_BYTES) };
    // Act / Assess
    await expect(runSimulation({ input })).rejects.toMatchObject({ name: 'ExecutionInputTooLargeError' });
  });

  it('fails when a definition catches States.DataLimitExceeded by name, which the harness does not model', async () => {
    // Prepare
    const catching = (definition: AslDefinition) => {
      definition.States.BuildEachArchitecture.Catch[0].ErrorEquals = ['States.DataLimitExceeded', 'States.ALL'];
      return definition;
    };
    // Act / Assess
    await expect(runSimulation({ input: { images: [NGINX] }, transformDefinition: catching })).rejects.toThrow(/catches States.DataLimitExceeded explicitly/);
  });
});

describe('the execution history', () => {
  it('lists a normal build as GetExecutionHistory would, and reports its length', async () => {
    // Act
    const report = await runSimulation({ input: { images: [NGINX], architectures: ['x86_64', 'arm64'] } });
    // Assess
    expect(report.status).toBe('SUCCEEDED');
    expectWellFormed(report.history);
    expect(report.historyEvents).toBe(report.history.length);
    expect(report.historyEvents).toBe(expectedHistoryLength(report));
    expect(report.historyEvents).toBeGreaterThan(report.stateTransitions * 2);
    expect(report.historyEvents).toBeLessThan(HISTORY_EVENT_LIMIT / 10);
    const types = report.history.map((e) => e.type);
    expect(types.slice(0, 6)).toEqual(['ExecutionStarted', 'TaskStateEntered', 'TaskScheduled', 'TaskStarted', 'TaskSucceeded', 'TaskStateExited']);
    expect(types.filter((t) => t === 'MapIterationStarted')).toHaveLength(2);
    expect(types.at(-1)).toBe('ExecutionSucceeded');
    const scheduled = report.history.find((e) => e.type === 'TaskScheduled')!.taskScheduledEventDetails!;
    expect(scheduled).toMatchObject({ resourceType: 'lambda', resource: 'invoke' });
    expect(JSON.parse(scheduled.parameters)).toMatchObject({ Payload: { input: { images: [NGINX] } } });
    const succeeded = JSON.parse(report.history.find((e) => e.type === 'TaskSucceeded')!.taskSucceededEventDetails!.output);
    expect(succeeded).toMatchObject({ StatusCode: 200, ExecutedVersion: '$LATEST', Payload: { status: 'BUILD' } });
    // An iteration's events follow its MapIterationStarted; the Map's success follows the iterations'.
    const started = report.history.filter((e) => e.type === 'MapIterationStarted');
    for (const iteration of started) expect(report.history.find((e) => e.previousEventId === iteration.id)?.type).toBe('TaskStateEntered');
    const mapSucceeded = report.history.find((e) => e.type === 'MapStateSucceeded')!;
    expect(report.history[mapSucceeded.previousEventId - 1]?.type).toBe('MapIterationSucceeded');
  });

  it('records a retried Task as TaskFailed then TaskScheduled again, and a caught failure before the state exits', async () => {
    // Prepare: one throttle (retried), then a terminal AccessDenied at launch (caught, cleanup runs).
    const faults = ['throttle:ssm:GetParameters:1@PrepareBuild', 'access-denied:ec2:RunInstances'];
    // Act
    const report = await runSimulation({ input: { images: [NGINX] }, faults });
    // Assess
    expect(report.status).toBe('FAILED');
    expectWellFormed(report.history);
    const names = report.history.map((e) => `${e.type}:${e.stateEnteredEventDetails?.name ?? e.stateExitedEventDetails?.name ?? ''}`);
    const types = report.history.map((e) => e.type);
    expect(types.slice(1, 8)).toEqual(['TaskStateEntered', 'TaskScheduled', 'TaskStarted', 'TaskFailed', 'TaskScheduled', 'TaskStarted', 'TaskSucceeded']);
    const launchExit = names.indexOf('TaskStateExited:LaunchInstance');
    expect(types[launchExit - 1]).toBe('TaskFailed');
    expect(names).toContain('FailStateEntered:BuildFailed');
    expect(types.slice(names.indexOf('FailStateEntered:BuildFailed') + 1, names.indexOf('FailStateEntered:BuildFailed') + 4)).toEqual([
      'MapIterationFailed',
      'MapStateFailed',
      'MapStateExited',
    ]);
    expect(report.history.at(-1)).toMatchObject({ type: 'ExecutionFailed', executionFailedEventDetails: { error: report.error, cause: report.cause } });
  });

  it('ends a timed-out execution with ExecutionTimedOut, after the last event of any thread', async () => {
    // Prepare: a 60 s execution time limit, shorter than any build.
    const shortLimit = (definition: AslDefinition) => ({ ...definition, TimeoutSeconds: 60 });
    // Act
    const report = await runSimulation({ input: { images: [NGINX] }, transformDefinition: shortLimit });
    // Assess
    expect(report.status).toBe('TIMED_OUT');
    expectWellFormed(report.history);
    const last = report.history.at(-1)!;
    expect(last).toMatchObject({ type: 'ExecutionTimedOut', previousEventId: last.id - 1, executionTimedOutEventDetails: { error: 'States.Timeout' } });
  });

  it('fails the execution with States.Runtime when its history reaches the quota', async () => {
    // Prepare: a quota of 60 events, far below what one build logs.
    const quotas = { historyEventLimit: 60 };
    // Act
    const report = await runSimulation({ input: { images: [NGINX] }, quotas });
    // Assess
    expect(report).toMatchObject({ status: 'FAILED', error: 'States.Runtime', cause: 'The execution reached the maximum number of history events (60).' });
    expect(report.historyEvents).toBe(60);
    expect(report.history.at(-1)).toMatchObject({ id: 60, previousEventId: 59, type: 'ExecutionFailed' });
    expectWellFormed(report.history);
    expect(report.invocationsByFunction['publish-snapshot']).toBeUndefined();
  });

  it('succeeds when the event at the quota is ExecutionSucceeded, and fails one event earlier', async () => {
    // Prepare: the length of a normal build's history.
    const { historyEvents } = await runSimulation({ input: { images: [NGINX] } });
    // Act
    const atQuota = await runSimulation({ input: { images: [NGINX] }, quotas: { historyEventLimit: historyEvents } });
    const overQuota = await runSimulation({ input: { images: [NGINX] }, quotas: { historyEventLimit: historyEvents - 1 } });
    // Assess
    expect(atQuota.status).toBe('SUCCEEDED');
    expect(atQuota.historyEvents).toBe(historyEvents);
    expect(overQuota).toMatchObject({ status: 'FAILED', error: 'States.Runtime' });
    expect(overQuota.historyEvents).toBe(historyEvents - 1);
  });
});
