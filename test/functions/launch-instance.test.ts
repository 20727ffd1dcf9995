import { Buffer } from 'node:buffer';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { clientTokenFor, handler } from '../../functions/launch-instance';
import { FAULTS } from '../../simulation/aws/core';
import type { SimulatedAccount } from '../../simulation/aws/account';
import { buildTarget, simulatedAws } from './ec2-fixtures';

describe('launch-instance', () => {
  let account: SimulatedAccount;
  let restore: () => void;
  beforeEach(() => ({ account, restore } = simulatedAws()));
  afterEach(() => restore());

  it('launches one tagged, IMDSv2-only builder with the OS and data volumes the build asks for', async () => {
    // Prepare
    const build = buildTarget({ dataVolume: { sizeGiB: 80, iops: 6000, throughputMiBps: 500, encrypted: true, kmsKeyArn: 'alias/cache' } });
    // Act
    const out = await handler({ build });
    // Assess
    expect(out).toMatchObject({ instanceType: 'm7i.large', amiId: expect.stringMatching(/^ami-/), launchedAt: '2026-11-24T12:00:00.000Z' });
    const request = account.core.callsOf('ec2', 'RunInstances')[0]!.input as Record<string, any>;
    expect(Buffer.from(request.UserData, 'base64').toString()).toContain('[settings.host-containers.admin]\nenabled = true');
    expect(request.MetadataOptions).toEqual({ HttpTokens: 'required', HttpEndpoint: 'enabled', HttpPutResponseHopLimit: 1 });
    expect(request.InstanceInitiatedShutdownBehavior).toBe('stop');
    expect(request.ClientToken.length).toBeLessThanOrEqual(64);
    expect(request.BlockDeviceMappings).toEqual([
      { DeviceName: '/dev/xvda', Ebs: { VolumeSize: 10, VolumeType: 'gp3', Encrypted: true, DeleteOnTermination: true } },
      {
        DeviceName: '/dev/xvdb',
        Ebs: { VolumeSize: 80, VolumeType: 'gp3', Iops: 6000, Throughput: 500, Encrypted: true, KmsKeyId: 'alias/cache', DeleteOnTermination: true },
      },
    ]);
    const [instance] = account.ec2.liveInstances();
    expect(instance!.Tags).toEqual(expect.arrayContaining([
      { Key: 'snapshot-factory:managed', Value: 'true' },
      { Key: 'snapshot-factory:execution', Value: 'nightly-2026-11-24' },
      { Key: 'snapshot-factory:architecture', Value: 'x86_64' },
    ]));
    const volumes = [...account.ec2.volumes.values()];
    expect(volumes).toHaveLength(2);
    for (const volume of volumes) expect(volume.Tags).toContainEqual({ Key: 'snapshot-factory:execution', Value: 'nightly-2026-11-24' });
  });

  it('puts the subnet, security groups and public-IP choice on the network interface when a subnet is given', async () => {
    await handler({ build: buildTarget({ subnetIds: ['subnet-0123456789abcdef0'], securityGroupIds: ['sg-1'], associatePublicIp: false }) });
    const request = account.core.callsOf('ec2', 'RunInstances')[0]!.input as Record<string, any>;
    expect(request.NetworkInterfaces).toEqual([
      { DeviceIndex: 0, SubnetId: 'subnet-0123456789abcdef0', AssociatePublicIpAddress: false, DeleteOnTermination: true, Groups: ['sg-1'] },
    ]);
    expect(request.SecurityGroupIds).toBeUndefined();
    expect(request.TagSpecifications.map((s: { ResourceType: string }) => s.ResourceType)).toEqual(['instance', 'volume', 'network-interface']);
  });

  it('starts one instance when the launch is called twice', async () => {
    const build = buildTarget();
    const first = await handler({ build });
    const second = await handler({ build });
    expect(second.instanceId).toBe(first.instanceId);
    expect(account.ec2.liveInstances()).toHaveLength(1);
  });

  it('returns the same instance when a retry repeats a request whose answer was lost', async () => {
    // Prepare: the first RunInstances succeeds in EC2 but its answer is lost, and the tag lookup is not yet consistent.
    const build = buildTarget();
    await handler({ build });
    const lookups = account.core.callsOf('ec2', 'DescribeInstances').length;
    account.core.register('ec2', { DescribeInstances: () => ({ Reservations: [] }) });
    // Act
    const again = await handler({ build });
    // Assess: EC2 honoured the ClientToken
    expect(account.core.callsOf('ec2', 'RunInstances')).toHaveLength(2);
    expect(account.core.callsOf('ec2', 'DescribeInstances').length).toBe(lookups + 1);
    expect(account.ec2.liveInstances()).toHaveLength(1);
    expect(again.instanceId).toBe(account.ec2.liveInstances()[0]!.InstanceId);
  });

  it('derives a distinct client token per instance type, within 64 characters even for the longest execution name', () => {
    const build = buildTarget({ executionName: 'x'.repeat(80) });
    const tokens = new Set(build.instanceTypes.map((type) => clientTokenFor(build, type)));
    expect(tokens.size).toBe(3);
    for (const token of tokens) expect(token.length).toBeLessThanOrEqual(64);
  });

  it('tries the instance types in order while EC2 has no capacity or does not support them', async () => {
    account.ec2.refuseInstanceType('m7i.large', 'InsufficientInstanceCapacity');
    account.ec2.refuseInstanceType('m6i.large', 'Unsupported');
    const out = await handler({ build: buildTarget() });
    expect(out.instanceType).toBe('m5.large');
    expect(account.core.callsOf('ec2', 'RunInstances').map((c) => (c.input as { InstanceType: string }).InstanceType)).toEqual([
      'm7i.large',
      'm6i.large',
      'm5.large',
    ]);
  });

  it('tries each subnet for a type before the next type, since capacity is per Availability Zone', async () => {
    // Prepare
    const subnetIds = ['subnet-0000000000000000a', 'subnet-0000000000000000b'];
    account.ec2.refuseInstanceType('m7i.large', 'InsufficientInstanceCapacity', subnetIds[0]);
    // Act
    const out = await handler({ build: buildTarget({ subnetIds }) });
    // Assess
    expect(out.instanceType).toBe('m7i.large');
    const calls = account.core.callsOf('ec2', 'RunInstances').map((c) => c.input as { InstanceType: string; ClientToken: string; NetworkInterfaces: { SubnetId: string }[] });
    expect(calls.map((c) => `${c.InstanceType}@${c.NetworkInterfaces[0]!.SubnetId}`)).toEqual(['m7i.large@subnet-0000000000000000a', 'm7i.large@subnet-0000000000000000b']);
    expect(new Set(calls.map((c) => c.ClientToken)).size).toBe(2);
  });

  it('fails with InstanceCapacityError naming each type in each subnet when every one is refused', async () => {
    // Prepare
    const subnetIds = ['subnet-0000000000000000a', 'subnet-0000000000000000b'];
    for (const type of ['m7i.large', 'm6i.large', 'm5.large']) account.ec2.refuseInstanceType(type);
    // Act: six launches in a row exceed RunInstances' bucket of 5, refilled 2 a second ("Request throttling for the
    // Amazon EC2 API"); the SDK retries the sixth after its backoff (random x 1 s x 2^retry, on the fake clock),
    // drawn at 0.99 so that its third attempt comes after the refill
    const random = vi.spyOn(Math, 'random').mockReturnValue(0.99);
    const failure = handler({ build: buildTarget({ subnetIds }) });
    const settled = expect(failure).rejects.toMatchObject({ name: 'InstanceCapacityError', message: expect.stringMatching(/m5\.large in subnet-0000000000000000b \(InsufficientInstanceCapacity/) });
    await vi.advanceTimersByTimeAsync(10_000);
    random.mockRestore();
    // Assess
    await settled;
    const calls = account.core.callsOf('ec2', 'RunInstances');
    expect(calls.filter((c) => c.error !== 'RequestLimitExceeded')).toHaveLength(6);
    expect(calls.filter((c) => c.error === 'RequestLimitExceeded').length).toBeGreaterThan(0);
  });

  it('fails with InstanceCapacityError naming each type and its reason when every type is refused', async () => {
    account.ec2.refuseInstanceType('m7i.large');
    account.ec2.refuseInstanceType('m6i.large', 'VcpuLimitExceeded');
    account.ec2.refuseInstanceType('m5.large', 'InstanceLimitExceeded');
    const error = await handler({ build: buildTarget() }).catch((e: Error) => e);
    expect(error).toMatchObject({ name: 'InstanceCapacityError' });
    expect((error as Error).message).toMatch(/^launch-instance: /);
    expect((error as Error).message).toMatch(/m7i\.large \(InsufficientInstanceCapacity.*m6i\.large \(VcpuLimitExceeded.*m5\.large \(InstanceLimitExceeded/);
    expect(account.ec2.liveInstances()).toHaveLength(0);
  });

  it('skips an instance type of the other architecture and launches the next', async () => {
    const out = await handler({ build: buildTarget({ instanceTypes: ['m7g.large', 'm7i.large'] }) });
    expect(out.instanceType).toBe('m7i.large');
  });

  it('fails with InvalidInputError when no instance type matches the AMI architecture', async () => {
    const build = buildTarget({ architecture: 'arm64', amiParameter: '/aws/service/bottlerocket/aws-k8s-1.35/arm64/latest/image_id' });
    await expect(handler({ build })).rejects.toMatchObject({ name: 'InvalidInputError', message: expect.stringMatching(/arm64/) });
  });

  it('fails with AmiNotFoundError when the AMI parameter does not exist', async () => {
    const build = buildTarget({ amiParameter: '/aws/service/bottlerocket/aws-k8s-1.99/x86_64/latest/image_id' });
    await expect(handler({ build })).rejects.toMatchObject({ name: 'AmiNotFoundError', message: expect.stringContaining('aws-k8s-1.99') });
  });

  it('fails with AmiNotFoundError when the parameter holds no AMI ID', async () => {
    account.parameters.seed('/custom/ami', 'not-an-ami');
    await expect(handler({ build: buildTarget({ amiParameter: '/custom/ami' }) })).rejects.toMatchObject({ name: 'AmiNotFoundError' });
  });

  it('fails with the retryable TransientAwsError when EC2 throttles', async () => {
    account.core.inject(FAULTS.throttle('ec2', 'RunInstances'));
    await expect(handler({ build: buildTarget() })).rejects.toMatchObject({ name: 'TransientAwsError' });
    await expect(handler({ build: buildTarget() })).resolves.toMatchObject({ instanceType: 'm7i.large' });
    expect(account.ec2.liveInstances()).toHaveLength(1);
  });

  it('fails with AccessDeniedError when RunInstances is not allowed', async () => {
    account.core.inject(FAULTS.accessDenied('ec2', 'RunInstances'));
    await expect(handler({ build: buildTarget() })).rejects.toMatchObject({ name: 'AccessDeniedError' });
  });

  it('fails with AwsRequestError when the data volume asks for more IOPS than its size allows', async () => {
    const build = buildTarget({ dataVolume: { sizeGiB: 8, iops: 16000, throughputMiBps: 125, encrypted: false } });
    await expect(handler({ build })).rejects.toMatchObject({ name: 'AwsRequestError', message: expect.stringMatching(/IOPS per GiB/) });
  });

  it('fails when the build is missing', async () => {
    await expect(handler({})).rejects.toMatchObject({ name: 'InvalidInputError', message: expect.stringContaining('build') });
  });
});
