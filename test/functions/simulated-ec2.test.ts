import {
  CreateSnapshotCommand,
  DeleteSnapshotCommand,
  DescribeInstancesCommand,
  DescribeSnapshotsCommand,
  DescribeVolumesCommand,
  RunInstancesCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
  type RunInstancesCommandInput,
} from '@aws-sdk/client-ec2';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ec2 } from '../../functions/lib/clients/ec2';
import type { SimulatedAccount } from '../../simulation/aws/account';
import { architectureOfInstanceType } from '../../simulation/aws/ec2';
import { simulatedAws } from './ec2-fixtures';

describe('simulated EC2', () => {
  let account: SimulatedAccount;
  let restore: () => void;
  let amiX86: string;
  beforeEach(() => {
    ({ account, restore } = simulatedAws());
    amiX86 = account.parameters.parameters.get('/aws/service/bottlerocket/aws-k8s-1.35/x86_64/latest/image_id')!.Value;
  });
  afterEach(() => restore());

  const request = (overrides: Partial<RunInstancesCommandInput> = {}): RunInstancesCommandInput => ({
    ImageId: amiX86,
    InstanceType: 'm5.large',
    MinCount: 1,
    MaxCount: 1,
    BlockDeviceMappings: [
      { DeviceName: '/dev/xvda', Ebs: { VolumeSize: 10, VolumeType: 'gp3', DeleteOnTermination: true } },
      { DeviceName: '/dev/xvdb', Ebs: { VolumeSize: 50, VolumeType: 'gp3', DeleteOnTermination: true } },
    ],
    TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'team', Value: 'ml' }] }],
    ...overrides,
  });
  const runOne = async (overrides: Partial<RunInstancesCommandInput> = {}) =>
    (await ec2.send(new RunInstancesCommand(request(overrides)))).Instances![0]!.InstanceId!;
  const stateOf = async (id: string) =>
    (await ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }))).Reservations![0]!.Instances![0]!.State!.Name;

  it('moves an instance through pending, running, stopping, stopped over virtual time', async () => {
    const id = await runOne();
    expect(await stateOf(id)).toBe('pending');
    vi.advanceTimersByTime(20_000);
    expect(await stateOf(id)).toBe('running');
    expect(account.ec2.runningSince(id)).toBe(Date.parse('2026-11-24T12:00:20Z'));
    await ec2.send(new StopInstancesCommand({ InstanceIds: [id] }));
    expect(await stateOf(id)).toBe('stopping');
    vi.advanceTimersByTime(45_000);
    expect(await stateOf(id)).toBe('stopped');
  });

  it('refuses to stop a pending instance with IncorrectInstanceState', async () => {
    const id = await runOne();
    await expect(ec2.send(new StopInstancesCommand({ InstanceIds: [id] }))).rejects.toMatchObject({ name: 'IncorrectInstanceState' });
  });

  it('deletes DeleteOnTermination volumes on termination and forgets the instance an hour later', async () => {
    const id = await runOne();
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
    expect(await stateOf(id)).toBe('shutting-down');
    vi.advanceTimersByTime(30_000);
    expect(await stateOf(id)).toBe('terminated');
    expect([...account.ec2.volumes.values()].every((v) => v.deleted)).toBe(true);
    vi.advanceTimersByTime(3_600_000);
    await expect(stateOf(id)).rejects.toMatchObject({ name: 'InvalidInstanceID.NotFound' });
  });

  it('answers unknown and malformed instance IDs with EC2 error codes', async () => {
    await expect(stateOf('i-0123456789abcdef0')).rejects.toMatchObject({ name: 'InvalidInstanceID.NotFound' });
    await expect(stateOf('i-xyz')).rejects.toMatchObject({ name: 'InvalidInstanceID.Malformed' });
  });

  it('filters instances by tag and state', async () => {
    const tagged = await runOne();
    await runOne({ TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'team', Value: 'web' }] }] });
    const out = await ec2.send(
      new DescribeInstancesCommand({ Filters: [{ Name: 'tag:team', Values: ['ml'] }, { Name: 'instance-state-name', Values: ['pending'] }] }),
    );
    expect(out.Reservations!.flatMap((r) => r.Instances!).map((i) => i.InstanceId)).toEqual([tagged]);
  });

  it('returns the same reservation for a repeated ClientToken and rejects it with other parameters', async () => {
    const first = await runOne({ ClientToken: 'token-1' });
    expect(await runOne({ ClientToken: 'token-1' })).toBe(first);
    await expect(runOne({ ClientToken: 'token-1', InstanceType: 'm6i.large' })).rejects.toMatchObject({ name: 'IdempotentParameterMismatch' });
    await expect(runOne({ ClientToken: 't'.repeat(65) })).rejects.toMatchObject({ name: 'InvalidParameterValue' });
    expect(account.ec2.liveInstances()).toHaveLength(1);
  });

  it('rejects an AMI of the other architecture, an unknown AMI and bad parameters', async () => {
    // Eight launches: half a second apart, as RunInstances' bucket (5 requests, 2 a second refilled,
    // simulation/aws/ec2-throttling.ts) sustains; in one instant the sixth would be throttled
    const spaced = (overrides: Partial<RunInstancesCommandInput>) => {
      vi.advanceTimersByTime(500);
      return runOne(overrides);
    };
    await expect(spaced({ InstanceType: 'c7g.large' })).rejects.toMatchObject({ name: 'InvalidParameterValue', message: expect.stringMatching(/architecture/) });
    await expect(spaced({ ImageId: 'ami-0123456789abcdef0' })).rejects.toMatchObject({ name: 'InvalidAMIID.NotFound' });
    await expect(spaced({ MaxCount: 0 })).rejects.toMatchObject({ name: 'InvalidParameterValue' });
    await expect(spaced({ MetadataOptions: { HttpPutResponseHopLimit: 65 } })).rejects.toMatchObject({ name: 'InvalidParameterValue' });
    await expect(spaced({ UserData: 'not base64!' })).rejects.toMatchObject({ name: 'InvalidParameterValue' });
    await expect(
      spaced({ TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'k', Value: 'v'.repeat(257) }] }] }),
    ).rejects.toMatchObject({ name: 'InvalidParameterValue' });
    await expect(
      spaced({ TagSpecifications: [{ ResourceType: 'instance', Tags: Array.from({ length: 51 }, (_, i) => ({ Key: `k${i}`, Value: 'v' })) }] }),
    ).rejects.toMatchObject({ name: 'TagLimitExceeded' });
    await expect(spaced({ SubnetId: 'subnet-1', NetworkInterfaces: [{ DeviceIndex: 0, SubnetId: 'subnet-1' }] })).rejects.toMatchObject({
      name: 'InvalidParameterCombination',
    });
    expect(account.ec2.liveInstances()).toHaveLength(0);
  });

  it('fails when a subnet or security group is not one the account holds, once the account holds some', async () => {
    // Prepare
    const subnet = 'subnet-0123456789abcdef0';
    const group = 'sg-0123456789abcdef0';
    account.ec2.registerNetwork({ subnetIds: [subnet], securityGroupIds: [group] });
    const nic = (SubnetId: string, Groups: string[]) => ({ NetworkInterfaces: [{ DeviceIndex: 0, SubnetId, Groups }] });
    // Act / Assess
    await expect(runOne(nic('subnet-0fffffffffffffff0', [group]))).rejects.toMatchObject({ name: 'InvalidSubnetID.NotFound', message: "The subnet ID 'subnet-0fffffffffffffff0' does not exist" });
    await expect(runOne(nic(subnet, ['sg-0fffffffffffffff0']))).rejects.toMatchObject({ name: 'InvalidGroup.NotFound', message: "The security group 'sg-0fffffffffffffff0' does not exist" });
    await expect(runOne(nic(subnet, [group]))).resolves.toMatch(/^i-/);
  });

  it('knows the architecture of instance type families', () => {
    expect(['m7g.large', 'c6gn.xlarge', 't4g.micro', 'r8g.2xlarge', 'x2gd.large', 'im4gn.large', 'is4gen.large', 'g5g.xlarge', 'a1.large'].map(architectureOfInstanceType)).toEqual(
      Array(9).fill('arm64'),
    );
    expect(['m5.large', 'm7i.large', 'm7i-flex.large', 'c6a.large', 'g4dn.xlarge', 'g5.xlarge', 'p5.48xlarge', 'inf2.xlarge'].map(architectureOfInstanceType)).toEqual(
      Array(8).fill('x86_64'),
    );
  });

  it('describes the volumes an instance launched with, tagged from the volume TagSpecification', async () => {
    const id = await runOne({
      TagSpecifications: [{ ResourceType: 'volume', Tags: [{ Key: 'snapshot-factory:managed', Value: 'true' }] }],
    });
    const out = await ec2.send(new DescribeVolumesCommand({ Filters: [{ Name: 'attachment.instance-id', Values: [id] }] }));
    expect(out.Volumes!.map((v) => [v.Attachments![0]!.Device, v.Size, v.State])).toEqual([
      ['/dev/xvda', 10, 'in-use'],
      ['/dev/xvdb', 50, 'in-use'],
    ]);
    for (const volume of out.Volumes!) expect(volume.Tags).toEqual([{ Key: 'snapshot-factory:managed', Value: 'true' }]);
    await expect(ec2.send(new DescribeVolumesCommand({ VolumeIds: ['vol-0123456789abcdef0'] }))).rejects.toMatchObject({ name: 'InvalidVolume.NotFound' });
  });

  it('pages DescribeInstances results with MaxResults and NextToken, and refuses MaxResults with IDs', async () => {
    account.ec2.options.pageLimit = 2;
    for (let i = 0; i < 3; i += 1) await runOne();
    const first = await ec2.send(new DescribeInstancesCommand({ MaxResults: 5 }));
    const second = await ec2.send(new DescribeInstancesCommand({ MaxResults: 5, NextToken: first.NextToken }));
    expect(first.Reservations!.flatMap((r) => r.Instances!)).toHaveLength(2);
    expect(second.Reservations!.flatMap((r) => r.Instances!)).toHaveLength(1);
    expect(second.NextToken).toBeUndefined();
    expect((await ec2.send(new DescribeInstancesCommand({}))).Reservations).toHaveLength(3);
    await expect(ec2.send(new DescribeInstancesCommand({ MaxResults: 4 }))).rejects.toMatchObject({ name: 'InvalidParameterValue' });
    const id = account.ec2.liveInstances()[0]!.InstanceId;
    await expect(ec2.send(new DescribeInstancesCommand({ MaxResults: 5, InstanceIds: [id] }))).rejects.toMatchObject({ name: 'InvalidParameterCombination' });
  });

  it('rejects a snapshot description over 255 characters and an unknown volume', async () => {
    await runOne();
    const volumeId = [...account.ec2.volumes.keys()][1]!;
    await expect(ec2.send(new CreateSnapshotCommand({ VolumeId: volumeId, Description: 'd'.repeat(256) }))).rejects.toMatchObject({
      name: 'InvalidParameterValue',
    });
    await expect(ec2.send(new CreateSnapshotCommand({ VolumeId: 'vol-0123456789abcdef0' }))).rejects.toMatchObject({ name: 'InvalidVolume.NotFound' });
  });

  it('completes a snapshot in time proportional to the data written, and deletes it on request', async () => {
    const id = await runOne();
    account.ec2.recordDataWritten(id, 6);
    const volumeId = [...account.ec2.volumes.keys()][1]!;
    const { SnapshotId } = await ec2.send(new CreateSnapshotCommand({ VolumeId: volumeId }));
    const describe = async () => (await ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [SnapshotId!] }))).Snapshots![0]!;
    vi.advanceTimersByTime(165_000);
    expect(await describe()).toMatchObject({ State: 'pending', Progress: '50%' });
    vi.advanceTimersByTime(165_000);
    expect(await describe()).toMatchObject({ State: 'completed', Progress: '100%' });
    await ec2.send(new DeleteSnapshotCommand({ SnapshotId }));
    await expect(describe()).rejects.toMatchObject({ name: 'InvalidSnapshot.NotFound' });
    await expect(ec2.send(new DeleteSnapshotCommand({ SnapshotId }))).rejects.toMatchObject({ name: 'InvalidSnapshot.NotFound' });
  });

  it('refuses an instance type without capacity until it is restored', async () => {
    account.ec2.refuseInstanceType('m5.large');
    await expect(runOne()).rejects.toMatchObject({ name: 'InsufficientInstanceCapacity' });
    account.ec2.restoreInstanceType('m5.large');
    await expect(runOne()).resolves.toMatch(/^i-/);
  });
});
