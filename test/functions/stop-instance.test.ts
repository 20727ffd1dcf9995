import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { handler as checkStopped } from '../../functions/check-instance-stopped';
import { handler as launch } from '../../functions/launch-instance';
import { handler as stop } from '../../functions/stop-instance';
import type { LaunchedInstance } from '../../functions/lib/schemas';
import type { SimulatedAccount } from '../../simulation/aws/account';
import { FAULTS } from '../../simulation/aws/core';
import { buildTarget, launchedBuilder, simulatedAws } from './ec2-fixtures';

describe('stop-instance', () => {
  let account: SimulatedAccount;
  let restore: () => void;
  let instance: LaunchedInstance;
  const build = buildTarget();
  beforeEach(async () => {
    ({ account, restore } = simulatedAws());
    instance = await launchedBuilder(build, { stopped: false });
  });
  afterEach(() => restore());

  it('stops the builder and reports stopped once EC2 has stopped it', async () => {
    // Act
    const stopRequest = await stop({ build, instance });
    const early = await checkStopped({ build, instance, stop: stopRequest });
    vi.advanceTimersByTime(60_000);
    const later = await checkStopped({ build, instance, stop: stopRequest });
    // Assess
    expect(early).toMatchObject({ stopped: false, state: 'stopping' });
    expect(later).toMatchObject({ stopped: true, state: 'stopped' });
    expect(account.ec2.instanceState(instance.instanceId)).toBe('stopped');
  });

  it('accepts a repeated stop of an instance that is already stopping or stopped', async () => {
    await stop({ build, instance });
    await expect(stop({ build, instance })).resolves.toHaveProperty('stopRequestedAt');
    vi.advanceTimersByTime(120_000);
    await expect(stop({ build, instance })).resolves.toHaveProperty('stopRequestedAt');
  });

  it('fails with InstanceLostError when the builder was terminated before the stop', async () => {
    account.ec2.loseInstance(instance.instanceId);
    await expect(stop({ build, instance })).rejects.toMatchObject({ name: 'InstanceLostError', message: expect.stringMatching(/terminated/) });
  });

  it('fails with AwsRequestError, not InstanceLostError, when EC2 refuses to stop a pending instance', async () => {
    const pending = await launch({ build: buildTarget({ executionName: 'another-run' }) });
    await expect(stop({ build, instance: pending })).rejects.toMatchObject({ name: 'AwsRequestError', message: expect.stringContaining('IncorrectInstanceState') });
  });

  it('fails with the retryable TransientAwsError when EC2 throttles', async () => {
    account.core.inject(FAULTS.throttle('ec2', 'StopInstances'));
    await expect(stop({ build, instance })).rejects.toMatchObject({ name: 'TransientAwsError' });
    const stopRequest = await stop({ build, instance });
    account.core.inject(FAULTS.serverError('ec2', 'DescribeInstances'));
    await expect(checkStopped({ build, instance, stop: stopRequest })).rejects.toMatchObject({ name: 'TransientAwsError' });
  });

  it('fails with AccessDeniedError when StopInstances is not allowed', async () => {
    account.core.inject(FAULTS.accessDenied('ec2', 'StopInstances'));
    await expect(stop({ build, instance })).rejects.toMatchObject({ name: 'AccessDeniedError' });
  });

});
