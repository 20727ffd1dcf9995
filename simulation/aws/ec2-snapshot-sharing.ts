/**
 * Simulated EC2 snapshot permissions and deletion rules, next to simulation/aws/ec2.ts (which holds the snapshots):
 *
 * - ModifySnapshotAttribute / DescribeSnapshotAttribute, attribute `createVolumePermission`, as the EC2 API
 *   reference describes them (ModifySnapshotAttribute, DescribeSnapshotAttribute, CreateVolumePermission; the same
 *   text is the TSDoc of @aws-sdk/client-ec2's ModifySnapshotAttributeCommand): one operation adds or removes
 *   account IDs, never both (`InvalidParameterCombination`); at most 500 modifications per operation; a permission is
 *   an account ID (`UserId`) or the group `all`, nothing else (no organization ARN); encrypted snapshots cannot be made
 *   public; snapshots encrypted with the account's default KMS key (aws/ebs) cannot be shared with other accounts.
 *   `productCodes` can be described but not modified. An account ID that is not 12 digits answers
 *   `InvalidUserID.Malformed` ("Error codes", EC2 API reference). Adding an account twice or removing one that is not
 *   there succeeds without change. Both accept the short form too (`OperationType` + `UserIds`).
 * - DeleteSnapshot: "You cannot delete a snapshot of the root device of an EBS volume used by a registered AMI"
 *   (EC2 API reference, DeleteSnapshot): `InvalidSnapshot.InUse`, here for any snapshot {@link registerImageUsing}
 *   says an AMI uses; deleting a snapshot ends its permissions.
 *
 * Left out: the error texts (AWS does not document them; these name the value), the encrypted-snapshot checks'
 * exact error code (`InvalidParameter` here), AWS Marketplace product codes, and what a consumer account sees.
 */
import { failRequest as fail, type SimulatedAwsCore } from './core';
import type { SimulatedEc2 } from './ec2';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Input = any;
type Permission = { UserId?: string; Group?: string };

export const MAX_PERMISSION_MODIFICATIONS = 500;

export class SimulatedSnapshotSharing {
  /** createVolumePermission of each snapshot: account IDs and groups. */
  readonly permissions = new Map<string, { userIds: Set<string>; groups: Set<string> }>();
  /** Snapshot ID -> the AMI that uses it. */
  private readonly imagesUsing = new Map<string, string>();

  constructor(
    core: SimulatedAwsCore,
    private readonly ec2: SimulatedEc2,
  ) {
    core.register('ec2', {
      ModifySnapshotAttribute: (input: Input) => this.modify(input),
      DescribeSnapshotAttribute: (input: Input) => this.describe(input),
      DeleteSnapshot: (input: Input) => this.delete(input),
    });
  }

  /** Records that a registered AMI (`amiId`) uses `snapshotId`: DeleteSnapshot then answers InvalidSnapshot.InUse. */
  registerImageUsing(snapshotId: string, amiId = 'ami-0123456789abcdef0'): void {
    this.imagesUsing.set(snapshotId, amiId);
  }

  /** Deregisters that AMI. */
  deregisterImageUsing(snapshotId: string): void {
    this.imagesUsing.delete(snapshotId);
  }

  /** The accounts `snapshotId` is shared with (test query). */
  sharedWith(snapshotId: string): string[] {
    return [...(this.permissions.get(snapshotId)?.userIds ?? [])].sort();
  }

  private snapshot(id: string | undefined) {
    if (!/^snap-[0-9a-f]{8,17}$/.test(id ?? '')) fail('InvalidSnapshotID.Malformed', `Invalid id: "${id}"`);
    const snapshot = this.ec2.snapshots.get(id!);
    if (!snapshot || snapshot.deleted) fail('InvalidSnapshot.NotFound', `The snapshot '${id}' does not exist.`);
    return snapshot!;
  }

  private modify(input: Input): unknown {
    const snapshot = this.snapshot(input.SnapshotId);
    const attribute = input.Attribute ?? 'createVolumePermission';
    if (attribute === 'productCodes') fail('InvalidParameterValue', 'The attribute productCodes cannot be modified.');
    if (attribute !== 'createVolumePermission') fail('InvalidParameterValue', `Value (${attribute}) for parameter attribute is invalid.`);
    let add: Permission[] = input.CreateVolumePermission?.Add ?? [];
    let remove: Permission[] = input.CreateVolumePermission?.Remove ?? [];
    if (input.OperationType !== undefined) {
      const short: Permission[] = [...(input.UserIds ?? []).map((UserId: string) => ({ UserId })), ...(input.GroupNames ?? []).map((Group: string) => ({ Group }))];
      if (input.OperationType === 'add') add = [...add, ...short];
      else if (input.OperationType === 'remove') remove = [...remove, ...short];
      else fail('InvalidParameterValue', `Value (${input.OperationType}) for parameter operationType is invalid.`);
    }
    if (add.length > 0 && remove.length > 0) fail('InvalidParameterCombination', 'You can add or remove create volume permissions in one operation, not both.');
    if (add.length + remove.length === 0) fail('MissingParameter', 'The request must add or remove at least one create volume permission.');
    if (add.length + remove.length > MAX_PERMISSION_MODIFICATIONS) {
      fail('InvalidParameterValue', `At most ${MAX_PERMISSION_MODIFICATIONS} create volume permission modifications are allowed in one operation.`);
    }
    for (const permission of [...add, ...remove]) {
      if (permission.UserId !== undefined && !/^\d{12}$/.test(permission.UserId)) fail('InvalidUserID.Malformed', `Invalid user id: "${permission.UserId}"`);
      if (permission.Group !== undefined && permission.Group !== 'all') fail('InvalidParameterValue', `Value (${permission.Group}) for parameter group is invalid.`);
      if (permission.UserId === undefined && permission.Group === undefined) fail('InvalidParameterValue', 'A create volume permission names a UserId or a Group.');
    }
    if (add.some((p) => p.Group === 'all') && snapshot.Encrypted) fail('InvalidParameter', `The encrypted snapshot '${snapshot.SnapshotId}' cannot be made public.`);
    const defaultKey = !snapshot.KmsKeyId || /alias\/aws\/ebs$/.test(snapshot.KmsKeyId);
    if (add.some((p) => p.UserId !== undefined && p.UserId !== this.ec2.core.accountId) && snapshot.Encrypted && defaultKey) {
      fail('InvalidParameter', `The snapshot '${snapshot.SnapshotId}' is encrypted with the default KMS key and cannot be shared with other accounts.`);
    }
    const current = this.permissions.get(snapshot.SnapshotId) ?? { userIds: new Set<string>(), groups: new Set<string>() };
    for (const p of add) p.UserId !== undefined ? current.userIds.add(p.UserId) : current.groups.add(p.Group!);
    for (const p of remove) p.UserId !== undefined ? current.userIds.delete(p.UserId) : current.groups.delete(p.Group!);
    this.permissions.set(snapshot.SnapshotId, current);
    return {};
  }

  private describe(input: Input): unknown {
    const snapshot = this.snapshot(input.SnapshotId);
    if (input.Attribute === 'productCodes') return { SnapshotId: snapshot.SnapshotId, ProductCodes: [] };
    if (input.Attribute !== 'createVolumePermission') fail('InvalidParameterValue', `Value (${input.Attribute}) for parameter attribute is invalid.`);
    const current = this.permissions.get(snapshot.SnapshotId);
    return {
      SnapshotId: snapshot.SnapshotId,
      CreateVolumePermissions: [...[...(current?.groups ?? [])].map((Group) => ({ Group })), ...[...(current?.userIds ?? [])].map((UserId) => ({ UserId }))],
    };
  }

  private delete(input: Input): unknown {
    const ami = this.imagesUsing.get(input.SnapshotId);
    if (ami && this.ec2.snapshots.get(input.SnapshotId)?.deleted === false) {
      fail('InvalidSnapshot.InUse', `The snapshot ${input.SnapshotId} is currently in use by ${ami}`);
    }
    const result = this.ec2.deleteSnapshot(input);
    this.permissions.delete(input.SnapshotId);
    return result;
  }
}
