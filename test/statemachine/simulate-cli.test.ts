import { describe, expect, it } from 'vitest';
import { formatElapsed, main } from '../../cli/simulate';
import { parseFaultSpec } from '../../simulation/scenarios/faults';
import { loadHandlers, taskBindings, type AslDefinition } from '../../simulation/run-state-machine';

const NGINX = 'public.ecr.aws/docker/library/nginx:1.27';

const simulate = async (...argv: string[]) => {
  const lines: string[] = [];
  const code = await main(argv, (line) => lines.push(line));
  return { code, text: lines.join('\n') };
};

describe('npm run simulate', () => {
  it('shows each stage per architecture with virtual time, then the output, and exits 0', async () => {
    const { code, text } = await simulate('--images', NGINX, '--arch', 'amd64,arm64');

    expect(code).toBe(0);
    expect(text).toMatch(/^\[\+00:00:\d\d\] x86_64 +CheckSsmAgent +online$/m);
    expect(text).toMatch(/^\[\+\d\d:\d\d:\d\d\] arm64 +CheckSnapshot +completed 100%$/m);
    expect(text).toContain('"status": "BUILT"');
    expect(text).toMatch(/state transitions, \d+ Lambda invocations, \d+ history events \(quota 25,000\), largest payload [\d,]+ bytes \([\d.]+ % of 256 KiB, \w+ [a-z ]+\)$/m);
    expect(text).toMatch(/^IAM: [1-9]\d* requests evaluated against the deployed policies, 0 denied \(.*ec2:RunInstances \d+.*\)$/m);
  });

  it('ends with the error and its cause, and exits 1, when the execution fails', async () => {
    const { code, text } = await simulate('--images', NGINX, '--fault', 'command-fails:ctr: 401 Unauthorized');

    expect(code).toBe(1);
    expect(text).toMatch(/^FAILED: PullFailedError$/m);
    expect(text).toMatch(/^cause: check-pull-command failed with PullFailedError: .*401 Unauthorized/m);
  });

  it('prints the report as JSON with --json', async () => {
    const { code, text } = await simulate('--images', NGINX, '--layout', 'combined', '--arch', 'x86_64,arm64', '--json');

    const report = JSON.parse(text) as { status: string; output: { snapshots: { platforms: string[] }[] }; stateTransitions: number; historyEvents: number; iam: { evaluated: number; denied: number; byAction: Record<string, { evaluated: number }> } };
    expect(code).toBe(0);
    expect(report.status).toBe('SUCCEEDED');
    expect(report.output.snapshots.map((s) => s.platforms)).toEqual([['linux/amd64', 'linux/arm64']]);
    expect(report.stateTransitions).toBeGreaterThan(10);
    expect(report.iam.denied).toBe(0);
    expect(report.iam.byAction['iam:PassRole']?.evaluated).toBe(1);
    expect(report.historyEvents).toBeGreaterThan(report.stateTransitions);
  });

  it('fails with exit status 2 when a fault spec is malformed', async () => {
    expect((await simulate('--images', NGINX, '--fault', 'throttle:ec9:RunInstances')).code).toBe(2);
    expect((await simulate('--arch', 'x86_64')).code).toBe(2);
  });

  it('formats virtual time as +HH:MM:SS', () => {
    expect(formatElapsed(0)).toBe('+00:00:00');
    expect(formatElapsed(3_723_000)).toBe('+01:02:03');
  });
});

describe('fault specs', () => {
  it('maps AWS faults onto the simulated account with AWS error codes', () => {
    expect(parseFaultSpec('throttle:ec2:RunInstances:3')).toMatchObject({ kind: 'aws', rule: { service: 'ec2', operation: 'RunInstances', code: 'RequestLimitExceeded', times: 3 } });
    expect(parseFaultSpec('throttle:ssm:SendCommand:always')).toMatchObject({ rule: { code: 'ThrottlingException', times: Infinity } });
    expect(parseFaultSpec('access-denied:ec2:StopInstances')).toMatchObject({ rule: { code: 'UnauthorizedOperation', times: Infinity } });
    expect(parseFaultSpec('aws-error:ec2:CreateSnapshot:SnapshotCreationPerVolumeRateExceeded:2')).toMatchObject({ rule: { code: 'SnapshotCreationPerVolumeRateExceeded', times: 2 } });
    expect(parseFaultSpec('throttle:ec2:DescribeInstances:7@CheckInstanceStopped')).toMatchObject({ fromState: 'CheckInstanceStopped', rule: { times: 7 } });
  });

  it('parses resource faults', () => {
    expect(parseFaultSpec('lose-instance:CheckPullCommand:arm64')).toMatchObject({ kind: 'lose-instance', state: 'CheckPullCommand', architecture: 'arm64', vanish: false });
    expect(parseFaultSpec('never-finish:snapshot')).toMatchObject({ kind: 'never-finish', what: 'snapshot' });
    expect(parseFaultSpec('image-missing:ghcr.io/org/app:1.0')).toMatchObject({ kind: 'image-missing', reference: 'ghcr.io/org/app:1.0' });
    expect(parseFaultSpec('command-fails:ctr: 401')).toMatchObject({ kind: 'ssm', what: 'command-fails', argument: 'ctr: 401' });
  });

  it.each([
    ['an unknown kind', 'explode', /unknown fault/],
    ['an unknown service', 'throttle:s3:GetObject', /unknown service/],
    ['a lower-case operation', 'throttle:ec2:runInstances', /API operation/],
    ['a bad count', 'throttle:ec2:RunInstances:0', /positive whole number/],
    ['never-finish of something else', 'never-finish:reboot', /launch, stop/],
    ['@State on a resource fault', 'snapshot-error@CheckSnapshot', /only AWS-level/],
  ])('fails when the spec has %s', (_, spec, message) => {
    expect(() => parseFaultSpec(spec)).toThrow(message);
  });
});

describe('the harness', () => {
  it('fails when a Task has no handler file, instead of calling a real Lambda', async () => {
    const definition: AslDefinition = {
      StartAt: 'Ghost',
      States: { Ghost: { Type: 'Task', Resource: 'arn:aws:states:::lambda:invoke', Parameters: { FunctionName: '${GhostStageFunctionArn}' }, End: true } },
    };

    await expect(loadHandlers(taskBindings(definition))).rejects.toThrow(/Ghost -> functions\/ghost-stage\.ts/);
  });

  it('fails when a Task names its function without a substitution', () => {
    const definition: AslDefinition = {
      StartAt: 'Direct',
      States: { Direct: { Type: 'Task', Resource: 'arn:aws:states:::lambda:invoke', Parameters: { FunctionName: 'arn:aws:lambda:us-west-2:1:function:x' }, End: true } },
    };

    expect(() => taskBindings(definition)).toThrow(/\$\{<Name>FunctionArn\}/);
  });
});
