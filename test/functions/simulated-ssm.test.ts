import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { handler as launch } from '../../functions/launch-instance';
import { generatePullScript, parsePullReport, pullCommands } from '../../functions/lib/pull-script';
import { parseImageReference } from '../../functions/lib/image-reference';
import type { SimulatedAccount } from '../../simulation/aws/account';
import { buildTarget, simulatedAws } from './ec2-fixtures';

describe('simulated SSM', () => {
  let account: SimulatedAccount;
  let restore: () => void;
  let instanceId: string;
  const ssm = (operation: string, input: unknown) => account.core.handle('ssm', operation, input) as Promise<Record<string, any>>;
  const commands = (references: string[]) =>
    pullCommands(generatePullScript({ images: references.map(parseImageReference), platforms: ['linux/amd64'], concurrency: 2 }));
  const send = (overrides: Record<string, unknown> = {}) =>
    ssm('SendCommand', {
      DocumentName: 'AWS-RunShellScript',
      InstanceIds: [instanceId],
      Comment: 'test',
      Parameters: { commands: commands(['nginx']), executionTimeout: ['600'] },
      ...overrides,
    });

  beforeEach(async () => {
    ({ account, restore } = simulatedAws());
    instanceId = (await launch({ build: buildTarget() })).instanceId;
  });
  afterEach(() => restore());

  it('registers the agent about 30 s after the instance runs, and reports ConnectionLost once it stops', async () => {
    const ping = async () => (await ssm('DescribeInstanceInformation', { Filters: [{ Key: 'InstanceIds', Values: [instanceId] }] })).InstanceInformationList;
    expect(await ping()).toEqual([]);
    await vi.advanceTimersByTimeAsync(45_000);
    expect(await ping()).toEqual([]);
    await vi.advanceTimersByTimeAsync(10_000);
    expect((await ping())[0]).toMatchObject({ InstanceId: instanceId, PingStatus: 'Online', PlatformName: 'Bottlerocket' });
    await account.core.handle('ec2', 'StopInstances', { InstanceIds: [instanceId] });
    expect((await ping())[0]).toMatchObject({ PingStatus: 'ConnectionLost' });
  });

  it('refuses commands to an agent that is not Online with InvalidInstanceId', async () => {
    await expect(send()).rejects.toMatchObject({ name: 'InvalidInstanceId' });
  });

  it('rejects what SSM rejects: long comments, bad timeouts, unknown documents and parameters', async () => {
    await vi.advanceTimersByTimeAsync(60_000);
    await expect(send({ Comment: 'c'.repeat(101) })).rejects.toMatchObject({ name: 'ValidationException', message: expect.stringContaining('100') });
    await expect(send({ TimeoutSeconds: 10 })).rejects.toMatchObject({ name: 'ValidationException' });
    await expect(send({ DocumentName: 'AWS-RunPowerShellScript' })).rejects.toMatchObject({ name: 'InvalidDocument' });
    await expect(send({ Parameters: { commands: ['true'], executionTimeout: ['172801'] } })).rejects.toMatchObject({ name: 'InvalidParameters' });
    await expect(send({ Parameters: { commands: ['true'], secrets: ['x'] } })).rejects.toMatchObject({ name: 'InvalidParameters' });
    await expect(send({ Parameters: { commands: ['x'.repeat(70_000)] } })).rejects.toMatchObject({ name: 'InvalidParameters' });
    await expect(send({ Comment: 'c'.repeat(100) })).resolves.toMatchObject({ Command: { Status: 'Pending' } });
  });

  it('answers InvocationDoesNotExist just after SendCommand, then Pending, InProgress and Success with the report', async () => {
    await vi.advanceTimersByTimeAsync(60_000);
    const { Command } = await send({ Parameters: { commands: commands(['nginx', 'ghcr.io/org/app:v1', 'quay.io/x/y:z']) } });
    const get = () => ssm('GetCommandInvocation', { CommandId: Command.CommandId, InstanceId: instanceId });
    await expect(get()).rejects.toMatchObject({ name: 'InvocationDoesNotExist' });
    await vi.advanceTimersByTimeAsync(1_600);
    expect((await get()).Status).toBe('Pending');
    await vi.advanceTimersByTimeAsync(1_000);
    expect((await get()).Status).toBe('InProgress');
    await vi.advanceTimersByTimeAsync(15_000 + 2 * 20_000);
    const done = await get();
    expect(done).toMatchObject({ Status: 'Success', ResponseCode: 0 });
    expect(parsePullReport(done.StandardOutputContent).summary).toEqual({ expected: 3, ok: 3, failed: 0 });
  });

  it('truncates stdout to 24,000 and stderr to 8,000 characters like GetCommandInvocation', async () => {
    await vi.advanceTimersByTimeAsync(60_000);
    const many = Array.from({ length: 200 }, (_, n) => `registry.example.com/${'p'.repeat(100)}/image-${n}:v1`);
    account.ssmCommands.nextCommandFails('x'.repeat(20_000));
    for (const reference of many.slice(0, 100)) account.ssmCommands.imageMissing(reference);
    const { Command } = await send({ Parameters: { commands: commands(many), executionTimeout: ['172800'] } });
    await vi.advanceTimersByTimeAsync(3_000_000);
    const out = await ssm('GetCommandInvocation', { CommandId: Command.CommandId, InstanceId: instanceId });
    expect(out.Status).toBe('Failed');
    expect(out.StandardOutputContent.length).toBe(24_000);
    expect(out.StandardErrorContent.length).toBe(8_000);
    expect(parsePullReport(out.StandardOutputContent).truncated).toBe(true);
  });

  it('times a command out at its executionTimeout when it would run longer', async () => {
    await vi.advanceTimersByTimeAsync(60_000);
    const { Command } = await send({ Parameters: { commands: commands(['nginx']), executionTimeout: ['20'] } });
    await vi.advanceTimersByTimeAsync(21_000);
    const out = await ssm('GetCommandInvocation', { CommandId: Command.CommandId, InstanceId: instanceId });
    expect(out).toMatchObject({ Status: 'TimedOut', StatusDetails: 'ExecutionTimedOut' });
  });

  it('records the data a successful pull wrote on the builder, which sets how long its snapshot takes', async () => {
    await vi.advanceTimersByTimeAsync(60_000);
    const { Command } = await send();
    await vi.advanceTimersByTimeAsync(60_000);
    await ssm('GetCommandInvocation', { CommandId: Command.CommandId, InstanceId: instanceId });
    const dataVolume = [...account.ec2.volumes.values()].find((v) => v.attachedTo?.device === '/dev/xvdb');
    expect(dataVolume?.writtenGiB).toBeGreaterThan(0);
  });
});
