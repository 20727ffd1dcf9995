import { DescribeExecutionCommand, ListExecutionsCommand, StartExecutionCommand, type SFNClient } from '@aws-sdk/client-sfn';
import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { DescribeImagesCommand } from '@aws-sdk/client-ecr';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ecr } from '../../functions/lib/clients/ecr';
import { eventBridge } from '../../functions/lib/clients/eventbridge';
import { sfn } from '../../functions/lib/clients/sfn';
import { createSimulatedAccount, type SimulatedAccount } from '../../simulation/aws/account';
import { installSimulatedAws } from '../../simulation/aws/install';
import { matchesEventPattern } from '../../simulation/aws/events';

const ARN = 'arn:aws:states:us-west-2:111122223333:stateMachine:snapshot-factory';
let account: SimulatedAccount;
let uninstall: () => void;

beforeEach(() => {
  account = createSimulatedAccount();
  uninstall = installSimulatedAws(account.core);
});
afterEach(() => uninstall());

const startExecution = (client: SFNClient, name: string, input: unknown) => client.send(new StartExecutionCommand({ stateMachineArn: ARN, name, input: JSON.stringify(input) }));

describe('simulated Step Functions (Standard) execution names', () => {
  it('returns the running execution for the same name and input', async () => {
    const first = await startExecution(sfn, 'ml-abc', { a: 1 });
    const second = await startExecution(sfn, 'ml-abc', { a: 1 });
    expect(second.executionArn).toBe(first.executionArn);
    expect((await sfn.send(new DescribeExecutionCommand({ executionArn: first.executionArn }))).status).toBe('RUNNING');
  });

  it('fails with ExecutionAlreadyExists for the same name with another input', async () => {
    await startExecution(sfn, 'ml-abc', { a: 1 });
    await expect(startExecution(sfn, 'ml-abc', { a: 2 })).rejects.toMatchObject({ name: 'ExecutionAlreadyExists' });
  });

  it('fails with ExecutionAlreadyExists for the name of a finished execution', async () => {
    const { executionArn } = await startExecution(sfn, 'ml-abc', { a: 1 });
    account.sfn.finish(executionArn!, { output: {} });
    await expect(startExecution(sfn, 'ml-abc', { a: 1 })).rejects.toMatchObject({ name: 'ExecutionAlreadyExists' });
  });

  it('fails with InvalidName for a name over 80 characters or with other characters', async () => {
    await expect(startExecution(sfn, 'x'.repeat(81), {})).rejects.toMatchObject({ name: 'InvalidName' });
    await expect(startExecution(sfn, 'ml:abc', {})).rejects.toMatchObject({ name: 'InvalidName' });
  });

  it('forgets a closed execution 90 days after it closed: the name can be used again', async () => {
    // Prepare
    vi.useFakeTimers({ now: new Date('2026-01-01T00:00:00Z') });
    try {
      const { executionArn } = await startExecution(sfn, 'ml-abc', { a: 1 });
      account.sfn.finish(executionArn!, { status: 'TIMED_OUT' });
      vi.advanceTimersByTime(89 * 24 * 3_600_000);
      expect((await sfn.send(new DescribeExecutionCommand({ executionArn }))).status).toBe('TIMED_OUT');
      // Act
      vi.advanceTimersByTime(2 * 24 * 3_600_000);
      // Assess
      await expect(sfn.send(new DescribeExecutionCommand({ executionArn }))).rejects.toMatchObject({ name: 'ExecutionDoesNotExist' });
      expect((await startExecution(sfn, 'ml-abc', { a: 2 })).executionArn).toBe(executionArn);
    } finally {
      vi.useRealTimers();
    }
  });

  it('lists executions most recent first, by status, a page at a time', async () => {
    vi.useFakeTimers({ now: new Date('2026-01-01T00:00:00Z') });
    try {
      for (const name of ['a', 'b', 'c']) {
        const { executionArn } = await startExecution(sfn, name, {});
        account.sfn.finish(executionArn!, {});
        vi.advanceTimersByTime(1_000);
      }
      await startExecution(sfn, 'running', {});
      const first = await sfn.send(new ListExecutionsCommand({ stateMachineArn: ARN, statusFilter: 'SUCCEEDED', maxResults: 2 }));
      const second = await sfn.send(new ListExecutionsCommand({ stateMachineArn: ARN, statusFilter: 'SUCCEEDED', maxResults: 2, nextToken: first.nextToken }));
      expect(first.executions?.map((e) => e.name)).toEqual(['c', 'b']);
      expect(second.executions?.map((e) => e.name)).toEqual(['a']);
      expect(second.nextToken).toBeUndefined();
      await expect(sfn.send(new ListExecutionsCommand({ stateMachineArn: ARN, maxResults: 1001 }))).rejects.toMatchObject({ name: 'ValidationException' });
    } finally {
      vi.useRealTimers();
    }
  });

  it('closes the execution with the runner result when a runner is set', async () => {
    account.sfn.runner = async (execution) => ({ echoed: JSON.parse(execution.input) });
    const { executionArn } = await startExecution(sfn, 'ml-run', { a: 1 });
    await [...account.sfn.executions.values()][0]!.done;
    const described = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    expect(described).toMatchObject({ status: 'SUCCEEDED', output: JSON.stringify({ echoed: { a: 1 } }) });
  });
});

describe('simulated EventBridge PutEvents limits', () => {
  const entry = (detail: unknown = { a: 1 }) => ({ Source: 'snapshot-factory', DetailType: 'Snapshot Ready', Detail: JSON.stringify(detail) });

  it('records events and reports malformed entries per entry', async () => {
    const output = await eventBridge.send(new PutEventsCommand({ Entries: [entry(), { Source: 'x', DetailType: 'y', Detail: 'not json' }] }));
    expect(output.FailedEntryCount).toBe(1);
    expect(output.Entries?.[1]?.ErrorCode).toBe('MalformedDetail');
    expect(account.events.ofType('Snapshot Ready')).toHaveLength(1);
  });

  it('answers 200 with an injected failed entry in its place, no event ID, and processes the others (eb-putevents.html)', async () => {
    // Prepare
    account.events.failEntries('ThrottlingException', 1);
    // Act
    const output = await eventBridge.send(new PutEventsCommand({ Entries: [entry({ n: 1 }), entry({ n: 2 })] }));
    // Assess
    expect(output.FailedEntryCount).toBe(1);
    expect(output.Entries?.[0]).toMatchObject({ ErrorCode: 'ThrottlingException' });
    expect(output.Entries?.[0]?.EventId).toBeUndefined();
    expect(output.Entries?.[1]?.EventId).toBe(account.events.events[0]!.id);
    expect(account.events.events.map((e) => e.detail)).toEqual([{ n: 2 }]);
  });

  it('fails when asked to inject an entry error code PutEvents does not document', () => {
    expect(() => account.events.failEntries('Nope' as never)).toThrow(/unknown PutEvents entry error code "Nope"/);
  });

  it('fails with ValidationException for more than 10 entries or more than 256 KB', async () => {
    await expect(eventBridge.send(new PutEventsCommand({ Entries: Array.from({ length: 11 }, () => entry()) }))).rejects.toMatchObject({ name: 'ValidationException' });
    await expect(eventBridge.send(new PutEventsCommand({ Entries: [entry({ big: 'x'.repeat(256 * 1024) })] }))).rejects.toMatchObject({ name: 'ValidationException' });
    expect(account.events.events).toHaveLength(0);
  });
});

describe('simulated ECR DescribeImages', () => {
  it('describes a pushed image by tag and fails with ImageNotFoundException or RepositoryNotFoundException like ECR', async () => {
    const image = account.ecr.pushImage('team/app', 'v1');
    const described = await ecr.send(new DescribeImagesCommand({ repositoryName: 'team/app', imageIds: [{ imageTag: 'v1' }] }));
    expect(described.imageDetails?.[0]).toMatchObject({ imageDigest: image.digest, imageTags: ['v1'] });
    await expect(ecr.send(new DescribeImagesCommand({ repositoryName: 'team/app', imageIds: [{ imageTag: 'v2' }] }))).rejects.toMatchObject({ name: 'ImageNotFoundException' });
    await expect(ecr.send(new DescribeImagesCommand({ repositoryName: 'team/none' }))).rejects.toMatchObject({ name: 'RepositoryNotFoundException' });
  });
});


describe('EventBridge event patterns (simulation/aws/events.ts)', () => {
  const pattern = { source: ['aws.states'], 'detail-type': ['Step Functions Execution Status Change'], detail: { status: ['FAILED', 'TIMED_OUT', 'ABORTED'] } };
  const event = (status: string) => ({ source: 'aws.states', 'detail-type': 'Step Functions Execution Status Change', detail: { status, name: 'run-1' } });

  it('matches when every field matches one of its values, and not otherwise', () => {
    expect(matchesEventPattern(pattern, event('TIMED_OUT'))).toBe(true);
    expect(matchesEventPattern(pattern, event('SUCCEEDED'))).toBe(false);
    expect(matchesEventPattern(pattern, { ...event('FAILED'), source: 'aws.ec2' })).toBe(false);
    expect(matchesEventPattern(pattern, { source: 'aws.states', 'detail-type': 'Step Functions Execution Status Change' })).toBe(false);
  });

  it('fails when the pattern uses a content filter the simulation does not model', () => {
    expect(() => matchesEventPattern({ source: [{ prefix: 'aws.' }] }, event('FAILED'))).toThrow(/content filter/);
  });
});
