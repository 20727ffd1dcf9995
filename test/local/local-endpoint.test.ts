/**
 * `snapshot-factory local` as a user runs it: a child process serving Step Functions on 127.0.0.1, driven by the
 * real AWS CLI (when installed) and by `snapshot-factory build --endpoint-url`, with dummy credentials and no
 * network beyond 127.0.0.1. Raw HTTP requests check the protocol's error shapes.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../../simulation/run-state-machine';

const IMAGE = 'public.ecr.aws/eks-distro/kubernetes/pause:3.9';
/** Fast enough that a build takes seconds; the default speed is measured in docs/simulation.md. */
const SPEED = '60';
const DUMMY_AWS_ENV = {
  AWS_ACCESS_KEY_ID: 'x',
  AWS_SECRET_ACCESS_KEY: 'x',
  AWS_SESSION_TOKEN: 'x',
  AWS_REGION: 'us-west-2',
  AWS_DEFAULT_REGION: 'us-west-2',
  AWS_EC2_METADATA_DISABLED: 'true',
  AWS_CONFIG_FILE: '/dev/null',
  AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
};
const awsCliPresent = spawnSync('aws', ['--version'], { encoding: 'utf8' }).status === 0;
if (!awsCliPresent) console.warn('test/local: the AWS CLI (`aws`) is not installed: the tests that drive it are skipped');

let server: ChildProcess;
let stateMachineArn = '';
let endpointUrl = '';
let serverStderr = '';

const executionArnOf = (name: string) => `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;

/** One JSON 1.0 request, as an SDK sends it (unsigned: the endpoint does not verify SigV4). */
const call = async (operation: string | undefined, body: unknown) => {
  const response = await fetch(endpointUrl, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-amz-json-1.0', ...(operation ? { 'X-Amz-Target': `AWSStepFunctions.${operation}` } : {}) },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: response.status, contentType: response.headers.get('content-type'), body: (await response.json()) as Record<string, unknown> };
};

const aws = (...args: string[]) => {
  const result = spawnSync('aws', ['stepfunctions', ...args, '--endpoint-url', endpointUrl, '--output', 'json'], { encoding: 'utf8', env: { ...process.env, ...DUMMY_AWS_ENV } });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr, json: () => JSON.parse(result.stdout) as Record<string, unknown> };
};

const until = async <T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 120_000): Promise<T> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; the server said:\n${serverStderr}`);
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
};

beforeAll(async () => {
  server = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'cli', 'snapshot-factory.ts'), 'local', '--port', '0', '--speed', SPEED], {
    cwd: ROOT,
    env: { ...process.env, ...DUMMY_AWS_ENV },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  server.stderr!.on('data', (chunk: Buffer) => (serverStderr += chunk.toString()));
  let stdout = '';
  await new Promise<void>((resolve, reject) => {
    server.once('exit', (code) => reject(new Error(`local exited (code ${code}) before serving:\n${serverStderr}`)));
    server.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const lines = stdout.split('\n');
      if (lines.length > 2) {
        [stateMachineArn, endpointUrl] = lines as [string, string];
        resolve();
      }
    });
  });
}, 180_000);

afterAll(async () => {
  if (server && server.exitCode === null) {
    server.kill('SIGKILL');
  }
});

describe('snapshot-factory local', () => {
  it('prints the state machine ARN on its first line and the endpoint on its second', () => {
    // Assess
    expect(stateMachineArn).toMatch(/^arn:aws:states:us-west-2:\d{12}:stateMachine:[A-Za-z0-9-]+$/);
    expect(endpointUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it.skipIf(!awsCliPresent)('runs a build the AWS CLI starts, describes and reads the history of', async () => {
    // Prepare
    const input = JSON.stringify({ images: [IMAGE] });

    // Act
    const started = aws('start-execution', '--state-machine-arn', stateMachineArn, '--name', 'cli-build', '--input', input);
    // Waited for with plain requests: a poll a second through the AWS CLI cost ~0.3 s of CPU (Python) each.
    await until('the build to end', async () => ((await call('DescribeExecution', { executionArn: executionArnOf('cli-build') })).body.status === 'RUNNING' ? undefined : true));
    const described = aws('describe-execution', '--execution-arn', executionArnOf('cli-build')).json();
    const history = aws('get-execution-history', '--execution-arn', executionArnOf('cli-build')).json().events as Record<string, unknown>[];
    const reversed = aws('get-execution-history', '--execution-arn', executionArnOf('cli-build'), '--reverse-order', '--max-items', '1', '--no-include-execution-data').json();

    // Assess
    expect(started.status, started.stderr).toBe(0);
    expect(started.json().executionArn).toBe(executionArnOf('cli-build'));
    expect(described.status, String(described.cause)).toBe('SUCCEEDED');
    expect(described.input).toBe(input);
    const output = JSON.parse(described.output as string) as { status: string; snapshots: { snapshotId: string }[] };
    expect(output.status).toBe('BUILT');
    expect(output.snapshots[0]!.snapshotId).toMatch(/^snap-[0-9a-f]{17}$/);
    // Epoch seconds on the wire, stop after start.
    expect(described.startDate).toBeGreaterThan(1.7e9);
    expect(described.startDate).toBeLessThan(1e11);
    expect(described.stopDate as number).toBeGreaterThan(described.startDate as number);
    expect(history[0]).toMatchObject({ id: 1, previousEventId: 0, type: 'ExecutionStarted' });
    expect(history.at(-1)!.type).toBe('ExecutionSucceeded');
    expect(history.map((e) => e.id)).toEqual(history.map((_, i) => i + 1));
    const entered = history.filter((e) => e.type === 'TaskStateEntered').map((e) => (e.stateEnteredEventDetails as { name: string }).name);
    expect(entered).toEqual(expect.arrayContaining(['PrepareBuild', 'LaunchInstance', 'SendPullCommand', 'CreateSnapshot', 'PublishSnapshot']));
    const scheduled = history.find((e) => e.type === 'TaskScheduled')!.taskScheduledEventDetails as Record<string, unknown>;
    expect(scheduled).toMatchObject({ resourceType: 'lambda', resource: 'invoke' });
    expect(JSON.parse(scheduled.parameters as string)).toHaveProperty('FunctionName');
    const last = (reversed.events as Record<string, unknown>[])[0]!;
    expect(last.type).toBe('ExecutionSucceeded');
    expect(last.executionSucceededEventDetails).not.toHaveProperty('output');
  }, 180_000);

  it('runs a build that snapshot-factory build --endpoint-url follows, printing the snapshot ID alone with -q', () => {
    // Act
    const build = spawnSync(
      process.execPath,
      ['--import', 'tsx', join(ROOT, 'cli', 'snapshot-factory.ts'), 'build', '--endpoint-url', endpointUrl, '--state-machine-arn', stateMachineArn, '--poll-seconds', '1', '--force', '-q', IMAGE],
      { cwd: ROOT, encoding: 'utf8', env: { ...process.env, ...DUMMY_AWS_ENV }, timeout: 150_000 },
    );

    // Assess
    expect(build.status, build.stderr).toBe(0);
    expect(build.stdout.trim()).toMatch(/^snap-[0-9a-f]{17}$/);
  }, 180_000);

  it('follows an execution it serves with snapshot-factory status --endpoint-url, the snapshot ID alone with -q', () => {
    // Prepare: a build started without waiting prints its execution ARN.
    const cli = (...args: string[]) =>
      spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'cli', 'snapshot-factory.ts'), ...args], {
        cwd: ROOT,
        encoding: 'utf8',
        env: { ...process.env, ...DUMMY_AWS_ENV },
        timeout: 150_000,
      });
    const started = cli('build', '--endpoint-url', endpointUrl, '--state-machine-arn', stateMachineArn, '--no-wait', '--force', IMAGE);
    const executionArn = started.stdout.trim();
    // Act
    const status = cli('status', executionArn, '--endpoint-url', endpointUrl, '--follow', '--poll-seconds', '1', '-q');
    // Assess
    expect(started.status, started.stderr).toBe(0);
    expect(executionArn).toMatch(/^arn:aws:states:us-west-2:\d{12}:execution:/);
    expect(status.status, status.stderr).toBe(0);
    expect(status.stdout.trim()).toMatch(/^snap-[0-9a-f]{17}$/);
  }, 180_000);

  it('stops one of two concurrent executions: ABORTED with the caller\'s error and cause, no Catch, its builder cleaned up; the other succeeds', async () => {
    // Prepare
    const arn = executionArnOf('to-stop');
    const started = await call('StartExecution', { stateMachineArn, name: 'to-stop', input: JSON.stringify({ images: [IMAGE], force: true }) });
    await call('StartExecution', { stateMachineArn, name: 'alongside', input: JSON.stringify({ images: ['public.ecr.aws/docker/library/busybox:1.37'] }) });
    await until('the builder to launch', async () => {
      const { body } = await call('GetExecutionHistory', { executionArn: arn });
      return (body.events as { type: string; stateExitedEventDetails?: { name: string } }[]).some((e) => e.stateExitedEventDetails?.name === 'LaunchInstance') ? true : undefined;
    });

    // Act
    const stopped = await call('StopExecution', { executionArn: arn, error: 'Manual', cause: 'rehearsal over' });
    const described = await call('DescribeExecution', { executionArn: arn });
    const history = await until('the aborted history', async () => {
      const events = (await call('GetExecutionHistory', { executionArn: arn })).body.events as Record<string, unknown>[];
      return events.at(-1)?.type === 'ExecutionAborted' ? events : undefined;
    });
    const cleanup = await until('the status-change cleanup', () => /cleanup-build ran \(\S+ \(to-stop ABORTED\)\): (.*)/.exec(serverStderr)?.[1], 60_000);
    const alongside = await until('the other execution to end', async () => {
      const { body } = await call('DescribeExecution', { executionArn: executionArnOf('alongside') });
      return body.status === 'RUNNING' ? undefined : body;
    });
    const listed = await call('ListExecutions', { stateMachineArn, maxResults: 1000 });

    // Assess
    expect(started.status).toBe(200);
    expect(stopped.status).toBe(200);
    expect(typeof stopped.body.stopDate).toBe('number');
    expect(described.body).toMatchObject({ status: 'ABORTED', error: 'Manual', cause: 'rehearsal over' });
    expect(history.at(-1)!.executionAbortedEventDetails).toEqual({ error: 'Manual', cause: 'rehearsal over' });
    const entered = history.filter((e) => e.type === 'TaskStateEntered').map((e) => (e.stateEnteredEventDetails as { name: string }).name);
    expect(entered).not.toContain('CleanupAfterFailure');
    expect((JSON.parse(cleanup) as { terminatedInstanceIds: string[] }).terminatedInstanceIds).toEqual([expect.stringMatching(/^i-/)]);
    expect(alongside.status, String(alongside.cause)).toBe('SUCCEEDED');
    const statuses = Object.fromEntries((listed.body.executions as { name: string; status: string }[]).map((e) => [e.name, e.status]));
    expect(statuses).toMatchObject({ 'to-stop': 'ABORTED', alongside: 'SUCCEEDED' });
  }, 180_000);

  it('is idempotent for the same name and input while running, and refuses another input', async () => {
    // Prepare
    const request = { stateMachineArn, name: 'twice', input: JSON.stringify({ images: [IMAGE], force: true }) };

    // Act
    const first = await call('StartExecution', request);
    const again = await call('StartExecution', request);
    const other = await call('StartExecution', { ...request, input: '{"images":[]}' });
    await call('StopExecution', { executionArn: executionArnOf('twice') });
    const afterClose = await call('StartExecution', request);

    // Assess
    expect(again.body).toEqual(first.body);
    expect(other).toMatchObject({ status: 400, body: { __type: 'ExecutionAlreadyExists' } });
    expect(afterClose).toMatchObject({ status: 400, body: { __type: 'ExecutionAlreadyExists' } });
  });

  it('fails when the target header is missing or names an unknown operation, with UnknownOperationException', async () => {
    // Act
    const missing = await call(undefined, {});
    const unknown = await call('CreateStateMachine', {});

    // Assess
    for (const answer of [missing, unknown]) {
      expect(answer.status).toBe(400);
      expect(answer.contentType).toBe('application/x-amz-json-1.0');
      expect(answer.body.__type).toBe('com.amazon.coral.service#UnknownOperationException');
    }
  });

  it('fails when the body is not JSON, with SerializationException', async () => {
    // Act
    const answer = await call('ListExecutions', '{not json');

    // Assess
    expect(answer).toMatchObject({ status: 400, body: { __type: 'com.amazon.coral.service#SerializationException' } });
  });

  it('fails when an ARN is malformed or names nothing, with InvalidArn and the DoesNotExist errors', async () => {
    // Act
    const badArn = await call('DescribeExecution', { executionArn: 'not-an-arn' });
    const noExecution = await call('DescribeExecution', { executionArn: executionArnOf('never-started') });
    const noMachine = await call('DescribeStateMachine', { stateMachineArn: `${stateMachineArn}-other` });

    // Assess
    expect(badArn).toMatchObject({ status: 400, body: { __type: 'InvalidArn' } });
    expect(noExecution).toMatchObject({ status: 400, body: { __type: 'ExecutionDoesNotExist' } });
    expect(noExecution.body.message).toContain(executionArnOf('never-started'));
    expect(noMachine).toMatchObject({ status: 400, body: { __type: 'StateMachineDoesNotExist' } });
  });

  it('describes the served state machine with its deployed definition', async () => {
    // Act
    const { body } = await call('DescribeStateMachine', { stateMachineArn });

    // Assess
    expect(body).toMatchObject({ stateMachineArn, status: 'ACTIVE', type: 'STANDARD' });
    const definition = JSON.parse(body.definition as string) as { States: Record<string, { Parameters?: { FunctionName?: string } }> };
    expect(definition.States.PrepareBuild!.Parameters!.FunctionName).toMatch(/^arn:aws:lambda:us-west-2:\d{12}:function:/);
    expect(body.creationDate).toBeLessThan(1e11);
  });

  it('ends cleanly on SIGTERM', async () => {
    // Act
    const exited = new Promise<number | null>((resolve) => server.once('exit', (code) => resolve(code)));
    server.kill('SIGTERM');

    // Assess
    expect(await exited).toBe(0);
  });
});

describe('snapshot-factory local usage errors', () => {
  it.each([
    ['--speed', '0', '--speed must be a number from 0.1 to 1000'],
    ['--speed', 'fast', '--speed must be a number from 0.1 to 1000'],
    ['--port', '70000', '--port must be an integer from 0 to 65535'],
  ])('fails when %s is %j, naming the flag, before starting anything', (flag, value, message) => {
    // Act
    const run = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'cli', 'snapshot-factory.ts'), 'local', flag, value], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });

    // Assess
    expect(run.status).not.toBe(0);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain(message);
  }, 60_000);
});
