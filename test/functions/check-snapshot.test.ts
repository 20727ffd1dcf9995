import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { handler as checkSnapshot } from '../../functions/check-snapshot';
import { handler as createSnapshot } from '../../functions/create-snapshot';
import type { LaunchedInstance } from '../../functions/lib/schemas';
import type { SimulatedAccount } from '../../simulation/aws/account';
import { FAULTS } from '../../simulation/aws/core';
import { SNAPSHOT_WAKE_SHARE, minCheckSeconds } from '../../functions/lib/next-check';
import { INNER_POLL } from '../../functions/lib/poll-inside';
import { buildTarget, launchedBuilder, simulatedAws, verifiedPull } from './ec2-fixtures';

describe('check-snapshot', () => {
  let account: SimulatedAccount;
  let restore: () => void;
  let instance: LaunchedInstance;
  const build = buildTarget();
  beforeEach(async () => {
    ({ account, restore } = simulatedAws());
    instance = await launchedBuilder(build);
  });
  afterEach(() => restore());

  it('reports progress until the snapshot completes, with the volume size', async () => {
    const snapshot = await createSnapshot({ build, instance, pullStatus: verifiedPull(build) });
    vi.advanceTimersByTime(60_000);
    const midway = await checkSnapshot({ build, snapshot });
    vi.advanceTimersByTime(10 * 60_000);
    const done = await checkSnapshot({ build, snapshot });
    expect(midway).toMatchObject({ completed: false, state: 'pending' });
    expect(Number.parseInt(midway.progress, 10)).toBeGreaterThan(0);
    expect(done).toEqual({ completed: true, state: 'completed', progress: '100%', volumeSizeGiB: 50, checkedAt: expect.any(String), nextCheckSeconds: 0 });
  });

  it('asks to look again before Progress says the snapshot will be done, after a first sample of its rate', async () => {
    // Prepare
    const snapshot = await createSnapshot({ build, instance, pullStatus: verifiedPull(build) });
    const simulated = account.ec2.snapshots.get(snapshot.snapshotId)!;
    // Act
    const first = await checkSnapshot({ build, snapshot });
    vi.advanceTimersByTime(60_000);
    const midway = await checkSnapshot({ build, snapshot });
    // Assess: 15 s for the first sample; then, the remaining time being beyond the inner poll's reach, 80 % of it
    // (SNAPSHOT_WAKE_SHARE), read from whole-percent Progress, within 2 s of the truth.
    expect(first).toMatchObject({ completed: false, nextCheckSeconds: 15 });
    const remainingSeconds = (simulated.StartTime.getTime() + simulated.durationMs - Date.now()) / 1000;
    expect(remainingSeconds).toBeGreaterThan(INNER_POLL.snapshot.nearSeconds);
    expect(Math.abs(midway.nextCheckSeconds - remainingSeconds * SNAPSHOT_WAKE_SHARE)).toBeLessThanOrEqual(2);
  });

  it('fails with SnapshotFailedError carrying EC2 state message when the snapshot goes to error', async () => {
    account.ec2.snapshotWillFail('Snapshot failed: KMS key disabled');
    const snapshot = await createSnapshot({ build, instance, pullStatus: verifiedPull(build) });
    vi.advanceTimersByTime(10 * 60_000);
    await expect(checkSnapshot({ build, snapshot })).rejects.toMatchObject({
      name: 'SnapshotFailedError',
      message: expect.stringContaining('KMS key disabled'),
    });
    expect(account.ec2.snapshotsInError()).toHaveLength(1);
  });

  it('fails with SnapshotTimeoutError once the snapshot takes longer than limits.snapshotSeconds', async () => {
    account.ec2.neverFinish('snapshot');
    const snapshot = await createSnapshot({ build, instance, pullStatus: verifiedPull(build) });
    vi.advanceTimersByTime(3_590_000);
    // Stuck at 99 %, 10 s before the limit: the next look comes one minimum interval later, past the limit, not later.
    await expect(checkSnapshot({ build, snapshot })).resolves.toMatchObject({ completed: false, progress: '99%', nextCheckSeconds: minCheckSeconds(3590) });
    vi.advanceTimersByTime(20_000);
    await expect(checkSnapshot({ build, snapshot })).rejects.toMatchObject({
      name: 'SnapshotTimeoutError',
      message: expect.stringMatching(/3600 s.*limits\.snapshotSeconds/),
    });
  });

  it('fails with AccessDeniedError when DescribeSnapshots is not allowed', async () => {
    const snapshot = await createSnapshot({ build, instance, pullStatus: verifiedPull(build) });
    account.core.inject(FAULTS.accessDenied('ec2', 'DescribeSnapshots'));
    await expect(checkSnapshot({ build, snapshot })).rejects.toMatchObject({ name: 'AccessDeniedError', message: expect.stringMatching(/^check-snapshot: /) });
  });

  it('fails with the retryable TransientAwsError when EC2 throttles', async () => {
    const snapshot = await createSnapshot({ build, instance, pullStatus: verifiedPull(build) });
    account.core.inject(FAULTS.throttle('ec2', 'DescribeSnapshots'));
    await expect(checkSnapshot({ build, snapshot })).rejects.toMatchObject({ name: 'TransientAwsError' });
  });

  it('fails when the snapshot ID is malformed', async () => {
    await expect(
      checkSnapshot({ build, snapshot: { snapshotId: 'vol-1', volumeId: 'vol-1', startedAt: '2026-11-24T12:00:00Z' } }),
    ).rejects.toMatchObject({ name: 'InvalidInputError', message: expect.stringContaining('snapshot.snapshotId') });
  });
});
