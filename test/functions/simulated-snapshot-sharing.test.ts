/**
 * The simulated snapshot permissions, DeleteSnapshot's AMI-in-use rule and GetExecutionHistory behave as the EC2
 * and Step Functions API references say (simulation/aws/ec2-snapshot-sharing.ts, simulation/aws/sfn-history.ts).
 */
import { describe, expect, it } from 'vitest';
import { createSimulatedAccount, type SimulatedAccount } from '../../simulation/aws/account';
import type { HistoryEvent } from '../../simulation/execution-history';
import { seedSnapshot } from './seed-snapshot';

const SNAP = 'snap-0123456789abcdef0';
const KEY = 'arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const setUp = (encryption: { Encrypted: boolean; KmsKeyId?: string } = { Encrypted: true, KmsKeyId: KEY }) => {
  const account = createSimulatedAccount();
  seedSnapshot(account, SNAP, encryption);
  const call = (operation: string, input: unknown) => account.core.handle('ec2', operation, input);
  const add = (...userIds: string[]) => call('ModifySnapshotAttribute', { SnapshotId: SNAP, Attribute: 'createVolumePermission', CreateVolumePermission: { Add: userIds.map((UserId) => ({ UserId })) } });
  return { account, call, add };
};

describe('simulated snapshot permissions', () => {
  it('adds and removes accounts and describes them', async () => {
    // Prepare
    const { call, add } = setUp();
    // Act
    await add('222233334444', '333344445555');
    await add('222233334444');
    await call('ModifySnapshotAttribute', { SnapshotId: SNAP, Attribute: 'createVolumePermission', OperationType: 'remove', UserIds: ['333344445555'] });
    const described = await call('DescribeSnapshotAttribute', { SnapshotId: SNAP, Attribute: 'createVolumePermission' });
    // Assess
    expect(described).toEqual({ SnapshotId: SNAP, CreateVolumePermissions: [{ UserId: '222233334444' }] });
  });

  it('fails when an account ID is not 12 digits', async () => {
    const { add } = setUp();
    await expect(add('12345')).rejects.toMatchObject({ name: 'InvalidUserID.Malformed' });
  });

  it('fails when one operation both adds and removes', async () => {
    const { call } = setUp();
    const input = { SnapshotId: SNAP, Attribute: 'createVolumePermission', CreateVolumePermission: { Add: [{ UserId: '222233334444' }], Remove: [{ UserId: '333344445555' }] } };
    await expect(call('ModifySnapshotAttribute', input)).rejects.toMatchObject({ name: 'InvalidParameterCombination' });
  });

  it('fails when more than 500 modifications are sent at once', async () => {
    const { add } = setUp();
    const accounts = Array.from({ length: 501 }, (_, i) => String(100000000000 + i));
    await expect(add(...accounts)).rejects.toMatchObject({ name: 'InvalidParameterValue', message: expect.stringMatching(/500/) });
  });

  it('fails when a snapshot encrypted with the default key is shared with another account', async () => {
    const { add } = setUp({ Encrypted: true });
    await expect(add('222233334444')).rejects.toMatchObject({ name: 'InvalidParameter', message: expect.stringMatching(/default KMS key/) });
  });

  it('fails when an encrypted snapshot is made public', async () => {
    const { call } = setUp();
    const input = { SnapshotId: SNAP, Attribute: 'createVolumePermission', CreateVolumePermission: { Add: [{ Group: 'all' }] } };
    await expect(call('ModifySnapshotAttribute', input)).rejects.toMatchObject({ name: 'InvalidParameter' });
  });

  it('fails when the attribute is productCodes or the snapshot does not exist', async () => {
    const { call } = setUp();
    await expect(call('ModifySnapshotAttribute', { SnapshotId: SNAP, Attribute: 'productCodes', CreateVolumePermission: { Add: [{ UserId: '222233334444' }] } })).rejects.toMatchObject({ name: 'InvalidParameterValue' });
    await expect(call('DescribeSnapshotAttribute', { SnapshotId: 'snap-0000000000000000f', Attribute: 'createVolumePermission' })).rejects.toMatchObject({ name: 'InvalidSnapshot.NotFound' });
  });
});

describe('simulated DeleteSnapshot', () => {
  it('fails with InvalidSnapshot.InUse while an AMI uses the snapshot, and deletes it once deregistered', async () => {
    // Prepare
    const { account, call, add } = setUp();
    await add('222233334444');
    account.snapshotSharing.registerImageUsing(SNAP, 'ami-0aaaaaaaaaaaaaaaa');
    // Act + Assess
    await expect(call('DeleteSnapshot', { SnapshotId: SNAP })).rejects.toMatchObject({ name: 'InvalidSnapshot.InUse', message: expect.stringMatching(/ami-0aaaaaaaaaaaaaaaa/) });
    account.snapshotSharing.deregisterImageUsing(SNAP);
    await call('DeleteSnapshot', { SnapshotId: SNAP });
    expect(account.ec2.snapshots.get(SNAP)!.deleted).toBe(true);
    expect(account.snapshotSharing.sharedWith(SNAP)).toEqual([]);
    await expect(call('DeleteSnapshot', { SnapshotId: SNAP })).rejects.toMatchObject({ name: 'InvalidSnapshot.NotFound' });
  });
});

describe('simulated GetExecutionHistory', () => {
  const arn = 'arn:aws:states:us-west-2:111122223333:execution:sm:run-1';
  const history: HistoryEvent[] = [1, 2, 3].map((id) => ({
    id,
    previousEventId: id - 1,
    timestamp: id * 1000,
    type: 'PassStateEntered',
    stateEnteredEventDetails: { name: `S${id}`, input: '{"secret":1}', inputDetails: { truncated: false } },
  }));
  const setUpHistory = () => {
    const account = createSimulatedAccount();
    account.sfn.executions.set(arn, { executionArn: arn, stateMachineArn: 'arn:aws:states:us-west-2:111122223333:stateMachine:sm', name: 'run-1', input: '{}', status: 'FAILED', startDate: new Date(0), history });
    return (input: Record<string, unknown>) => account.core.handle('sfn', 'GetExecutionHistory', { executionArn: arn, ...input }) as Promise<{ events: { id: number; stateEnteredEventDetails: Record<string, unknown> }[]; nextToken?: string }>;
  };

  it('pages newest first with reverseOrder and leaves data out on request', async () => {
    const call = setUpHistory();
    const first = await call({ reverseOrder: true, maxResults: 2, includeExecutionData: false });
    const second = await call({ reverseOrder: true, maxResults: 2, nextToken: first.nextToken });
    expect(first.events.map((e) => e.id)).toEqual([3, 2]);
    expect(first.events[0]!.stateEnteredEventDetails).toEqual({ name: 'S3', inputDetails: { truncated: false } });
    expect(second).toEqual({ events: [expect.objectContaining({ id: 1 })] });
  });

  it('fails when the execution does not exist or maxResults is over 1000', async () => {
    const call = setUpHistory();
    await expect(call({ executionArn: `${arn}-missing` })).rejects.toMatchObject({ name: 'ExecutionDoesNotExist' });
    await expect(call({ maxResults: 1001 })).rejects.toMatchObject({ name: 'ValidationException' });
  });
});
