import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { REGION, STATE_MACHINE_ARN, startAwsStub, type AwsStub, type RecordedExecution } from './aws-stub';
import { ROOT, cleanEnvironment, installGlobally, packageVersion, run, stubEnvironment, withoutNodeWarning, type Installed } from './installed-cli';

const fixture = (name: string): RecordedExecution =>
  JSON.parse(readFileSync(join(new URL('.', import.meta.url).pathname, 'fixtures', `${name}.history.json`), 'utf8')) as RecordedExecution;

const BUILT = fixture('built-two-architectures');
const LOST = fixture('x86_64-lost-arm64-stopped');
const IMAGE = 'public.ecr.aws/eks-distro/kubernetes/pause:3.9';

/** An UP_TO_DATE execution: PrepareBuild found the digests unchanged (docs/input.md, "Output when nothing changed"). */
const UP_TO_DATE: RecordedExecution = (() => {
  const output = JSON.stringify({
    executionName: 'e',
    recipe: 'nightly',
    status: 'UP_TO_DATE',
    reason: 'UP_TO_DATE',
    layout: 'combined',
    architectures: ['x86_64', 'arm64'],
    builds: [],
    current: [
      { architecture: 'x86_64', snapshotId: 'snap-0aaaaaaaaaaaaaaaa', digestSet: 'd', parameterName: '/snapshot-factory/nightly/x86_64/snapshot-id' },
      { architecture: 'arm64', snapshotId: 'snap-0aaaaaaaaaaaaaaaa', digestSet: 'd', parameterName: '/snapshot-factory/nightly/arm64/snapshot-id' },
    ],
  });
  const t = Date.UTC(2026, 11, 1, 9);
  const events = [
    { id: 1, previousEventId: 0, timestamp: t, type: 'ExecutionStarted', executionStartedEventDetails: { input: '{}', inputDetails: { truncated: false }, roleArn: 'arn:aws:iam::111122223333:role/r' } },
    { id: 2, previousEventId: 1, timestamp: t, type: 'TaskStateEntered', stateEnteredEventDetails: { name: 'PrepareBuild', input: '{}', inputDetails: { truncated: false } } },
    { id: 3, previousEventId: 2, timestamp: t + 900, type: 'TaskStateExited', stateExitedEventDetails: { name: 'PrepareBuild', output, outputDetails: { truncated: false } } },
    { id: 4, previousEventId: 3, timestamp: t + 900, type: 'SucceedStateEntered', stateEnteredEventDetails: { name: 'AlreadyUpToDate', input: output, inputDetails: { truncated: false } } },
    { id: 5, previousEventId: 4, timestamp: t + 900, type: 'ExecutionSucceeded', executionSucceededEventDetails: { output, outputDetails: { truncated: false } } },
  ];
  return { status: 'SUCCEEDED', output, events };
})();

let installed: Installed;
let home: string;
let stub: AwsStub | undefined;

beforeAll(() => {
  installed = installGlobally();
  home = mkdtempSync(join(tmpdir(), 'snapshot-factory-home-'));
}, 120_000);

afterAll(() => {
  installed?.remove();
  rmSync(home, { recursive: true, force: true });
});

afterEach(async () => {
  await stub?.close();
  stub = undefined;
});

const startedInput = (s: AwsStub): Record<string, unknown> => {
  const start = s.requests.find((r) => r.operation === 'StartExecution');
  return JSON.parse(String(start?.body.input)) as Record<string, unknown>;
};

describe('the installed snapshot-factory command', () => {
  it('prints its version alone on stdout', async () => {
    // Act
    const result = await run(installed.bin, ['--version'], cleanEnvironment(home));
    // Assess
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`${packageVersion()}\n`);
    expect(withoutNodeWarning(result.stderr)).toBe('');
  });

  it('runs as npx snapshot-factory from the clone', async () => {
    // Act
    const result = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
      execFile('npx', ['--no-install', 'snapshot-factory', '--version'], { cwd: ROOT, env: { ...cleanEnvironment(home), npm_config_update_notifier: 'false' } }, (error, stdout, stderr) =>
        resolve({ code: error ? 1 : 0, stdout, stderr }),
      ),
    );
    // Assess
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`${packageVersion()}\n`);
  }, 120_000);

  it('says an execution is still running with status, exit code 2, nothing on stdout', async () => {
    // Prepare
    stub = await startAwsStub({ execution: BUILT, eventsPerPoll: 10 });
    const started = await run(installed.bin, ['build', '--state-machine-arn', STATE_MACHINE_ARN, '--no-wait', IMAGE], stubEnvironment(home, stub.url));
    const name = started.stdout.trim().split(':').at(-1)!;
    // Act
    const result = await run(installed.bin, ['status', name, '--state-machine-arn', STATE_MACHINE_ARN], stubEnvironment(home, stub.url));
    // Assess
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/still RUNNING/);
  }, 120_000);

  it('prints only the snapshot IDs with -q, progress on stderr, the region taken from the state machine ARN', async () => {
    // Prepare
    stub = await startAwsStub({ execution: BUILT, eventsPerPoll: 80 });
    // Act
    const result = await run(
      installed.bin,
      ['build', '--state-machine-arn', STATE_MACHINE_ARN, '-A', 'amd64,arm64', '--layout', 'per-architecture', '-q', '--poll-seconds', '1', IMAGE],
      stubEnvironment(home, stub.url),
    );
    // Assess
    const snapshots = JSON.parse(BUILT.output!).snapshots.map((s: { snapshotId: string }) => s.snapshotId) as string[];
    expect(result.stdout).toBe(snapshots.map((id) => `${id}\n`).join(''));
    expect(snapshots).toHaveLength(2);
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/^started arn:aws:states:eu-central-1:/m);
    expect(result.stderr).toContain('snapshots built');
    expect(new Set(stub.requests.map((r) => r.signedRegion))).toEqual(new Set([REGION]));
    expect(startedInput(stub)).toEqual({ images: [IMAGE], architectures: ['x86_64', 'arm64'], layout: 'per-architecture' });
  }, 120_000);

  it('prints one line per stage change when piped, not one per poll', async () => {
    // Prepare
    stub = await startAwsStub({ execution: BUILT, eventsPerPoll: 80 });
    // Act
    const result = await run(
      installed.bin,
      ['build', '--state-machine-arn', STATE_MACHINE_ARN, '--arch', 'amd64,arm64', '--layout', 'per-architecture', '--poll-seconds', '1', IMAGE],
      stubEnvironment(home, stub.url),
    );
    // Assess
    const progress = result.stderr.split('\n').filter((line) => line.startsWith('[+'));
    const checks = BUILT.events.filter((e) => (e as { stateEnteredEventDetails?: { name: string } }).stateEnteredEventDetails?.name === 'CheckSsmAgent');
    expect(checks.length).toBeGreaterThan(4); // the recorded build polled the agent several times per architecture
    for (const architecture of ['x86_64', 'arm64']) {
      const lines = progress.filter((line) => line.includes(`] ${architecture}: `)).map((line) => line.replace(/^\[[^\]]+\] /, ''));
      expect(lines).toEqual([
        `${architecture}: LaunchInstance`,
        `${architecture}: CheckSsmAgent`,
        `${architecture}: SendPullCommand`,
        `${architecture}: CheckPullCommand`,
        `${architecture}: StopInstance`,
        `${architecture}: CheckInstanceStopped`,
        `${architecture}: CreateSnapshot`,
        `${architecture}: CheckSnapshot`,
        `${architecture}: TerminateInstance`,
        `${architecture}: done`,
      ]);
    }
    expect(result.stdout.trim().split('\n').map((line) => line.split('\t')[0])).toEqual(['x86_64', 'arm64']);
  }, 120_000);

  it('reports a failure once: stage, error, cause, the stopped sibling, and what cleanup did', async () => {
    // Prepare
    stub = await startAwsStub({ execution: LOST, eventsPerPoll: 40 });
    // Act
    const result = await run(
      installed.bin,
      ['build', '--state-machine-arn', STATE_MACHINE_ARN, '-A', 'amd64,arm64', '--layout', 'per-architecture', '--poll-seconds', '1', IMAGE],
      stubEnvironment(home, stub.url),
    );
    // Assess
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    const report = result.stderr.slice(result.stderr.indexOf('build FAILED'));
    expect(report).toMatch(/^build FAILED: InstanceLostError\n/);
    expect(report).toMatch(/\n {2}x86_64: failed in CheckPullCommand: InstanceLostError: check-pull-command: builder i-\w+ is terminated while pulling images/);
    expect(report).toMatch(/\n {2}arm64: stopped in \w+ because x86_64 failed\n/);
    expect(report).toMatch(/\n {2}cleanup: terminated i-\w+; already gone i-\w+\n/);
    expect(result.stderr.split('is terminated while pulling images')).toHaveLength(2);
  }, 120_000);

  it('prints the current snapshot when the images are unchanged (output field current)', async () => {
    // Prepare
    stub = await startAwsStub({ execution: UP_TO_DATE });
    // Act
    const result = await run(installed.bin, ['build', '--state-machine-arn', STATE_MACHINE_ARN, '-A', 'amd64,arm64', '-q', '--poll-seconds', '1', IMAGE], stubEnvironment(home, stub.url));
    // Assess
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('snap-0aaaaaaaaaaaaaaaa\n');
    expect(result.stderr).toContain('images unchanged: the current snapshots are up to date');
  }, 120_000);

  it("maps snapshot.sh's flags, short and long, onto the execution input and writes -op", async () => {
    // Prepare
    stub = await startAwsStub({ execution: UP_TO_DATE });
    // Act
    const result = await run(
      installed.bin,
      [
        'build', '--state-machine-arn', STATE_MACHINE_ARN, '--poll-seconds', '1',
        '-a', '/aws/service/bottlerocket/aws-k8s-1.35/x86_64/latest/image_id',
        '-i', 'x86_64=m7i.large,arm64=m7g.large,arm64=m6g.large', '-e', '-k', 'alias/snap', '--snapshot-size', '200',
        '-sg', 'sg-0123456789abcdef0', '-sn', 'subnet-0123456789abcdef0', '--public-ip', 'false',
        '--arch', 'amd64,arm64', '--layout', 'per-architecture', '-op', '/my/snapshot', '-q',
        IMAGE,
      ],
      stubEnvironment(home, stub.url),
    );
    // Assess
    expect(result.code).toBe(0);
    expect(startedInput(stub)).toEqual({
      images: [IMAGE],
      architectures: ['x86_64', 'arm64'],
      layout: 'per-architecture',
      amiParameter: '/aws/service/bottlerocket/aws-k8s-1.35/{arch}/latest/image_id',
      instanceTypes: { x86_64: ['m7i.large'], arm64: ['m7g.large', 'm6g.large'] },
      subnetIds: ['subnet-0123456789abcdef0'],
      securityGroupIds: ['sg-0123456789abcdef0'],
      associatePublicIp: false,
      dataVolume: { sizeGiB: 200, encrypted: true, kmsKeyArn: 'alias/snap' },
    });
    const describe = stub.requests.find((r) => r.operation === 'DescribeInstanceTypes');
    expect(Object.entries(describe?.body ?? {}).filter(([k]) => k.startsWith('InstanceType.')).map(([, v]) => v).sort()).toEqual(['m6g.large', 'm7g.large', 'm7i.large']);
    const puts = stub.requests.filter((r) => r.operation === 'PutParameter').map((r) => [r.body.Name, r.body.Value]);
    expect(puts).toEqual([
      ['/my/snapshot/x86_64', 'snap-0aaaaaaaaaaaaaaaa'],
      ['/my/snapshot/arm64', 'snap-0aaaaaaaaaaaaaaaa'],
    ]);
  }, 120_000);

  it('fails when -R/--instance-role is given, naming the deploy-time setting, before anything starts', async () => {
    // Prepare
    stub = await startAwsStub({ execution: UP_TO_DATE });
    // Act
    const result = await run(installed.bin, ['build', '--state-machine-arn', STATE_MACHINE_ARN, '-R', 'my-role', IMAGE], stubEnvironment(home, stub.url));
    // Assess
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('-R/--instance-role: a deploy-time setting now: set instanceRoleName in cdk.json and redeploy (docs/configuration.md)');
    expect(stub.requests).toEqual([]);
  }, 120_000);

  it('fails when an instance type does not run the architecture, as DescribeInstanceTypes says, before launching', async () => {
    // Prepare
    stub = await startAwsStub({ execution: UP_TO_DATE });
    // Act
    const result = await run(installed.bin, ['build', '--state-machine-arn', STATE_MACHINE_ARN, '-A', 'amd64,arm64', '--layout', 'per-architecture', '-i', 'm5.large', IMAGE], stubEnvironment(home, stub.url));
    // Assess
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('-i/--instance-type: "m5.large" is i386/x86_64 (DescribeInstanceTypes), not arm64: give types per architecture, e.g. -i x86_64=m7i.large,arm64=m7g.large');
    expect(stub.requests.map((r) => r.operation)).toEqual(['DescribeInstanceTypes']);
  }, 120_000);

  it('fails when an instance type does not run the architecture by the naming rule, without credentials', async () => {
    // Act
    const result = await run(installed.bin, ['build', '--state-machine-arn', STATE_MACHINE_ARN, '-A', 'arm64', '-i', 'm7g.large,m6i.large', IMAGE], cleanEnvironment(home));
    // Assess
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('"m6i.large" is x86_64 (the naming rule: no AWS credentials for DescribeInstanceTypes), not arm64');
  }, 120_000);

  it('fails when the state machine ARN is not one, naming it', async () => {
    // Act
    const result = await run(installed.bin, ['build', '--state-machine-arn', 'SnapshotFactory', IMAGE], cleanEnvironment(home));
    // Assess
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('--state-machine-arn "SnapshotFactory" is not a Step Functions state machine ARN');
  }, 120_000);

  it('shows how an execution ended with status, the IDs on stdout', async () => {
    // Prepare
    stub = await startAwsStub({ execution: BUILT, eventsPerPoll: 1000 });
    const started = await run(installed.bin, ['build', '--state-machine-arn', STATE_MACHINE_ARN, '--no-wait', IMAGE], stubEnvironment(home, stub.url));
    // Act
    const result = await run(installed.bin, ['status', started.stdout.trim(), '-q'], stubEnvironment(home, stub.url));
    // Assess
    expect(started.stdout).toMatch(/^arn:aws:states:eu-central-1:111122223333:execution:SnapshotFactory:\S+\n$/);
    expect(result.code).toBe(0);
    expect(result.stdout.trim().split('\n')).toEqual(JSON.parse(BUILT.output!).snapshots.map((s: { snapshotId: string }) => s.snapshotId));
  }, 120_000);
});

describe('node-class and launch-template', () => {
  const SNAPSHOT = 'snap-0123456789abcdef0';
  const KEY = 'arn:aws:kms:eu-central-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';

  it('prints an EC2NodeClass alone on stdout, sized from DescribeSnapshots, that parses as YAML', async () => {
    // Prepare
    stub = await startAwsStub({ snapshots: [{ snapshotId: SNAPSHOT, volumeSize: 150, state: 'completed', encrypted: true, kmsKeyId: KEY }] });
    // Act
    const result = await run(installed.bin, ['node-class', SNAPSHOT, '-r', REGION, '--role', 'KarpenterNodeRole-demo', '--cluster-name', 'demo'], stubEnvironment(home, stub.url));
    // Assess
    expect(result.code).toBe(0);
    const nodeClass = parse(result.stdout) as { apiVersion: string; kind: string; spec: Record<string, any> };
    expect(nodeClass.apiVersion).toBe('karpenter.k8s.aws/v1');
    expect(nodeClass.kind).toBe('EC2NodeClass');
    expect(nodeClass.spec.role).toBe('KarpenterNodeRole-demo');
    expect(nodeClass.spec.subnetSelectorTerms).toEqual([{ tags: { 'karpenter.sh/discovery': 'demo' } }]);
    expect(nodeClass.spec.securityGroupSelectorTerms).toEqual([{ tags: { 'karpenter.sh/discovery': 'demo' } }]);
    expect(nodeClass.spec.blockDeviceMappings.map((m: { deviceName: string }) => m.deviceName)).toEqual(['/dev/xvda', '/dev/xvdb']);
    expect(nodeClass.spec.blockDeviceMappings[1].ebs).toMatchObject({ snapshotID: SNAPSHOT, volumeSize: '150Gi' });
    expect(result.stderr).toContain(`encrypted with ${KEY}`);
  }, 120_000);

  it('fails when the snapshot ID is not one, quoting it, with nothing on stdout', async () => {
    // Act
    const result = await run(installed.bin, ['node-class', 'x; rm -rf /', '--role', 'r', '--cluster-name', 'demo', '-s', '100'], cleanEnvironment(home));
    // Assess
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('<snapshot-id> "x; rm -rf /" is not a valid snapshot ID');
  }, 120_000);

  it('fails when --volume-size is below the snapshot size', async () => {
    // Prepare
    stub = await startAwsStub({ snapshots: [{ snapshotId: SNAPSHOT, volumeSize: 150, state: 'completed', encrypted: false }] });
    // Act
    const result = await run(installed.bin, ['launch-template', SNAPSHOT, '-r', REGION, '-s', '100'], stubEnvironment(home, stub.url));
    // Assess
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`-s/--volume-size 100 is below the size of ${SNAPSHOT} (150 GiB)`);
  }, 120_000);

  it('prints launch template data with both devices from the flags when there are no credentials', async () => {
    // Act
    const result = await run(installed.bin, ['launch-template', SNAPSHOT, '-s', '80'], cleanEnvironment(home));
    // Assess
    expect(result.code).toBe(0);
    const data = JSON.parse(result.stdout) as { BlockDeviceMappings: { DeviceName: string; Ebs: Record<string, unknown> }[] };
    expect(data.BlockDeviceMappings.map((m) => m.DeviceName)).toEqual(['/dev/xvda', '/dev/xvdb']);
    expect(data.BlockDeviceMappings[1]!.Ebs).toMatchObject({ SnapshotId: SNAPSHOT, VolumeSize: 80 });
    expect(data.BlockDeviceMappings[1]!.Ebs).not.toHaveProperty('Encrypted');
  }, 120_000);
});
