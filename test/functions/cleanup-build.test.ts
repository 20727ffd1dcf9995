import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { describeFailure, handler as cleanup } from '../../functions/cleanup-build';
import { handler as createSnapshot } from '../../functions/create-snapshot';
import { handler as launch } from '../../functions/launch-instance';
import type { SimulatedAccount } from '../../simulation/aws/account';
import { FAULTS } from '../../simulation/aws/core';
import { buildTarget, simulatedAws, verifiedPull } from './ec2-fixtures';
import { snapshotIdParameterName } from '../../functions/lib/current-snapshot';
import { TAG_RETAIN } from '../../functions/lib/snapshot-ownership';
import { TAG_ARCHITECTURE, TAG_EXECUTION, TAG_MANAGED } from '../../functions/lib/tags';
import { regionOf } from '../../simulation/aws/regions';
import { seedSnapshot } from './seed-snapshot';

const lambdaCause = (errorType: string, errorMessage: string) =>
  JSON.stringify({ errorType, errorMessage, trace: [`${errorType}: ${errorMessage}`, '    at run (/var/task/index.mjs:1:1)'] });

describe('cleanup-build', () => {
  let account: SimulatedAccount;
  let restore: () => void;
  const build = buildTarget();
  const base = { executionName: build.executionName, architecture: build.architecture };
  beforeEach(() => ({ account, restore } = simulatedAws()));
  afterEach(() => restore());

  it('terminates the builder found by its tags when no instance ID was ever recorded', async () => {
    // Prepare: a launch whose answer never reached the state machine
    const launched = await launch({ build });
    const error = { Error: 'States.Timeout', Cause: 'Task timed out after 60 seconds' };
    // Act
    const out = await cleanup({ ...base, error });
    // Assess
    expect(out.terminatedInstanceIds).toEqual([launched.instanceId]);
    expect(out.error).toBe('States.Timeout');
    vi.advanceTimersByTime(60_000);
    expect(account.ec2.liveInstances()).toHaveLength(0);
  });

  it('leaves the builders of other executions and other architectures alone', async () => {
    await launch({ build: buildTarget({ executionName: 'someone-else' }) });
    await launch({ build: buildTarget({ architecture: 'arm64', amiParameter: '/aws/service/bottlerocket/aws-k8s-1.35/arm64/latest/image_id', instanceTypes: ['m7g.large'] }) });
    const mine = await launch({ build });
    const out = await cleanup({ ...base, instance: mine });
    expect(out.terminatedInstanceIds).toEqual([mine.instanceId]);
    vi.advanceTimersByTime(60_000);
    expect(account.ec2.liveInstances()).toHaveLength(2);
  });

  it('terminates the builders of every architecture across result pages when no architecture is given', async () => {
    // Prepare: EC2 returns one item per page
    account.ec2.options.pageLimit = 1;
    const x86 = await launch({ build });
    const arm = await launch({
      build: buildTarget({ architecture: 'arm64', amiParameter: '/aws/service/bottlerocket/aws-k8s-1.35/arm64/latest/image_id', instanceTypes: ['m7g.large'] }),
    });
    // Act
    const out = await cleanup({ executionName: build.executionName });
    // Assess
    expect(out.terminatedInstanceIds.sort()).toEqual([x86.instanceId, arm.instanceId].sort());
    expect(account.core.callsOf('ec2', 'DescribeInstances').length).toBeGreaterThanOrEqual(2);
  });

  it('deletes its snapshots left in error and completed but never published', async () => {
    // Prepare: the first snapshot fails, the retried one completes; the build fails anyway
    const instance = await launch({ build });
    vi.advanceTimersByTime(60_000);
    account.ec2.snapshotWillFail();
    const failed = await createSnapshot({ build, instance, pullStatus: verifiedPull(build) });
    vi.advanceTimersByTime(20 * 60_000);
    const completed = await createSnapshot({ build, instance, pullStatus: verifiedPull(build) });
    vi.advanceTimersByTime(20 * 60_000);
    // Act
    const out = await cleanup({ ...base, instance, snapshot: failed, error: { Error: 'SnapshotFailedError', Cause: lambdaCause('SnapshotFailedError', 'check-snapshot: snapshot failed') } });
    // Assess
    expect(completed.snapshotId).not.toBe(failed.snapshotId);
    expect(out.deletedSnapshotIds.sort()).toEqual([failed.snapshotId, completed.snapshotId].sort());
    expect(out.keptSnapshotIds).toEqual([]);
    expect(account.ec2.liveSnapshots()).toHaveLength(0);
  });

  it('keeps a completed snapshot that is retained, or current', async () => {
    // Prepare: a completed snapshot tagged retain
    const instance = await launch({ build });
    vi.advanceTimersByTime(60_000);
    const snapshot = await createSnapshot({ build, instance, pullStatus: verifiedPull(build) });
    vi.advanceTimersByTime(20 * 60_000);
    const tags = account.ec2.snapshots.get(snapshot.snapshotId!)!.Tags;
    tags.push({ Key: TAG_RETAIN, Value: 'true' });
    // Act
    const retained = await cleanup({ ...base, instance, error: { Error: 'PublishFailedError' } });
    tags.pop();
    account.parameters.seed(snapshotIdParameterName(build.recipe, build.architecture), snapshot.snapshotId!);
    const current = await cleanup({ ...base, instance, error: { Error: 'PublishFailedError' } });
    // Assess
    expect(retained.report.keptSnapshots).toEqual([{ snapshotId: snapshot.snapshotId, reason: 'retained' }]);
    expect(current.report.keptSnapshots).toEqual([{ snapshotId: snapshot.snapshotId, reason: 'current' }]);
    expect(current.cause).toContain(`kept ${snapshot.snapshotId} (current)`);
    expect(account.ec2.liveSnapshots()).toHaveLength(1);
  });

  it('deletes the snapshots even when terminating fails past its retries, then reports what it could not do', async () => {
    // Prepare: a snapshot in error, and EC2 throttling every TerminateInstances
    const instance = await launch({ build });
    vi.advanceTimersByTime(60_000);
    account.ec2.snapshotWillFail();
    const failed = await createSnapshot({ build, instance, pullStatus: verifiedPull(build) });
    vi.advanceTimersByTime(20 * 60_000);
    account.core.inject(FAULTS.throttle('ec2', 'TerminateInstances', Infinity));
    const error = { Error: 'SnapshotFailedError', Cause: lambdaCause('SnapshotFailedError', 'check-snapshot: snapshot failed') };
    // Act: an attempt the state machine retries, then the final one
    const retried = cleanup({ ...base, instance, snapshot: failed, error });
    await expect(retried).rejects.toMatchObject({ name: 'TransientAwsError', message: expect.stringContaining(`deleted ${failed.snapshotId}`) });
    const final = await cleanup({ ...base, instance, snapshot: failed, error, finalAttempt: true });
    // Assess
    expect(account.ec2.snapshotsInError()).toHaveLength(0);
    expect(final.complete).toBe(false);
    expect(final.failures).toEqual([expect.objectContaining({ action: 'ec2:TerminateInstances', resource: instance.instanceId, transient: true })]);
    expect(final.cause).toMatch(new RegExp(`^check-snapshot failed with SnapshotFailedError: snapshot failed \\[cleanup: already gone ${failed.snapshotId}; could not: ec2:TerminateInstances ${instance.instanceId} \\(TransientAwsError: `));
  });

  it('reads the recorded instance and snapshot from the iteration state', async () => {
    const instance = await launch({ build });
    const out = await cleanup({ ...base, state: { instance, build } });
    expect(out.terminatedInstanceIds).toEqual([instance.instanceId]);
  });

  it('cleans up the execution named by a Step Functions status-change event', async () => {
    // Prepare: the event as EventBridge delivers it (https://docs.aws.amazon.com/step-functions/latest/dg/cw-events.html)
    const instance = await launch({ build });
    const event = {
      version: '0',
      id: '315c1398-40ff-a850-213b-158f73e60175',
      'detail-type': 'Step Functions Execution Status Change',
      source: 'aws.states',
      account: '111122223333',
      time: '2026-01-05T13:00:00Z',
      region: 'us-west-2',
      resources: [`arn:aws:states:us-west-2:111122223333:execution:snapshot-factory:${build.executionName}`],
      detail: {
        executionArn: `arn:aws:states:us-west-2:111122223333:execution:snapshot-factory:${build.executionName}`,
        stateMachineArn: 'arn:aws:states:us-west-2:111122223333:stateMachine:snapshot-factory',
        name: build.executionName,
        status: 'TIMED_OUT',
        startDate: 1767600000000,
        stopDate: 1767614400000,
        input: '{}',
        output: null,
        error: null,
        cause: null,
      },
    };
    // Act
    const out = await cleanup(event);
    // Assess
    expect(out).toMatchObject({ error: 'States.Timeout', terminatedInstanceIds: [instance.instanceId] });
    expect(out.cause).toContain('TIMED_OUT');
  });

  it('deletes the copies a timed-out execution left in the deployment\'s copy regions (env COPY_REGIONS)', async () => {
    // Prepare: a copy in eu-west-1 tagged as the factory tags it; the status-change event carries no build state.
    vi.stubEnv('COPY_REGIONS', 'eu-west-1');
    const copyRegion = regionOf(account, 'eu-west-1');
    const copyId = 'snap-0123456789abcdef7';
    seedSnapshot(copyRegion, copyId, {
      Encrypted: true,
      StartTime: new Date(Date.now() - 3_600_000),
      Tags: [
        { Key: TAG_MANAGED, Value: 'true' },
        { Key: TAG_EXECUTION, Value: build.executionName },
        { Key: TAG_ARCHITECTURE, Value: build.architecture },
      ],
    });
    const executionArn = `arn:aws:states:us-west-2:111122223333:execution:snapshot-factory:${build.executionName}`;
    const event = {
      'detail-type': 'Step Functions Execution Status Change',
      source: 'aws.states',
      detail: { executionArn, stateMachineArn: 'arn:aws:states:us-west-2:111122223333:stateMachine:snapshot-factory', name: build.executionName, status: 'TIMED_OUT', error: null, cause: null },
    };
    // Act
    const out = await cleanup(event);
    vi.unstubAllEnvs();
    // Assess
    expect(out.deletedSnapshotIds).toContain(copyId);
    expect(copyRegion.ec2.snapshots.get(copyId)?.deleted).toBe(true);
  });

  it('deletes a pending snapshot of the failed build', async () => {
    const instance = await launch({ build });
    vi.advanceTimersByTime(60_000);
    account.ec2.neverFinish('snapshot');
    const snapshot = await createSnapshot({ build, instance, pullStatus: verifiedPull(build) });
    const out = await cleanup({ ...base, instance, snapshot, error: { Error: 'SnapshotTimeoutError' } });
    expect(out.deletedSnapshotIds).toEqual([snapshot.snapshotId]);
    expect(account.ec2.liveSnapshots()).toHaveLength(0);
  });

  it('is idempotent: a second run finds nothing left and does not fail', async () => {
    const instance = await launch({ build });
    await cleanup({ ...base, instance });
    vi.advanceTimersByTime(2 * 3_600_000);
    const again = await cleanup({ ...base, instance, snapshot: { snapshotId: 'snap-0123456789abcdef0' } });
    expect(again).toMatchObject({ terminatedInstanceIds: [], deletedSnapshotIds: [], failures: [], complete: true });
  });

  it('names the failed stage and its reason from the Lambda error cause', async () => {
    const out = await cleanup({
      ...base,
      error: { Error: 'InstanceCapacityError', Cause: lambdaCause('InstanceCapacityError', 'launch-instance: every instance type was refused: m7i.large (InsufficientInstanceCapacity)') },
    });
    expect(out.error).toBe('InstanceCapacityError');
    expect(out.cause).toBe('launch-instance failed with InstanceCapacityError: every instance type was refused: m7i.large (InsufficientInstanceCapacity) [cleanup: nothing left to clean]');
  });

  it('defaults the error to States.Runtime and keeps a plain-text cause', () => {
    expect(describeFailure(undefined)).toEqual({ error: 'States.Runtime', cause: 'States.Runtime (no cause given)' });
    expect(describeFailure({ Error: 'States.TaskFailed', Cause: 'not json' })).toEqual({ error: 'States.TaskFailed', cause: 'States.TaskFailed: not json' });
  });

  it('fails with the retryable TransientAwsError when EC2 throttles, so the state machine retries it', async () => {
    await launch({ build });
    account.core.inject(FAULTS.throttle('ec2', 'TerminateInstances'));
    await expect(cleanup({ ...base })).rejects.toMatchObject({ name: 'TransientAwsError' });
    await expect(cleanup({ ...base })).resolves.toMatchObject({ terminatedInstanceIds: [expect.stringMatching(/^i-/)] });
  });

  it('reports an access-denied cleanup step in the cause instead of hiding the original error', async () => {
    await launch({ build });
    account.core.inject(FAULTS.accessDenied('ec2', 'TerminateInstances'));
    const out = await cleanup({ ...base, error: { Error: 'PullFailedError', Cause: lambdaCause('PullFailedError', 'check-pull-command: pull failed') } });
    expect(out.error).toBe('PullFailedError');
    expect(out.cause).toMatch(/^check-pull-command failed with PullFailedError: pull failed \[cleanup: could not: ec2:TerminateInstances i-\w+ \(AccessDeniedError: .*UnauthorizedOperation/);
    expect(out.failures).toHaveLength(1);
  });

  it('fails when the execution name is missing', async () => {
    await expect(cleanup({ architecture: 'x86_64' })).rejects.toMatchObject({ name: 'InvalidInputError', message: expect.stringContaining('executionName') });
  });
});
