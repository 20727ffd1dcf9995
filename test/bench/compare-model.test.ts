/**
 * The model of snapshot.sh used by `npm run bench -- compare` (bench/compare-model.ts): its waiters poll and give up
 * as botocore's do, its pulls add up one after the other, and it fails where the script fails.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { modelSnapshotScript, runWaiter, ScriptModelInputError, waitUntil, WAITERS, type ScriptLatencies } from '../../bench/compare-model';
import { volumeCost } from '../../bench/compare-pricing';

const LATENCIES: ScriptLatencies = {
  stackResourcesMs: 160_000,
  pendingMs: 20_000,
  agentOnlineAfterRunningMs: 30_000,
  adminReadyAfterRunningMs: 20_000,
  invocationVisibleMs: 1_500,
  deliveryMs: 2_000,
  pullMs: [20_000],
  stoppingMs: 45_000,
  snapshotMs: 180_000,
  shuttingDownMs: 30_000,
};

/** botocore's data directory on this machine, when python3 has botocore. */
const botocoreData = (() => {
  try {
    const dir = execFileSync('python3', ['-c', 'import botocore,os;print(os.path.dirname(botocore.__file__))'], { encoding: 'utf8' }).trim();
    return existsSync(join(dir, 'data')) ? join(dir, 'data') : undefined;
  } catch {
    return undefined;
  }
})();

describe('botocore waiters as the model runs them', () => {
  it.skipIf(!botocoreData)("uses the delays and attempts of botocore's service models", () => {
    // Prepare
    const waiter = (file: string, name: string) => JSON.parse(readFileSync(join(botocoreData!, file), 'utf8')).waiters[name] as { delay: number; maxAttempts: number };

    // Act
    const models = {
      stackCreateComplete: waiter('cloudformation/2010-05-15/waiters-2.json', 'StackCreateComplete'),
      commandExecuted: waiter('ssm/2014-11-06/waiters-2.json', 'CommandExecuted'),
      instanceStopped: waiter('ec2/2016-11-15/waiters-2.json', 'InstanceStopped'),
      snapshotCompleted: waiter('ec2/2016-11-15/waiters-2.json', 'SnapshotCompleted'),
    };

    // Assess
    for (const [name, model] of Object.entries(models)) {
      expect(WAITERS[name as keyof typeof WAITERS], name).toEqual({ delayMs: model.delay * 1000, maxAttempts: model.maxAttempts });
    }
  });

  it('gives up after maxAttempts calls, without a sleep after the last one', () => {
    // Act
    const run = runWaiter(WAITERS.commandExecuted, 10_000, () => 'pending');

    // Assess
    expect(run).toEqual({ atMs: 10_000 + 19 * 5_000, outcome: 'gave-up', attempts: 20 });
  });

  it('notices a change at its first call at or after it', () => {
    // Act
    const run = runWaiter(WAITERS.instanceStopped, 0, (at) => (at >= 31_000 ? 'done' : 'pending'));

    // Assess
    expect(run).toEqual({ atMs: 45_000, outcome: 'success', attempts: 4 });
  });

  it("keeps watching a long command past the waiter's 95 s: the script's until-loop sleeps 5 s and waits again", () => {
    // Act
    const run = waitUntil(WAITERS.commandExecuted, 0, (at) => (at >= 197_000 ? 'done' : 'pending'));

    // Assess: calls at 0..95 s, the loop's sleep to 100 s, calls at 100..195 s, again at 200 s.
    expect(run).toEqual({ atMs: 200_000, outcome: 'success' });
  });
});

describe('modelSnapshotScript', () => {
  it('pulls one (image, platform) after the other, each noticed on the 5 s grid of its own command', () => {
    // Prepare: each command ends 2 s (delivery) + 20 s after it was sent, noticed at the 25 s call.
    const pullsOf = (count: number) => modelSnapshotScript({ ...LATENCIES, pullMs: Array.from({ length: count }, () => 20_000) });

    // Act
    const runs = [1, 3, 10].map(pullsOf);

    // Assess
    for (const [index, count] of [1, 3, 10].entries()) {
      const { stepEndsMs } = runs[index]!;
      expect(stepEndsMs.pulls! - stepEndsMs['remove-images']!).toBe(count * 25_000);
    }
    expect(runs.map((run) => run.ssmCommands)).toEqual([3, 5, 12]);
  });

  it('waits for the stack on the 30 s grid, then for the agent every 5 s', () => {
    // Act: the instance runs at 185 s (polls at 180 s see it pending), the agent is Online at 215 s.
    const run = modelSnapshotScript({ ...LATENCIES, stackResourcesMs: 165_000, pendingMs: 20_000 });

    // Assess
    expect(run.stepEndsMs.stack).toBe(210_000);
    expect(run.stepEndsMs['ssm-online']).toBe(215_000);
  });

  it('watches a snapshot past the waiter’s 585 s, and bills the instance until the stop request only', () => {
    // Act
    const run = modelSnapshotScript({ ...LATENCIES, snapshotMs: 20 * 60_000 });

    // Assess
    expect(run.outcome).toBe('succeeded');
    const snapshotTook = run.stepEndsMs.snapshot! - run.stepEndsMs.stop!;
    expect(snapshotTook).toBeGreaterThanOrEqual(20 * 60_000);
    expect(snapshotTook).toBeLessThan(20 * 60_000 + 15_000 + 5_000);
    expect(run.instanceRunningMs).toEqual({ from: 180_000, to: run.stepEndsMs.pulls });
    expect(run.volumesMs).toEqual({ from: 160_000, to: run.makespanMs + 30_000 });
  });

  it('fails in stop when the instance takes longer than the instance-stopped waiter’s 585 s (set -e ends the script)', () => {
    // Act
    const run = modelSnapshotScript({ ...LATENCIES, stoppingMs: 600_000 });

    // Assess
    expect(run.outcome).toBe('failed');
    expect(run.failure?.step).toBe('stop');
    expect(run.makespanMs - run.stepEndsMs.pulls!).toBe(585_000);
  });

  it('fails in stop-kubelet when its first command meets an admin container that does not run yet, unless told to wait', () => {
    // Prepare
    const late = { ...LATENCIES, adminReadyAfterRunningMs: 60_000 };

    // Act
    const asWritten = modelSnapshotScript(late, 'fail');
    const waited = modelSnapshotScript(late, 'wait');

    // Assess
    expect(asWritten.failure?.step).toBe('stop-kubelet');
    expect(waited.outcome).toBe('succeeded');
    expect(waited.stepEndsMs['stop-kubelet']!).toBeGreaterThanOrEqual(180_000 + 60_000);
  });

  it('fails when a latency is negative, naming it', () => {
    // Act + Assess
    expect(() => modelSnapshotScript({ ...LATENCIES, stoppingMs: -1 })).toThrow(ScriptModelInputError);
    expect(() => modelSnapshotScript({ ...LATENCIES, stoppingMs: -1 })).toThrow(/stoppingMs/);
  });

  it('fails when no pull is given', () => {
    // Act + Assess
    expect(() => modelSnapshotScript({ ...LATENCIES, pullMs: [] })).toThrow(/pullMs lists no pull/);
  });
});

describe('volumeCost', () => {
  it('charges IOPS and throughput above the gp3 baseline, per second with a 60 s minimum', () => {
    // Act
    const baseline = volumeCost({ sizeGiB: 50, iops: 3000, throughputMBps: 125, seconds: 10 });
    const provisioned = volumeCost({ sizeGiB: 50, iops: 4000, throughputMBps: 1000, seconds: 60 });

    // Assess: 50 GiB x $0.08 for 60 s of a 30-day month; plus 1,000 IOPS x $0.005 and 875 MB/s x $0.04.
    expect(baseline).toBeCloseTo((50 * 0.08 * 60) / (30 * 86_400), 10);
    expect(provisioned).toBeCloseTo(((50 * 0.08 + 1000 * 0.005 + 875 * 0.04) * 60) / (30 * 86_400), 10);
  });
});
