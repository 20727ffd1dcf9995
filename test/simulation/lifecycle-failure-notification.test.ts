/**
 * Failure notification (issue 10) in the simulation: a failed, a timed-out and an aborted execution each produce
 * exactly one `Snapshot Build Failed` event on the default bus, put by notify-build-failure from Step Functions' own
 * status-change event (rule ExecutionEndedNotify), with the recipe, architectures, stage and a console link; a
 * successful execution produces none.
 */
import { describe, expect, it } from 'vitest';
import { NO_LEFTOVERS } from '../../simulation/after-execution';
import { createSimulatedAccount } from '../../simulation/aws/account';
import { runSimulation, type SimulationReport } from '../../simulation/run-state-machine';
import type { BuildFailedDetail } from '../../functions/notify-build-failure';

const NGINX = 'public.ecr.aws/docker/library/nginx:1.27';
const INPUT = { recipe: 'alerts', images: [NGINX], architectures: ['x86_64'] };

const failureEvents = (report: SimulationReport) => report.account.events.ofType('Snapshot Build Failed');

const expectOneNotice = (report: SimulationReport, expected: Partial<BuildFailedDetail>) => {
  const events = failureEvents(report);
  expect(events).toHaveLength(1);
  expect(events[0]!.source).toBe('snapshot-factory');
  const detail = events[0]!.detail as BuildFailedDetail;
  expect(detail).toMatchObject({ recipe: 'alerts', architectures: ['x86_64'], ...expected });
  expect(detail.executionArn).toMatch(/^arn:aws:states:us-west-2:111122223333:execution:.+:/);
  expect(detail.consoleUrl).toBe(`https://us-west-2.console.aws.amazon.com/states/home?region=us-west-2#/v2/executions/details/${encodeURIComponent(detail.executionArn)}`);
  const notify = report.afterRun.filter((run) => run.function === 'notify-build-failure');
  expect(notify).toHaveLength(1);
  expect(notify[0]).toMatchObject({ trigger: expect.stringMatching(/ExecutionEndedNotify/), output: { eventId: events[0]!.id } });
  expect(report.leftovers).toEqual(NO_LEFTOVERS);
  return detail;
};

describe('Snapshot Build Failed events, in the simulation', () => {
  it('announces a failed execution once, naming the stage that failed and the cause', async () => {
    // Act
    const report = await runSimulation({ input: INPUT, account: createSimulatedAccount(), faults: ['snapshot-error'], executionName: 'alerts-failed' });
    // Assess
    expect(report.status).toBe('FAILED');
    const detail = expectOneNotice(report, { status: 'FAILED', stage: 'CheckSnapshot', error: 'SnapshotFailedError', executionName: 'alerts-failed' });
    expect(detail.cause).toMatch(/^check-snapshot failed with SnapshotFailedError/);
  });

  it('announces a timed-out execution once, naming the state it was in', async () => {
    // Act
    const report = await runSimulation({ input: INPUT, executionName: 'alerts-timed-out', transformDefinition: (definition) => ({ ...definition, TimeoutSeconds: 120 }) });
    // Assess
    expect(report.status).toBe('TIMED_OUT');
    const detail = expectOneNotice(report, { status: 'TIMED_OUT', error: 'States.Timeout' });
    const lastEntered = [...report.events].reverse().find((e) => e.type === 'StateEntered')!.state;
    expect(detail.stage).toBe(lastEntered);
  });

  it('announces an aborted execution once, with the state it was stopped in and no cause', async () => {
    // Act
    const report = await runSimulation({ input: INPUT, executionName: 'alerts-aborted', abortAtState: 'SendPullCommand' });
    // Assess
    expect(report.status).toBe('ABORTED');
    const detail = expectOneNotice(report, { status: 'ABORTED', stage: 'SendPullCommand' });
    expect(detail.cause).toBeUndefined();
    expect(detail.error).toBeUndefined();
  });

  it('announces nothing for a successful execution', async () => {
    // Act
    const report = await runSimulation({ input: INPUT, executionName: 'alerts-ok' });
    // Assess
    expect(report.status).toBe('SUCCEEDED');
    expect(failureEvents(report)).toEqual([]);
    expect(report.afterRun.map((run) => run.function)).not.toContain('notify-build-failure');
  });
});
