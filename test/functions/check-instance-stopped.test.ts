import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { handler as checkStopped } from '../../functions/check-instance-stopped';
import { handler as stop } from '../../functions/stop-instance';
import type { LaunchedInstance } from '../../functions/lib/schemas';
import type { SimulatedAccount } from '../../simulation/aws/account';
import { FAULTS } from '../../simulation/aws/core';
import { buildTarget, launchedBuilder, simulatedAws } from './ec2-fixtures';

describe('check-instance-stopped', () => {
  let account: SimulatedAccount;
  let restore: () => void;
  let instance: LaunchedInstance;
  const build = buildTarget();
  beforeEach(async () => {
    ({ account, restore } = simulatedAws());
    instance = await launchedBuilder(build, { stopped: false });
  });
  afterEach(() => restore());

  it('reports not stopped while the builder is stopping and stopped once EC2 has stopped it', async () => {
    const stopRequest = await stop({ build, instance });
    vi.advanceTimersByTime(30_000);
    await expect(checkStopped({ build, instance, stop: stopRequest })).resolves.toMatchObject({ stopped: false, state: 'stopping' });
    vi.advanceTimersByTime(30_000);
    await expect(checkStopped({ build, instance, stop: stopRequest })).resolves.toMatchObject({ stopped: true, state: 'stopped' });
  });

  it('asks to look again no sooner than a stop can end, then after a tenth of the wait', async () => {
    // Prepare
    const stopRequest = await stop({ build, instance });
    // Act
    const first = await checkStopped({ build, instance, stop: stopRequest });
    vi.advanceTimersByTime(30_000);
    const later = await checkStopped({ build, instance, stop: stopRequest });
    // Assess: a stop takes tens of seconds (STOP_EARLIEST_SECONDS 20), then 10 % of the 30 s waited.
    expect(first).toMatchObject({ stopped: false, nextCheckSeconds: 20 });
    expect(later).toMatchObject({ stopped: false, nextCheckSeconds: 3 });
  });

  it('fails with the retryable TransientAwsError when DescribeInstances fails with a server error', async () => {
    const stopRequest = await stop({ build, instance });
    account.core.inject(FAULTS.serverError('ec2', 'DescribeInstances'));
    await expect(checkStopped({ build, instance, stop: stopRequest })).rejects.toMatchObject({ name: 'TransientAwsError' });
  });

  it('fails with InstanceLostError when the builder vanished while stopping', async () => {
    const stopRequest = await stop({ build, instance });
    account.ec2.loseInstance(instance.instanceId, { vanish: true });
    await expect(checkStopped({ build, instance, stop: stopRequest })).rejects.toMatchObject({ name: 'InstanceLostError' });
  });

  it('fails with InstanceLostError when the builder terminated while stopping', async () => {
    const stopRequest = await stop({ build, instance });
    account.ec2.loseInstance(instance.instanceId);
    await expect(checkStopped({ build, instance, stop: stopRequest })).rejects.toMatchObject({
      name: 'InstanceLostError',
      message: expect.stringMatching(/^check-instance-stopped: .*terminated/),
    });
  });

  it('fails with StopTimeoutError naming the limit once the stop takes longer than limits.stopSeconds', async () => {
    account.ec2.neverFinish('stop');
    const stopRequest = await stop({ build, instance });
    vi.advanceTimersByTime(590_000);
    await expect(checkStopped({ build, instance, stop: stopRequest })).resolves.toMatchObject({ stopped: false });
    vi.advanceTimersByTime(20_000);
    await expect(checkStopped({ build, instance, stop: stopRequest })).rejects.toMatchObject({
      name: 'StopTimeoutError',
      message: expect.stringMatching(/600 s.*limits\.stopSeconds/),
    });
  });

  it('fails when the stop timestamp is missing', async () => {
    await expect(checkStopped({ build, instance })).rejects.toMatchObject({ name: 'InvalidInputError', message: expect.stringContaining('stop') });
  });
});
