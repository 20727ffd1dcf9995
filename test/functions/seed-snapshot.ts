/** Shared by the tests that need a snapshot in a simulated EC2 without running the stages that make one. */
import type { SimulatedAccount } from '../../simulation/aws/account';

/** A completed snapshot `id` in `account`'s EC2 (a region of it, too), with the given encryption and tags. */
export const seedSnapshot = (
  account: SimulatedAccount,
  id: string,
  fields: { Encrypted: boolean; KmsKeyId?: string; Tags?: { Key: string; Value: string }[]; StartTime?: Date },
): void => {
  account.ec2.snapshots.set(id, {
    SnapshotId: id,
    VolumeId: 'vol-0123456789abcdef0',
    VolumeSize: 100,
    Description: 'test',
    StartTime: new Date(0),
    Tags: [],
    durationMs: 0,
    neverFinish: false,
    deleted: false,
    ...fields,
  });
};
