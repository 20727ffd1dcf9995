/**
 * The simulated Fast Snapshot Restore keeps AWS's documented rules (simulation/aws/ec2-fast-snapshot-restore.ts
 * names each source): states per zone over time at 60 minutes per TiB, the 5-snapshot quota per Region, per-zone
 * refusals in `Unsuccessful`, DescribeFastSnapshotRestores' filters, and FSR off when the snapshot is deleted.
 */
import {
  CreateSnapshotCommand,
  DeleteSnapshotCommand,
  DescribeFastSnapshotRestoresCommand,
  DisableFastSnapshotRestoresCommand,
  EnableFastSnapshotRestoresCommand,
  RunInstancesCommand,
} from '@aws-sdk/client-ec2';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ec2 } from '../../functions/lib/clients/ec2';
import type { SimulatedAccount } from '../../simulation/aws/account';
import { FSR_FIGURES } from '../../simulation/aws/ec2-fast-snapshot-restore';
import { simulatedAws } from './ec2-fixtures';

describe('simulated Fast Snapshot Restore', () => {
  let account: SimulatedAccount;
  let restore: () => void;
  beforeEach(() => ({ account, restore } = simulatedAws()));
  afterEach(() => restore());

  /** A completed snapshot of a `sizeGiB` data volume. */
  const completedSnapshot = async (sizeGiB = 1024): Promise<string> => {
    const ami = account.parameters.parameters.get('/aws/service/bottlerocket/aws-k8s-1.35/x86_64/latest/image_id')!.Value;
    const run = await ec2.send(
      new RunInstancesCommand({
        ImageId: ami,
        InstanceType: 'm5.large',
        MinCount: 1,
        MaxCount: 1,
        BlockDeviceMappings: [{ DeviceName: '/dev/xvdb', Ebs: { VolumeSize: sizeGiB, VolumeType: 'gp3', DeleteOnTermination: true } }],
      }),
    );
    const instanceId = run.Instances![0]!.InstanceId!;
    vi.advanceTimersByTime(30_000);
    const volume = [...account.ec2.volumes.values()].find((v) => v.attachedTo?.instanceId === instanceId && v.attachedTo.device === '/dev/xvdb')!;
    account.ec2.recordDataWritten(instanceId, 1);
    const { SnapshotId } = await ec2.send(new CreateSnapshotCommand({ VolumeId: volume.VolumeId }));
    vi.advanceTimersByTime(120_000);
    expect(account.ec2.snapshotsInState('completed').map((s) => s.SnapshotId)).toContain(SnapshotId);
    return SnapshotId!;
  };
  const states = async (snapshotId: string) =>
    ((await ec2.send(new DescribeFastSnapshotRestoresCommand({ Filters: [{ Name: 'snapshot-id', Values: [snapshotId] }] }))).FastSnapshotRestores ?? []).map(
      (r) => `${r.AvailabilityZone} ${r.State}`,
    );

  it('goes enabling -> optimizing -> enabled in each zone, optimizing 60 minutes per TiB', async () => {
    // Prepare
    const snapshotId = await completedSnapshot(1024);

    // Act
    const out = await ec2.send(new EnableFastSnapshotRestoresCommand({ SourceSnapshotIds: [snapshotId], AvailabilityZones: ['us-west-2a', 'us-west-2b'] }));

    // Assess
    expect(out.Unsuccessful).toEqual([]);
    expect(await states(snapshotId)).toEqual(['us-west-2a enabling', 'us-west-2b enabling']);
    vi.advanceTimersByTime(FSR_FIGURES.enablingMs);
    expect(await states(snapshotId)).toEqual(['us-west-2a optimizing', 'us-west-2b optimizing']);
    vi.advanceTimersByTime(3_600_000 - 1);
    expect(await states(snapshotId)).toEqual(['us-west-2a optimizing', 'us-west-2b optimizing']);
    vi.advanceTimersByTime(1);
    expect(await states(snapshotId)).toEqual(['us-west-2a enabled', 'us-west-2b enabled']);
  });

  it('refuses a sixth snapshot per Region in Unsuccessful, zone by zone, while the call itself succeeds', async () => {
    // Prepare
    const ids: string[] = [];
    for (let i = 0; i < 6; i += 1) ids.push(await completedSnapshot(8));
    for (const id of ids.slice(0, 5)) await ec2.send(new EnableFastSnapshotRestoresCommand({ SourceSnapshotIds: [id], AvailabilityZones: ['us-west-2a'] }));

    // Act
    const out = await ec2.send(new EnableFastSnapshotRestoresCommand({ SourceSnapshotIds: [ids[5]!], AvailabilityZones: ['us-west-2a', 'us-west-2c'] }));

    // Assess
    expect(out.Successful).toEqual([]);
    expect(out.Unsuccessful?.[0]?.FastSnapshotRestoreStateErrors?.map((e) => `${e.AvailabilityZone} ${e.Error?.Code}`)).toEqual([
      'us-west-2a Client.FastSnapshotRestoreLimitExceeded',
      'us-west-2c Client.FastSnapshotRestoreLimitExceeded',
    ]);
  });

  it('refuses an unknown zone in Unsuccessful and accepts the others', async () => {
    // Prepare
    const snapshotId = await completedSnapshot(8);

    // Act
    const out = await ec2.send(new EnableFastSnapshotRestoresCommand({ SourceSnapshotIds: [snapshotId], AvailabilityZones: ['us-west-2a', 'eu-west-1a'] }));

    // Assess
    expect(out.Successful?.map((s) => s.AvailabilityZone)).toEqual(['us-west-2a']);
    expect(out.Unsuccessful?.[0]?.FastSnapshotRestoreStateErrors?.map((e) => e.AvailabilityZone)).toEqual(['eu-west-1a']);
  });

  it('fails when more than 10 snapshot IDs are given, as EC2 answers (InvalidRequest)', async () => {
    const ids = Array.from({ length: 11 }, (_, i) => `snap-${String(i).padStart(17, '0')}`);
    await expect(ec2.send(new EnableFastSnapshotRestoresCommand({ SourceSnapshotIds: ids, AvailabilityZones: ['us-west-2a'] }))).rejects.toMatchObject({ name: 'InvalidRequest' });
  });

  it('goes disabling -> disabled (no longer listed) after DisableFastSnapshotRestores, and filters by state', async () => {
    // Prepare
    const snapshotId = await completedSnapshot(8);
    await ec2.send(new EnableFastSnapshotRestoresCommand({ SourceSnapshotIds: [snapshotId], AvailabilityZones: ['us-west-2a'] }));

    // Act
    await ec2.send(new DisableFastSnapshotRestoresCommand({ SourceSnapshotIds: [snapshotId], AvailabilityZones: ['us-west-2a'] }));

    // Assess
    expect(await states(snapshotId)).toEqual(['us-west-2a disabling']);
    const enabled = await ec2.send(new DescribeFastSnapshotRestoresCommand({ Filters: [{ Name: 'state', Values: ['enabling', 'optimizing', 'enabled'] }] }));
    expect(enabled.FastSnapshotRestores).toEqual([]);
    vi.advanceTimersByTime(FSR_FIGURES.disablingMs);
    expect(await states(snapshotId)).toEqual([]);
    expect(account.fastSnapshotRestore.activeRestores()).toEqual([]);
  });

  it('turns FSR off when the snapshot is deleted, as AWS does for a snapshot you own', async () => {
    // Prepare
    const snapshotId = await completedSnapshot(8);
    await ec2.send(new EnableFastSnapshotRestoresCommand({ SourceSnapshotIds: [snapshotId], AvailabilityZones: ['us-west-2a'] }));

    // Act
    await ec2.send(new DeleteSnapshotCommand({ SnapshotId: snapshotId }));

    // Assess
    expect(await states(snapshotId)).toEqual([]);
    expect(account.fastSnapshotRestore.billedZoneHours()).toBe(1);
  });

  it('fails when a filter is not one AWS documents', async () => {
    await expect(ec2.send(new DescribeFastSnapshotRestoresCommand({ Filters: [{ Name: 'tag:x', Values: ['y'] }] }))).rejects.toMatchObject({ name: 'InvalidParameterValue' });
  });
});
