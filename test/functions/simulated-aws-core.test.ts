import { DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import { afterEach, describe, expect, it } from 'vitest';
import { ec2 } from '../../functions/lib/clients/ec2';
import { callAws } from '../../functions/lib/errors';
import { FAULTS, SimulatedAwsCore } from '../../simulation/aws/core';
import { installSimulatedAws } from '../../simulation/aws/install';

describe('simulated AWS core', () => {
  let uninstall: () => void = () => undefined;
  afterEach(() => uninstall());

  it('routes SDK commands to the registered operation and records them', async () => {
    // Prepare
    const account = new SimulatedAwsCore();
    account.register('ec2', { DescribeInstances: () => ({ Reservations: [{ Instances: [{ InstanceId: 'i-1' }] }] }) });
    uninstall = installSimulatedAws(account);
    // Act
    const out = await ec2.send(new DescribeInstancesCommand({ InstanceIds: ['i-1'] }));
    // Assess
    expect(out.Reservations?.[0]?.Instances?.[0]?.InstanceId).toBe('i-1');
    expect(account.callsOf('ec2', 'DescribeInstances')).toHaveLength(1);
  });

  it('injects a throttle that the factory translates into its retryable error', async () => {
    const account = new SimulatedAwsCore();
    account.register('ec2', { DescribeInstances: () => ({ Reservations: [] }) });
    account.inject(FAULTS.throttle('ec2', 'DescribeInstances', 1));
    uninstall = installSimulatedAws(account);
    const call = () => callAws('ec2:DescribeInstances', () => ec2.send(new DescribeInstancesCommand({})));
    await expect(call()).rejects.toMatchObject({ name: 'TransientAwsError' });
    await expect(call()).resolves.toMatchObject({ Reservations: [] });
  });

  it('fails loudly when an operation is not simulated', async () => {
    const account = new SimulatedAwsCore();
    uninstall = installSimulatedAws(account);
    await expect(ec2.send(new DescribeInstancesCommand({}))).rejects.toThrow(/does not implement ec2:DescribeInstances/);
  });
});
