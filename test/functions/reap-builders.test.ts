import { StartExecutionCommand } from '@aws-sdk/client-sfn';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { sfn } from '../../functions/lib/clients/sfn';
import { handler as launch } from '../../functions/launch-instance';
import { executionArn, handler as reap } from '../../functions/reap-builders';
import type { SimulatedAccount } from '../../simulation/aws/account';
import { FAULTS } from '../../simulation/aws/core';
import { buildTarget, simulatedAws, verifiedPull } from './ec2-fixtures';
import { handler as createSnapshot } from '../../functions/create-snapshot';
import { TAG_PUBLISHED_AT, snapshotIdParameterName } from '../../functions/lib/current-snapshot';
import { TAG_RETAIN } from '../../functions/lib/snapshot-ownership';
import { handler as copySnapshot } from '../../functions/copy-snapshot';
import { regionOf } from '../../simulation/aws/regions';

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

  /** A snapshot of execution `executionName`'s builder; `fail` makes it end in `error`, `stuck` keeps it pending. */
  const snapshotOf = async (executionName: string, how: 'complete' | 'fail' | 'stuck' = 'complete') => {
    const build = buildTarget({ executionName });
    const instance = await launch({ build });
    vi.advanceTimersByTime(60_000);
    if (how === 'fail') account.ec2.snapshotWillFail();
    const snapshot = await createSnapshot({ build, instance, pullStatus: verifiedPull(build) });
    if (how === 'stuck') account.ec2.snapshots.get(snapshot.snapshotId!)!.neverFinish = true;
    return snapshot.snapshotId!;
  };

  it('deletes the snapshots ended executions never published, after the grace period, and keeps the rest', async () => {
    // Prepare: ended executions' orphans (pending, error, completed), and snapshots that must stay
    const pending = await snapshotOf('timed-out-run', 'stuck');
    const failed = await snapshotOf('failed-run', 'fail');
    const orphan = await snapshotOf('sibling-failed-run');
    const current = await snapshotOf('published-run');
    const superseded = await snapshotOf('older-run');
    const retained = await snapshotOf('kept-run');
    const running = await snapshotOf('long-run');
    for (const name of ['timed-out-run', 'failed-run', 'sibling-failed-run', 'kept-run']) await execution(name, 'FAILED');
    for (const name of ['published-run', 'older-run']) await execution(name, 'SUCCEEDED');
    await execution('long-run', 'RUNNING');
    vi.advanceTimersByTime(20 * 60_000);
    const build = buildTarget();
    account.parameters.seed(snapshotIdParameterName(build.recipe, build.architecture), current);
    account.ec2.snapshots.get(superseded)!.Tags.push({ Key: TAG_PUBLISHED_AT, Value: '2026-01-01T00:00:00.000Z' });
    account.ec2.snapshots.get(retained)!.Tags.push({ Key: TAG_RETAIN, Value: 'true' });
    vi.advanceTimersByTime(25 * 3_600_000);
    const young = await snapshotOf('just-failed-run', 'fail');
    await execution('just-failed-run', 'FAILED');
    // Act
    const out = await reap({});
    // Assess
    expect(out.deletedSnapshotIds.sort()).toEqual([pending, failed, orphan].sort());
    expect(out.skippedSnapshots).toEqual(
      expect.arrayContaining([
        { snapshotId: current, reason: 'current' },
        { snapshotId: superseded, reason: 'published' },
        { snapshotId: retained, reason: 'retained' },
        { snapshotId: running, reason: 'execution long-run is RUNNING' },
        { snapshotId: young, reason: 'younger than 24 h' },
      ]),
    );
    expect(account.ec2.liveSnapshots().map((snapshot) => snapshot.SnapshotId).sort()).toEqual([current, superseded, retained, running, young].sort());
  });

  it('reaps the copies an ended execution left in the copy regions of COPY_REGIONS, keeping a current copy', async () => {
    // Prepare: two ended executions' snapshots copied to eu-west-1; one copy is current there.
    vi.stubEnv('COPY_REGIONS', 'eu-west-1');
    const orphanSource = await snapshotOf('failed-copy-run');
    const currentSource = await snapshotOf('published-copy-run');
    await execution('failed-copy-run', 'FAILED');
    await execution('published-copy-run', 'SUCCEEDED');
    vi.advanceTimersByTime(30 * 60_000);
    const status = (await copySnapshot({ build: buildTarget({ executionName: 'failed-copy-run', copies: [{ region: 'eu-west-1' }] }), snapshot: { snapshotId: orphanSource } })).copies[0]!;
    const kept = (await copySnapshot({ build: buildTarget({ executionName: 'published-copy-run', copies: [{ region: 'eu-west-1' }] }), snapshot: { snapshotId: currentSource } })).copies[0]!;
    vi.advanceTimersByTime(25 * 3_600_000);
    const europe = regionOf(account, 'eu-west-1');
    europe.parameters.seed(snapshotIdParameterName(buildTarget().recipe, 'x86_64'), kept.snapshotId);
    // Act
    const out = await reap({});
    // Assess
    expect(out.deletedSnapshotIds).toEqual(expect.arrayContaining([status.snapshotId]));
    expect(out.deletedSnapshotIds).not.toContain(kept.snapshotId);
    expect(europe.ec2.liveSnapshots().map((s) => s.SnapshotId)).toEqual([kept.snapshotId]);
  });

  it('fails when COPY_REGIONS names something that is not a region', async () => {
    vi.stubEnv('COPY_REGIONS', 'eu-west-1,Europe');
    await expect(reap({})).rejects.toMatchObject({ name: 'InvalidInputError', message: expect.stringContaining('COPY_REGIONS names "Europe"') });
  });

  it('reports what it did as a CloudWatch metric in embedded metric format', async () => {
    // Prepare
    await snapshotOf('failed-run', 'fail');
    await execution('failed-run', 'FAILED');
    vi.advanceTimersByTime(25 * 3_600_000);
    const lines: string[] = [];
    const write = vi.spyOn(process.stdout, 'write').mockImplementation((line) => lines.push(String(line)) > 0);
    // Act
    try {
      await reap({});
    } finally {
      write.mockRestore();
    }
    // Assess
    const documents = lines.filter((line) => line.includes('"CloudWatchMetrics"')).map((line) => JSON.parse(line));
    expect(documents).toHaveLength(1);
    expect(documents[0]).toMatchObject({
      _aws: { CloudWatchMetrics: [{ Namespace: 'SnapshotFactory', Dimensions: [['Function']], Metrics: expect.arrayContaining([{ Name: 'ReapedSnapshots', Unit: 'Count' }]) }] },
      Function: 'reap-builders',
      ReapedInstances: 1,
      ReapedSnapshots: 1,
      ReaperFailures: 0,
    });
  });

  it('deletes the snapshots even when terminating a builder is refused, and reports the refusal', async () => {
    // Prepare
    const snapshot = await snapshotOf('failed-run', 'fail');
    await execution('failed-run', 'FAILED');
    vi.advanceTimersByTime(25 * 3_600_000);
    account.core.inject(FAULTS.accessDenied('ec2', 'TerminateInstances'));
    // Act
    const out = await reap({});
    // Assess
    expect(out.deletedSnapshotIds).toEqual([snapshot]);
    expect(out.failures).toEqual([expect.objectContaining({ action: 'ec2:TerminateInstances', reason: expect.stringContaining('AccessDeniedError') })]);
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
