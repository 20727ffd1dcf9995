import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { handler as launch } from '../../functions/launch-instance';
import { handler as terminate } from '../../functions/terminate-instance';
import type { SimulatedAccount } from '../../simulation/aws/account';
import { FAULTS } from '../../simulation/aws/core';
import { buildTarget, simulatedAws } from './ec2-fixtures';

describe('terminate-instance', () => {
  let account: SimulatedAccount;
  let restore: () => void;
  beforeEach(() => ({ account, restore } = simulatedAws()));
  afterEach(() => restore());

  it('terminates the builder and EC2 deletes its volumes', async () => {
    const instance = await launch({ build: buildTarget() });
    vi.advanceTimersByTime(30_000);
    await expect(terminate({ instance })).resolves.toEqual({ terminatedInstanceIds: [instance.instanceId] });
    vi.advanceTimersByTime(60_000);
    expect(account.ec2.instanceState(instance.instanceId)).toBe('terminated');
    expect([...account.ec2.volumes.values()].every((v) => v.deleted)).toBe(true);
  });

  it('succeeds for an instance that is already terminated or no longer known', async () => {
    const instance = await launch({ build: buildTarget() });
    account.ec2.loseInstance(instance.instanceId);
    await expect(terminate({ instance })).resolves.toEqual({ terminatedInstanceIds: [instance.instanceId] });
    vi.advanceTimersByTime(2 * 3_600_000);
    await expect(terminate({ instance })).resolves.toEqual({ terminatedInstanceIds: [instance.instanceId] });
    await expect(terminate({ instance: { instanceId: 'i-0123456789abcdef0' } })).resolves.toMatchObject({ terminatedInstanceIds: ['i-0123456789abcdef0'] });
  });

  it('fails with the retryable TransientAwsError when EC2 throttles', async () => {
    const instance = await launch({ build: buildTarget() });
    account.core.inject(FAULTS.throttle('ec2', 'TerminateInstances'));
    await expect(terminate({ instance })).rejects.toMatchObject({ name: 'TransientAwsError' });
  });

  it('fails with AccessDeniedError when TerminateInstances is not allowed', async () => {
    const instance = await launch({ build: buildTarget() });
    account.core.inject(FAULTS.accessDenied('ec2', 'TerminateInstances'));
    await expect(terminate({ instance })).rejects.toMatchObject({ name: 'AccessDeniedError', message: expect.stringMatching(/^terminate-instance: /) });
  });

  it('fails when the instance ID is missing', async () => {
    await expect(terminate({ instance: {} })).rejects.toMatchObject({ name: 'InvalidInputError', message: expect.stringContaining('instance.instanceId') });
  });
});
