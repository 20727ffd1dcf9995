import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { handler as launch } from '../../functions/launch-instance';
import { generatePullScript, parsePullReport, pullCommands } from '../../functions/lib/pull-script';
import { parseImageReference } from '../../functions/lib/image-reference';
import type { SimulatedAccount } from '../../simulation/aws/account';
import { hostContainerRepository } from '../../simulation/aws/bottlerocket-host';
import type { IamPrincipal, IamRequest } from '../../simulation/aws/core';
import { ADMIN_NOT_RUNNING } from '../../simulation/aws/ssm-commands';
import { buildTarget, simulatedAws } from './ec2-fixtures';

describe('simulated SSM', () => {
  let account: SimulatedAccount;
  let restore: () => void;
  let instanceId: string;
  const ssm = (operation: string, input: unknown) => account.core.handle('ssm', operation, input) as Promise<Record<string, any>>;
  const commands = (references: string[]) =>
    pullCommands(generatePullScript({ images: references.map(parseImageReference), platforms: ['linux/amd64'], concurrency: 2 }));
  const planOf = (references: string[]) => ({ references: references.map((r) => parseImageReference(r).normalized), platforms: ['linux/amd64'] });
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
    await expect(send({ Parameters: { commands: ['x'.repeat(70_000)] } })).rejects.toMatchObject({ name: 'MaxDocumentSizeExceeded' });
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
    expect(parsePullReport(done.StandardOutputContent, planOf(['nginx', 'ghcr.io/org/app:v1', 'quay.io/x/y:z'])).summary).toEqual({ expected: 3, ok: 3, failed: 0 });
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
    expect(parsePullReport(out.StandardOutputContent, planOf(many)).truncated).toBe(true);
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

  describe('the builder\'s boot (simulation/aws/bottlerocket-host.ts)', () => {
    const CONTROL = 'arn:aws:ecr:us-west-2:328549459982:repository/bottlerocket-control';
    const ADMIN = 'arn:aws:ecr:us-west-2:328549459982:repository/bottlerocket-admin';
    const asked: { principal: IamPrincipal; request: IamRequest }[] = [];
    const denyOn = (action: string, arn: string) =>
      account.core.setAuthorizer((principal, request) => {
        asked.push({ principal, request });
        const denied = request.action === action && request.resources.some((resource) => resource.arn === arn);
        return denied ? { allowed: false, explanation: `no statement allows ${action} on ${arn}` } : { allowed: true };
      });
    const online = async () => (await ssm('DescribeInstanceInformation', {})).InstanceInformationList.map((i: { InstanceId: string }) => i.InstanceId);
    /** Advances to the moment the agent registers. */
    const untilAgentOnline = async () => {
      while (account.ssmCommands.pingStatus(instanceId) !== 'Online') await vi.advanceTimersByTimeAsync(100);
    };
    beforeEach(() => {
      asked.length = 0;
    });

    it('pulls the host containers from Bottlerocket\'s ECR account of the region, authorized as the builder', async () => {
      // Prepare
      denyOn('none', 'none');
      // Act
      await vi.advanceTimersByTimeAsync(60_000);
      const ids = await online();
      // Assess
      expect(ids).toEqual([instanceId]);
      const requests = asked.map(({ principal, request }) => [principal, request.action, request.resources[0]!.arn]);
      expect(requests).toEqual([
        [{ kind: 'instance', instanceId }, 'ecr:BatchGetImage', CONTROL],
        [{ kind: 'instance', instanceId }, 'ecr:GetDownloadUrlForLayer', CONTROL],
        [{ kind: 'instance', instanceId }, 'ecr:BatchGetImage', ADMIN],
        [{ kind: 'instance', instanceId }, 'ecr:GetDownloadUrlForLayer', ADMIN],
      ]);
    });

    it('never brings the SSM agent Online when the builder role cannot pull the control container', async () => {
      // Prepare
      denyOn('ecr:BatchGetImage', CONTROL);
      // Act
      await vi.advanceTimersByTimeAsync(15 * 60_000);
      // Assess
      expect(await online()).toEqual([]);
      expect(account.ssmCommands.host.boot(instanceId)?.journal.join('\n')).toMatch(/host-containers@control: .*ecr:BatchGetImage denied.*\n.*retries exhausted/);
      await expect(send()).rejects.toMatchObject({ name: 'InvalidInstanceId' });
    });

    it('fails a script that does not wait for the admin container the way a real host does', async () => {
      // Prepare: send as soon as the agent is Online; the admin container runs a few seconds later.
      await untilAgentOnline();
      const adminReadyAt = account.ssmCommands.host.adminReadyAt(instanceId)!;
      expect(adminReadyAt).toBeGreaterThan(Date.now() + account.ssmCommands.options.deliveryMs);
      const noWait = commands(['nginx']).filter((line) => !line.startsWith('ADMIN_WAIT='));
      // Act
      const { Command } = await send({ Parameters: { commands: noWait } });
      await vi.advanceTimersByTimeAsync(10_000);
      // Assess
      const out = await ssm('GetCommandInvocation', { CommandId: Command.CommandId, InstanceId: instanceId });
      expect(out).toMatchObject({ Status: 'Failed', ResponseCode: 1 });
      expect(parsePullReport(out.StandardOutputContent, planOf(['nginx'])).error).toBe(`could not stop kubelet on the host: ${ADMIN_NOT_RUNNING}`);
    });

    it('lets the pull script wait for the admin container, then pull', async () => {
      // Prepare
      await untilAgentOnline();
      const adminReadyAt = account.ssmCommands.host.adminReadyAt(instanceId)!;
      // Act
      const { Command } = await send();
      await vi.advanceTimersByTimeAsync(120_000);
      // Assess
      const out = await ssm('GetCommandInvocation', { CommandId: Command.CommandId, InstanceId: instanceId });
      expect(out).toMatchObject({ Status: 'Success' });
      // The wait delays the whole run (baseRunMs counts from SendCommand, its delivery included).
      const { baseRunMs, pullMs, deliveryMs } = account.ssmCommands.options;
      expect(Date.parse(out.ExecutionEndDateTime)).toBe(adminReadyAt - deliveryMs + baseRunMs + pullMs);
    });

    it('fails with the script\'s own error when the admin container is not up within its wait', async () => {
      // Prepare: a script that waits 1 s for an admin container that comes up about 2 s after the command starts.
      await untilAgentOnline();
      const oneSecond = pullCommands(generatePullScript({ images: [parseImageReference('nginx')], platforms: ['linux/amd64'], concurrency: 1 }, { adminWaitSeconds: 1 }));
      // Act
      const { Command } = await send({ Parameters: { commands: oneSecond } });
      await vi.advanceTimersByTimeAsync(10_000);
      // Assess
      const out = await ssm('GetCommandInvocation', { CommandId: Command.CommandId, InstanceId: instanceId });
      expect(out.Status).toBe('Failed');
      expect(parsePullReport(out.StandardOutputContent, planOf(['nginx'])).error).toMatch(/^the admin container did not accept apiclient exec within 1 s .*: ctr: no running task found/);
    });

    it('fails a private ECR pull the builder role may not read with ECR\'s 403', async () => {
      // Prepare
      const arn = 'arn:aws:ecr:us-west-2:123456789012:repository/team/model';
      denyOn('ecr:BatchGetImage', arn);
      await vi.advanceTimersByTimeAsync(60_000);
      const reference = '123456789012.dkr.ecr.us-west-2.amazonaws.com/team/model:v7';
      // Act
      const { Command } = await send({ Parameters: { commands: commands([reference, 'nginx']) } });
      await vi.advanceTimersByTimeAsync(120_000);
      // Assess
      const report = parsePullReport((await ssm('GetCommandInvocation', { CommandId: Command.CommandId, InstanceId: instanceId })).StandardOutputContent, planOf([reference, 'nginx']));
      expect(report.summary).toEqual({ expected: 2, ok: 1, failed: 1 });
      expect(report.failures[0]!.reference).toBe(reference);
      expect(report.failures[0]!.reason).toBe(
        `ctr: failed to resolve reference "${reference}": unexpected status from HEAD request to https://123456789012.dkr.ecr.us-west-2.amazonaws.com/v2/team/model/manifests/v7: 403 Forbidden`,
      );
      expect(asked.filter(({ request }) => request.resources[0]!.arn === arn).map(({ request }) => request.action)).toEqual(['ecr:BatchGetImage']);
    });

    it('fails a private ECR pull with the credential provider\'s error when the role may not get a token', async () => {
      // Prepare: the host containers were pulled already; the token is refused from now on.
      await vi.advanceTimersByTimeAsync(60_000);
      await online();
      denyOn('ecr:GetAuthorizationToken', '*');
      // Act
      const { Command } = await send({ Parameters: { commands: commands(['123456789012.dkr.ecr.us-west-2.amazonaws.com/team/model:v7']) } });
      await vi.advanceTimersByTimeAsync(120_000);
      // Assess
      const report = parsePullReport((await ssm('GetCommandInvocation', { CommandId: Command.CommandId, InstanceId: instanceId })).StandardOutputContent, planOf(['123456789012.dkr.ecr.us-west-2.amazonaws.com/team/model:v7']));
      expect(report.failures[0]!.reason).toMatch(/^credential provider failed: .*AccessDeniedException: .* is not authorized to perform: ecr:GetAuthorizationToken on resource: \*/);
    });

    it('knows the regions whose host containers come from another account, and the fallback', () => {
      expect(hostContainerRepository('af-south-1', 'admin').arn).toBe('arn:aws:ecr:af-south-1:917644944286:repository/bottlerocket-admin');
      expect(hostContainerRepository('cn-north-1', 'control').uri).toBe('183470599484.dkr.ecr.cn-north-1.amazonaws.com.cn/bottlerocket-control');
      expect(hostContainerRepository('us-gov-west-1', 'control').arn).toBe('arn:aws-us-gov:ecr:us-gov-west-1:347163068887:repository/bottlerocket-control');
      expect(hostContainerRepository('xx-new-1', 'control').arn).toBe('arn:aws:ecr:us-east-1:328549459982:repository/bottlerocket-control');
    });
  });
});
