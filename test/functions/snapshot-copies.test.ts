/** CopySnapshot and CheckSnapshotCopies against the simulated account's regions. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { handler as checkSnapshotCopies } from '../../functions/check-snapshot-copies';
import { handler as checkSnapshot } from '../../functions/check-snapshot';
import { handler as copySnapshot } from '../../functions/copy-snapshot';
import { handler as createSnapshot } from '../../functions/create-snapshot';
import type { BuildTarget, CreatedSnapshot } from '../../functions/lib/schemas';
import type { SimulatedAccount } from '../../simulation/aws/account';
import { regionOf } from '../../simulation/aws/regions';
import { buildTarget, launchedBuilder, simulatedAws, verifiedPull } from './ec2-fixtures';

const KEY = 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';

describe('copy-snapshot and check-snapshot-copies', () => {
  let account: SimulatedAccount;
  let restore: () => void;
  let snapshot: CreatedSnapshot;
  const build: BuildTarget = buildTarget({
    copies: [{ region: 'eu-west-1', kmsKeyArn: KEY }, { region: 'ap-south-1' }],
    limits: { ssmOnlineSeconds: 600, pullSeconds: 3600, stopSeconds: 600, snapshotSeconds: 3600, copySeconds: 1800 },
    tags: { team: 'platform' },
  });
  beforeEach(async () => {
    ({ account, restore } = simulatedAws());
    const instance = await launchedBuilder(build);
    snapshot = await createSnapshot({ build, instance, pullStatus: verifiedPull(build) });
    vi.advanceTimersByTime(30 * 60_000);
    await checkSnapshot({ build, snapshot });
  });
  afterEach(() => restore());

  it("copies into every region, encrypted with the region's key or aws/ebs, tagged exactly as the source", async () => {
    // Act
    const status = await copySnapshot({ build, snapshot });

    // Assess
    expect(status).toMatchObject({ completed: false, copies: [{ region: 'eu-west-1', state: 'pending' }, { region: 'ap-south-1', state: 'pending' }] });
    const source = account.ec2.snapshots.get(snapshot.snapshotId)!;
    const [eu, ap] = status.copies.map((c) => regionOf(account, c.region).ec2.snapshots.get(c.snapshotId)!);
    expect(eu).toMatchObject({ Encrypted: true, KmsKeyId: KEY, Tags: source.Tags });
    expect(ap).toMatchObject({ Encrypted: true, KmsKeyId: 'alias/aws/ebs', Tags: source.Tags });
    expect(source.Tags).toEqual(expect.arrayContaining([{ Key: 'snapshot-factory:managed', Value: 'true' }, { Key: 'team', Value: 'platform' }]));
  });

  it('reuses a copy an earlier attempt made instead of copying twice', async () => {
    // Act
    const first = await copySnapshot({ build, snapshot });
    const again = await copySnapshot({ build, snapshot });

    // Assess
    expect(again.copies.map((c) => c.snapshotId)).toEqual(first.copies.map((c) => c.snapshotId));
    expect(regionOf(account, 'eu-west-1').core.callsOf('ec2', 'CopySnapshot')).toHaveLength(1);
  });

  it('loops until every copy completes, waiting about as long as the slowest copy still needs', async () => {
    // Prepare
    const requested = await copySnapshot({ build, snapshot });
    vi.advanceTimersByTime(requested.nextCheckSeconds * 1000);
    // Act
    const midway = await checkSnapshotCopies({ build, copiesStatus: requested });
    vi.advanceTimersByTime(30 * 60_000 - requested.nextCheckSeconds * 1000 - 1000);
    const done = await checkSnapshotCopies({ build, copiesStatus: midway });
    // Assess
    expect(midway.completed).toBe(false);
    const copy = regionOf(account, 'eu-west-1').ec2.snapshots.get(midway.copies[0]!.snapshotId)!;
    const remaining = (copy.StartTime.getTime() + copy.durationMs - Date.now() + 30 * 60_000 - requested.nextCheckSeconds * 1000 - 1000) / 1000;
    expect(midway.nextCheckSeconds).toBeGreaterThan(2);
    expect(midway.nextCheckSeconds).toBeLessThanOrEqual(Math.max(600, remaining));
    expect(done).toMatchObject({ completed: true, nextCheckSeconds: 0, copies: [{ state: 'completed', progress: '100%' }, { state: 'completed' }] });
  });

  it('fails with SnapshotCopyFailedError naming the region and EC2 state message when a copy goes to error', async () => {
    // Prepare
    regionOf(account, 'ap-south-1').snapshotCopies.copyWillFail('Copy failed: key not usable');
    const requested = await copySnapshot({ build, snapshot });
    vi.advanceTimersByTime(20 * 60_000);
    // Act + Assess
    await expect(checkSnapshotCopies({ build, copiesStatus: requested })).rejects.toMatchObject({
      name: 'SnapshotCopyFailedError',
      message: expect.stringMatching(/in ap-south-1 failed at \d+%: Copy failed: key not usable/),
    });
  });

  it('fails with SnapshotCopyTimeoutError once the copies take longer than limits.copySeconds', async () => {
    // Prepare
    const requested = await copySnapshot({ build, snapshot });
    for (const c of requested.copies) regionOf(account, c.region).ec2.snapshots.get(c.snapshotId)!.neverFinish = true;
    vi.advanceTimersByTime(1801 * 1000);
    // Act + Assess
    await expect(checkSnapshotCopies({ build, copiesStatus: requested })).rejects.toMatchObject({
      name: 'SnapshotCopyTimeoutError',
      message: expect.stringContaining('the limit is 1800 s (limits.copySeconds raises it)'),
    });
  });

  it('fails with a retryable TransientAwsError naming the quota when the region has 20 copies in flight', async () => {
    // Prepare
    regionOf(account, 'eu-west-1').snapshotCopies.quota = 0;
    // Act + Assess
    await expect(copySnapshot({ build, snapshot })).rejects.toMatchObject({ name: 'TransientAwsError', message: expect.stringContaining('ResourceLimitExceeded') });
  });

  it('fails with SnapshotCopyFailedError when EC2 refuses the copy for good', async () => {
    // Prepare
    regionOf(account, 'eu-west-1').core.inject({ service: 'ec2', operation: 'CopySnapshot', code: 'InvalidParameterValue', message: 'KmsKeyId is not valid' });
    // Act + Assess
    await expect(copySnapshot({ build, snapshot })).rejects.toMatchObject({ name: 'SnapshotCopyFailedError', message: expect.stringContaining('to eu-west-1 was refused: InvalidParameterValue') });
  });
});
