/** The simulated CopySnapshot (simulation/aws/ec2-copy-snapshot.ts) and the account's other regions (simulation/aws/regions.ts). */
import { CopySnapshotCommand, DescribeSnapshotsCommand } from '@aws-sdk/client-ec2';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { handler as checkSnapshot } from '../../functions/check-snapshot';
import { handler as createSnapshot } from '../../functions/create-snapshot';
import { ec2In } from '../../functions/lib/regional/ec2';
import type { SimulatedAccount } from '../../simulation/aws/account';
import { COPY_FIGURES } from '../../simulation/aws/ec2-copy-snapshot';
import { regionOf } from '../../simulation/aws/regions';
import { buildTarget, launchedBuilder, simulatedAws, verifiedPull } from './ec2-fixtures';

describe('simulated CopySnapshot', () => {
  let account: SimulatedAccount;
  let restore: () => void;
  let sourceId: string;
  const build = buildTarget();
  beforeEach(async () => {
    ({ account, restore } = simulatedAws());
    const instance = await launchedBuilder(build);
    const snapshot = await createSnapshot({ build, instance, pullStatus: verifiedPull(build) });
    vi.advanceTimersByTime(30 * 60_000);
    await checkSnapshot({ build, snapshot });
    sourceId = snapshot.snapshotId;
  });
  afterEach(() => restore());

  const copy = (region = 'eu-west-1', extra: Record<string, unknown> = {}) =>
    ec2In(region).send(new CopySnapshotCommand({ SourceRegion: account.core.region, SourceSnapshotId: sourceId, Encrypted: true, ...extra }));

  it('creates a pending copy in the destination region only, with the requested tags and key, completing over time', async () => {
    // Act
    const out = await copy('eu-west-1', { KmsKeyId: 'arn:aws:kms:eu-west-1:111122223333:key/k1', TagSpecifications: [{ ResourceType: 'snapshot', Tags: [{ Key: 'a', Value: 'b' }] }] });
    const first = await ec2In('eu-west-1').send(new DescribeSnapshotsCommand({ SnapshotIds: [out.SnapshotId!] }));
    vi.advanceTimersByTime(60 * 60_000);
    const later = await ec2In('eu-west-1').send(new DescribeSnapshotsCommand({ SnapshotIds: [out.SnapshotId!] }));

    // Assess
    expect(first.Snapshots![0]).toMatchObject({ State: 'pending', Encrypted: true, KmsKeyId: 'arn:aws:kms:eu-west-1:111122223333:key/k1', Tags: [{ Key: 'a', Value: 'b' }] });
    expect(later.Snapshots![0]).toMatchObject({ State: 'completed', Progress: '100%' });
    expect(account.ec2.snapshots.has(out.SnapshotId!)).toBe(false);
    expect(regionOf(account, 'eu-west-1').core.callsOf('ec2', 'CopySnapshot')).toHaveLength(1);
    expect(account.core.callsOf('ec2', 'CopySnapshot')).toHaveLength(0);
  });

  it("fails when the destination already has AWS's 20 copies pending, with ResourceLimitExceeded", async () => {
    // Prepare
    for (let n = 0; n < COPY_FIGURES.concurrentCopiesPerDestinationRegion; n += 1) await copy();

    // Act + Assess: the 21st to eu-west-1 is refused, another destination is not.
    await expect(copy()).rejects.toMatchObject({ name: 'ResourceLimitExceeded' });
    await expect(copy('ap-south-1')).resolves.toMatchObject({ SnapshotId: expect.stringMatching(/^snap-/) });
  });

  it('fails when the source snapshot is not in the source region, with InvalidSnapshot.NotFound', async () => {
    await expect(ec2In('eu-west-1').send(new CopySnapshotCommand({ SourceRegion: 'ap-south-1', SourceSnapshotId: sourceId }))).rejects.toMatchObject({ name: 'InvalidSnapshot.NotFound' });
  });

  it('fails when KmsKeyId is given without Encrypted, with InvalidParameterDependency', async () => {
    await expect(copy('eu-west-1', { Encrypted: false, KmsKeyId: 'arn:aws:kms:eu-west-1:111122223333:key/k1' })).rejects.toMatchObject({ name: 'InvalidParameterDependency' });
  });

  it('goes to error halfway when a test makes the copy fail', async () => {
    // Prepare
    regionOf(account, 'eu-west-1').snapshotCopies.copyWillFail('copy failed: key disabled');
    // Act
    const out = await copy();
    vi.advanceTimersByTime(60 * 60_000);
    const described = await ec2In('eu-west-1').send(new DescribeSnapshotsCommand({ SnapshotIds: [out.SnapshotId!] }));
    // Assess
    expect(described.Snapshots![0]).toMatchObject({ State: 'error', StateMessage: 'copy failed: key disabled' });
  });
});
