/**
 * The factory's side of `npm run bench -- compare`: Lambda GB-s billed from an execution history, and the probe that
 * measures what the simulated SSM agent charges per pull (bench/compare-factory.ts, bench/compare-probe.ts).
 */
import { describe, expect, it } from 'vitest';
import { createSimulatedAccount } from '../../simulation/aws/account';
import type { HistoryEvent } from '../../simulation/execution-history';
import { lambdaGbSeconds } from '../../bench/compare-factory';
import { probePullDurations } from '../../bench/compare-probe';

const event = (id: number, previousEventId: number, type: string, timestamp: number, fn?: string): HistoryEvent =>
  ({
    id,
    previousEventId,
    type,
    timestamp,
    ...(fn ? { taskScheduledEventDetails: { resourceType: 'lambda', resource: 'invoke', region: 'us-west-2', parameters: JSON.stringify({ FunctionName: `arn:aws:lambda:us-west-2:111122223333:function:snapshot-factory-${fn}` }) } } : {}),
  }) as unknown as HistoryEvent;

describe('lambdaGbSeconds', () => {
  it("bills each attempt from TaskStarted to its end at its function's memory, following each thread's links", () => {
    // Prepare: two Map iterations interleaved; launch-instance runs 300 ms at 256 MB, check-snapshot 0 ms at 1024 MB.
    const history = [
      event(1, 0, 'ExecutionStarted', 0),
      event(2, 1, 'TaskScheduled', 10, 'launch-instance'),
      event(3, 1, 'TaskScheduled', 10, 'check-snapshot'),
      event(4, 2, 'TaskStarted', 20),
      event(5, 3, 'TaskStarted', 20),
      event(6, 5, 'TaskSucceeded', 20),
      event(7, 4, 'TaskSucceeded', 320),
    ];

    // Act
    const gbSeconds = lambdaGbSeconds(history, { 'launch-instance': 256, 'check-snapshot': 1024 }, 128);

    // Assess: 0.25 GB x 0.3 s, plus 1 GB x the 1 ms minimum increment.
    expect(gbSeconds).toBeCloseTo(0.25 * 0.3 + 1 * 0.001, 10);
  });
});

describe('probePullDurations', () => {
  it('measures, per (image, platform), what the simulated agent charges one pull, following its settings', async () => {
    // Prepare
    const account = createSimulatedAccount();
    (account.ssmCommands.options as { pullMs: number }).pullMs = 47_000;
    const pulls = [
      { reference: 'public.ecr.aws/bench/image-0:v1', platform: 'linux/amd64' },
      { reference: 'public.ecr.aws/bench/image-0:v1', platform: 'linux/arm64' },
      { reference: 'public.ecr.aws/bench/image-1:v1', platform: 'linux/amd64' },
    ];

    const before = Date.now();

    // Act
    const durations = await probePullDurations(account, pulls);

    // Assess
    expect(durations).toEqual([47_000, 47_000, 47_000]);
    // The probe's fake clock (January 2026) is gone again: the real clock did not go back.
    expect(Date.now()).toBeGreaterThanOrEqual(before);
  });
});
