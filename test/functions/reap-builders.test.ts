import { StartExecutionCommand } from '@aws-sdk/client-sfn';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { sfn } from '../../functions/lib/clients';
import { handler as launch } from '../../functions/launch-instance';
import { executionArn, handler as reap } from '../../functions/reap-builders';
import type { SimulatedAccount } from '../../simulation/aws/account';
import { FAULTS } from '../../simulation/aws/core';
import { buildTarget, simulatedAws } from './ec2-fixtures';

const STATE_MACHINE_ARN = 'arn:aws:states:us-west-2:111122223333:stateMachine:SnapshotFactory';

describe('reap-builders', () => {
  let account: SimulatedAccount;
  let restore: () => void;
  beforeEach(() => {
    ({ account, restore } = simulatedAws());
    vi.stubEnv('STATE_MACHINE_ARN', STATE_MACHINE_ARN);
  });
  /** An execution in the simulated Step Functions, left in `status`. */
  const execution = async (name: string, status: 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'ABORTED') => {
    const { executionArn: arn } = await sfn.send(new StartExecutionCommand({ stateMachineArn: STATE_MACHINE_ARN, name, input: '{}' }));
    account.sfn.executions.get(arn!)!.status = status;
  };
  afterEach(() => {
    vi.unstubAllEnvs();
    restore();
  });

  const builderOf = async (executionName: string) => (await launch({ build: buildTarget({ executionName }) })).instanceId;

  it('terminates old builders whose execution is no longer running and keeps the rest', async () => {
    // Prepare
    const aborted = await builderOf('aborted-run');
    const vanished = await builderOf('deleted-run');
    const running = await builderOf('long-run');
    await execution('aborted-run', 'ABORTED');
    await execution('long-run', 'RUNNING');
    vi.advanceTimersByTime(7 * 3_600_000);
    const young = await builderOf('fresh-run');
    // Act
    const out = await reap({});
    // Assess
    expect(out.terminatedInstanceIds.sort()).toEqual([aborted, vanished].sort());
    expect(out.skipped).toEqual(
      expect.arrayContaining([
        { instanceId: running, reason: 'execution long-run is RUNNING' },
        { instanceId: young, reason: 'younger than 6 h' },
      ]),
    );
    vi.advanceTimersByTime(60_000);
    expect(account.ec2.liveInstances().map((i) => i.InstanceId).sort()).toEqual([running, young].sort());
  });

  it('reads every page of managed instances', async () => {
    account.ec2.options.pageLimit = 2;
    const ids = [];
    for (const name of ['a-run', 'b-run', 'c-run', 'd-run', 'e-run']) ids.push(await builderOf(name));
    vi.advanceTimersByTime(7 * 3_600_000);
    const out = await reap({});
    expect(out.terminatedInstanceIds.sort()).toEqual(ids.sort());
    expect(account.core.callsOf('ec2', 'DescribeInstances').filter((c) => (c.input as { MaxResults?: number }).MaxResults)).toHaveLength(3);
  });

  it('builds the execution ARN from the state machine ARN', () => {
    expect(executionArn(STATE_MACHINE_ARN, 'run-1')).toBe('arn:aws:states:us-west-2:111122223333:execution:SnapshotFactory:run-1');
  });

  it('takes the age limit from MAX_BUILDER_AGE_HOURS, and the event over the environment', async () => {
    await builderOf('gone-run');
    vi.advanceTimersByTime(2 * 3_600_000);
    vi.stubEnv('MAX_BUILDER_AGE_HOURS', '1');
    await expect(reap({ dryRun: true })).resolves.toMatchObject({ terminatedInstanceIds: [expect.any(String)], maxAgeHours: 1, dryRun: true });
    await expect(reap({ maxAgeHours: 3 })).resolves.toMatchObject({ terminatedInstanceIds: [], maxAgeHours: 3 });
    expect(account.core.callsOf('ec2', 'TerminateInstances')).toHaveLength(0);
  });

  it('leaves a builder alone when its execution cannot be checked', async () => {
    await builderOf('unknown-run');
    vi.advanceTimersByTime(7 * 3_600_000);
    account.core.inject(FAULTS.throttle('sfn', 'DescribeExecution'));
    const out = await reap({});
    expect(out.terminatedInstanceIds).toEqual([]);
    expect(out.skipped[0]!.reason).toMatch(/could not be checked/);
  });

  it('fails when STATE_MACHINE_ARN is not set', async () => {
    vi.stubEnv('STATE_MACHINE_ARN', '');
    await expect(reap({})).rejects.toMatchObject({ name: 'InvalidInputError', message: expect.stringContaining('STATE_MACHINE_ARN') });
  });

  it('fails when MAX_BUILDER_AGE_HOURS is not a positive number', async () => {
    vi.stubEnv('MAX_BUILDER_AGE_HOURS', 'six');
    await expect(reap({})).rejects.toMatchObject({ name: 'InvalidInputError', message: expect.stringContaining('six') });
  });

  it('fails with the retryable TransientAwsError when EC2 throttles', async () => {
    account.core.inject(FAULTS.throttle('ec2', 'DescribeInstances'));
    await expect(reap({})).rejects.toMatchObject({ name: 'TransientAwsError' });
  });
});
