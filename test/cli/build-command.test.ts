import { DescribeExecutionCommand, GetExecutionHistoryCommand, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { PutParameterCommand } from '@aws-sdk/client-ssm';
import { describe, expect, it } from 'vitest';
import { buildCommand, executionInputFromFlags, runBuild, type BuildOptions } from '../../cli/build-command';
import { rewriteLegacyFlags } from '../../cli/snapshot-flags';

const ARN = 'arn:aws:states:us-west-2:111122223333:stateMachine:SnapshotFactory';

/** Parses argv exactly as the CLI does (legacy flags rewritten, commander strict). */
const parse = (...argv: string[]): { images: string[]; options: BuildOptions } => {
  const command = buildCommand().exitOverride().configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
  let result: { images: string[]; options: BuildOptions } | undefined;
  command.action((images: string[], options: BuildOptions) => {
    result = { images, options };
  });
  command.parse(rewriteLegacyFlags(['--state-machine-arn', ARN, ...argv]), { from: 'user' });
  return result!;
};

/** A Step Functions double whose execution progresses one state per poll, then ends as `final`. */
const fakeSfn = (final: { status: string; output?: string; error?: string; cause?: string }) => {
  const states = ['PrepareBuild', 'LaunchInstance', 'CheckSsmAgent', 'WaitForSsmAgent', 'CheckSsmAgent', 'SendPullCommand'];
  const sent: unknown[] = [];
  let polls = 0;
  return {
    sent,
    send: async (command: unknown) => {
      sent.push(command);
      if (command instanceof StartExecutionCommand) return { executionArn: `${ARN}:exec-1` };
      if (command instanceof DescribeExecutionCommand) {
        polls += 1;
        return polls < 3 ? { status: 'RUNNING' } : final;
      }
      if (command instanceof GetExecutionHistoryCommand) {
        const shown = Math.min(states.length, polls * 2);
        return {
          events: states.slice(0, shown).map((name, index) => ({
            id: index + 1,
            timestamp: new Date(Date.UTC(2026, 0, 1, 0, 0, index)),
            type: 'TaskStateEntered',
            stateEnteredEventDetails: { name },
          })),
        };
      }
      throw new Error(`unexpected command ${String(command)}`);
    },
  };
};

const run = async (argv: string[], final: Parameters<typeof fakeSfn>[0]) => {
  const { images, options } = parse(...argv);
  const sfn = fakeSfn(final);
  const ssmSent: unknown[] = [];
  const stdout: string[] = [];
  const stderr: string[] = [];
  const code = await runBuild(images, options, {
    sfn,
    ssm: { send: async (command: unknown) => (ssmSent.push(command), {}) } as never,
    stdout: (line) => stdout.push(line),
    stderr: (line) => stderr.push(line),
    sleep: async () => undefined,
  });
  return { code, stdout, stderr, sfn, ssmSent };
};

const BUILT = {
  status: 'SUCCEEDED',
  output: JSON.stringify({ status: 'BUILT', recipe: 'default', snapshots: [{ architecture: 'x86_64', snapshotId: 'snap-0abc', volumeSizeGiB: 100 }] }),
};

describe('snapshot-factory build', () => {
  it('maps snapshot.sh flags onto the execution input', () => {
    const { images, options } = parse(
      '-a', '/aws/service/bottlerocket/aws-k8s-1.35/x86_64/latest/image_id',
      '-i', 'm7i.large,m6i.large', '-k', 'alias/snap', '-s', '200',
      '-sg', 'sg-0123456789abcdef0', '-sn', 'subnet-0123456789abcdef0', '-p', 'false',
      '-A', 'amd64,arm64',
      'public.ecr.aws/a/b:1,docker.io/library/nginx:1.27',
    );
    expect(executionInputFromFlags(images, options)).toEqual({
      images: ['public.ecr.aws/a/b:1', 'docker.io/library/nginx:1.27'],
      architectures: ['x86_64', 'arm64'],
      layout: 'combined',
      amiParameter: '/aws/service/bottlerocket/aws-k8s-1.35/{arch}/latest/image_id',
      instanceTypes: { x86_64: ['m7i.large', 'm6i.large'], arm64: ['m7i.large', 'm6i.large'] },
      subnetIds: ['subnet-0123456789abcdef0'],
      securityGroupIds: ['sg-0123456789abcdef0'],
      associatePublicIp: false,
      dataVolume: { sizeGiB: 200, encrypted: true, kmsKeyArn: 'alias/snap' },
    });
  });

  it('fails when a flag is unknown instead of taking it for an image', () => {
    expect(() => parse('--no-such-flag', 'nginx:1')).toThrow(/unknown option '--no-such-flag'/);
  });

  it('fails when the image list has an empty entry', () => {
    expect(() => parse('nginx:1,,redis:7')).toThrow(/empty entry at position 2/);
  });

  it('fails when --instance-role is given, naming the deploy-time setting', () => {
    const { images, options } = parse('-R', 'my-role', 'nginx:1');
    expect(() => executionInputFromFlags(images, options)).toThrow(/instanceRoleName/);
  });

  it('prints only the snapshot ID with --quiet, even with an output parameter', async () => {
    const result = await run(['-q', '-op', '/my/snapshot', 'nginx:1'], BUILT);
    expect(result.code).toBe(0);
    expect(result.stdout).toEqual(['snap-0abc']);
    expect(result.stderr).toEqual([]);
    const put = result.ssmSent[0] as PutParameterCommand;
    expect(put.input).toMatchObject({ Name: '/my/snapshot', Value: 'snap-0abc', Overwrite: true });
  });

  it('shows each stage once as the execution progresses', async () => {
    const result = await run(['nginx:1'], BUILT);
    const stages = result.stderr.filter((line) => line.startsWith('[')).map((line) => line.replace(/^\[[^\]]+\] /, ''));
    expect(stages).toEqual(['PrepareBuild', 'LaunchInstance', 'CheckSsmAgent', 'SendPullCommand']);
    expect(result.stdout).toEqual(['x86_64\tsnap-0abc']);
  });

  it('exits non-zero with the error and cause when the build fails', async () => {
    const result = await run(['nginx:1'], { status: 'FAILED', error: 'PullFailedError', cause: 'check-pull-command: not found' });
    expect(result.code).toBe(1);
    expect(result.stderr.at(-1)).toBe('build FAILED: PullFailedError check-pull-command: not found');
    expect(result.stdout).toEqual([]);
  });
});
