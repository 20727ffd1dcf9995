/**
 * EC2's request throttling in the simulation (simulation/aws/ec2-throttling.ts, from the Amazon EC2 Developer Guide's
 * "Request throttling for the Amazon EC2 API"): each action's token bucket refuses a burst beyond its size with
 * RequestLimitExceeded and accepts again after its refill; the factory's SDK clients retry a throttled request as the
 * SDK's standard strategy does (simulation/aws/install.ts); and many builds at once in one account, through the real
 * ASL and handlers, meet the buckets the factory's checks share.
 */
import FakeTimers from '@sinonjs/fake-timers';
import { DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { useRegistryLookup } from '../../functions/lib/digests';
import { ec2 } from '../../functions/lib/clients/ec2';
import { callAws } from '../../functions/lib/errors';
import { measureLeftovers } from '../../simulation/after-execution';
import { createSimulatedAccount } from '../../simulation/aws/account';
import { AwsServiceError } from '../../simulation/aws/core';
import { EC2_REQUEST_BUCKETS, Ec2Throttling } from '../../simulation/aws/ec2-throttling';
import { installSimulatedAws, setFunctionRequestMs } from '../../simulation/aws/install';
import { regionOf } from '../../simulation/aws/regions';
import { defaultDeployment } from '../../simulation/deploy/deployment';
import { installSimulatedIam, useDeployedEnvironment } from '../../simulation/iam/install';
import { ParameterStoreThroughput } from '../../simulation/aws/ssm-parameters';
import { SimulatedRegistries } from '../../simulation/registries';
import { DEFAULT_START, runSimulation, type SimulationReport } from '../../simulation/run-state-machine';

const T0 = Date.parse('2026-12-01T10:00:00.000Z');
const refusal = (call: () => void): unknown => {
  try {
    call();
    return undefined;
  } catch (error) {
    return error;
  }
};

describe('EC2 token buckets', () => {
  it('refuses a DescribeInstances by ID beyond its bucket of 50 with RequestLimitExceeded and accepts 10 more after a second', () => {
    // Prepare: a request by ID has neither a filter nor pagination: the smaller bucket (50, 10 a second)
    const throttling = new Ec2Throttling('111122223333');
    const byId = { InstanceIds: ['i-0123456789abcdef0'] };
    for (let i = 0; i < EC2_REQUEST_BUCKETS.unfilteredNonMutating.capacity; i += 1) throttling.admit('DescribeInstances', byId, T0);
    // Act
    const refused = refusal(() => throttling.admit('DescribeInstances', byId, T0));
    const stillRefused = refusal(() => throttling.admit('DescribeInstances', byId, T0 + 999));
    const afterRefill = Array.from({ length: 11 }, () => refusal(() => throttling.admit('DescribeInstances', byId, T0 + 1000)));
    // Assess
    expect(refused).toBeInstanceOf(AwsServiceError);
    expect(refused).toMatchObject({ name: 'RequestLimitExceeded', $fault: 'server', $metadata: { httpStatusCode: 503 } });
    expect((refused as Error).message).toMatch(/throttled on ec2:DescribeInstances/);
    expect(stillRefused).toMatchObject({ name: 'RequestLimitExceeded' });
    expect(afterRefill.slice(0, 10)).toEqual(Array(10).fill(undefined));
    expect(afterRefill[10]).toMatchObject({ name: 'RequestLimitExceeded' });
    expect(throttling.throttled.get('DescribeInstances (unfiltered)')).toBe(3);
  });

  it('throttles each action on its own bucket: a filtered DescribeInstances and a DescribeSnapshots still pass', () => {
    // Prepare
    const throttling = new Ec2Throttling('111122223333');
    for (let i = 0; i < 50; i += 1) throttling.admit('DescribeInstances', { InstanceIds: ['i-1'] }, T0);
    // Act
    const filtered = Array.from({ length: 100 }, () => refusal(() => throttling.admit('DescribeInstances', { Filters: [{ Name: 'tag:x', Values: ['y'] }] }, T0)));
    const snapshots = refusal(() => throttling.admit('DescribeSnapshots', { SnapshotIds: ['snap-1'] }, T0));
    const filteredBeyond = refusal(() => throttling.admit('DescribeInstances', { Filters: [{ Name: 'tag:x', Values: ['y'] }] }, T0));
    // Assess
    expect(filtered.filter(Boolean)).toEqual([]);
    expect(snapshots).toBeUndefined();
    expect(filteredBeyond).toMatchObject({ name: 'RequestLimitExceeded' });
  });

  it('lets RunInstances burst 5 requests and refills 2 a second; TerminateInstances spends a resource token per instance', () => {
    // Prepare
    const throttling = new Ec2Throttling('111122223333');
    for (let i = 0; i < 5; i += 1) throttling.admit('RunInstances', { MinCount: 1, MaxCount: 1 }, T0);
    const thousand = { InstanceIds: Array.from({ length: 1000 }, (_, i) => `i-${i}`) };
    throttling.admit('TerminateInstances', thousand, T0);
    // Act
    const sixth = refusal(() => throttling.admit('RunInstances', { MinCount: 1, MaxCount: 1 }, T0));
    const later = [0, 1, 2].map(() => refusal(() => throttling.admit('RunInstances', { MinCount: 1, MaxCount: 1 }, T0 + 1000)));
    const oneMore = refusal(() => throttling.admit('TerminateInstances', { InstanceIds: ['i-x'] }, T0));
    const refilled = refusal(() => throttling.admit('TerminateInstances', { InstanceIds: Array.from({ length: 20 }, (_, i) => `i-${i}`) }, T0 + 1000));
    // Assess
    expect(sixth).toMatchObject({ name: 'RequestLimitExceeded' });
    expect(later.map(Boolean)).toEqual([false, false, true]);
    expect(oneMore).toMatchObject({ name: 'RequestLimitExceeded' });
    expect(refilled).toBeUndefined();
    expect(throttling.throttled.get('TerminateInstances (resources)')).toBe(1);
  });
});

describe('Parameter Store throughput', () => {
  it('refuses a 41st GetParameter(s) in one second with ThrottlingException and leaves PutParameter alone', () => {
    // Prepare: 40 transactions a second shared by GetParameter, GetParameters and GetParametersByPath
    const throughput = new ParameterStoreThroughput();
    for (let i = 0; i < 20; i += 1) throughput.admit('GetParameter', {}, T0);
    for (let i = 0; i < 20; i += 1) throughput.admit('GetParameters', {}, T0);
    // Act
    const refused = refusal(() => throughput.admit('GetParametersByPath', {}, T0 + 500));
    const put = refusal(() => throughput.admit('PutParameter', {}, T0 + 500));
    const nextSecond = refusal(() => throughput.admit('GetParameters', {}, T0 + 1000));
    // Assess
    expect(refused).toMatchObject({ name: 'ThrottlingException', message: 'Rate exceeded', $metadata: { httpStatusCode: 400 } });
    expect(put).toBeUndefined();
    expect(nextSecond).toBeUndefined();
    expect(throughput.refused).toBe(1);
  });
});

describe("the factory's SDK clients against a throttled EC2", () => {
  let undo: (() => void)[] = [];
  afterEach(() => {
    for (const step of undo.reverse()) step();
    undo = [];
  });

  const drainedAccount = () => {
    vi.useFakeTimers({ now: T0 });
    const account = createSimulatedAccount();
    undo.push(installSimulatedAws(account.core, (region) => regionOf(account, region).core), () => vi.useRealTimers());
    for (let i = 0; i < 50; i += 1) account.ec2.throttling.admit('DescribeInstances', { InstanceIds: ['i-drain'] });
    return account;
  };

  it('makes 3 attempts, then fails the call with TransientAwsError', async () => {
    // Prepare: no backoff (the SDK's jitter drawn at 0), so every attempt meets the empty bucket
    const account = drainedAccount();
    vi.spyOn(Math, 'random').mockReturnValue(0);
    undo.push(() => vi.mocked(Math.random).mockRestore());
    // Act
    const call = callAws('ec2:DescribeInstances', () => ec2.send(new DescribeInstancesCommand({ InstanceIds: ['i-0'] })));
    const settled = expect(call).rejects.toMatchObject({ name: 'TransientAwsError', cause: { name: 'RequestLimitExceeded', $metadata: { attempts: 3 } } });
    await vi.advanceTimersByTimeAsync(100);
    // Assess
    await settled;
    expect(account.core.callsOf('ec2', 'DescribeInstances').map((c) => c.error)).toEqual(['RequestLimitExceeded', 'RequestLimitExceeded', 'RequestLimitExceeded']);
  });

  it('reaches EC2 on a later attempt once the bucket refilled during the backoff', async () => {
    // Prepare: the SDK's throttling backoff is random x 1 s x 2^retry: drawn at 0.99, 990 ms then 1,980 ms
    const account = drainedAccount();
    vi.spyOn(Math, 'random').mockReturnValue(0.99);
    undo.push(() => vi.mocked(Math.random).mockRestore());
    // Act
    const call = ec2.send(new DescribeInstancesCommand({ InstanceIds: ['i-0123456789abcdef0'] })).catch((error: unknown) => error);
    await vi.advanceTimersByTimeAsync(5_000);
    // Assess: the third attempt is answered by EC2 itself (no such instance), 2,970 ms after the first
    expect(await call).toMatchObject({ name: 'InvalidInstanceID.NotFound', $metadata: { attempts: 3 } });
    expect(account.core.callsOf('ec2', 'DescribeInstances').map((c) => [c.at - T0, c.error])).toEqual([
      [0, 'RequestLimitExceeded'],
      [990, 'RequestLimitExceeded'],
      [2970, 'InvalidInstanceID.NotFound'],
    ]);
  });
});

/** A small seeded generator (mulberry32), so the SDK's and Step Functions' jitter repeat from run to run. */
const seeded = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};

interface Burst {
  reports: SimulationReport[];
  account: ReturnType<typeof createSimulatedAccount>;
}

/** `executions` two-architecture builds started at the same instant in one account, driven to their ends on one virtual clock. */
const concurrentBuilds = async (executions: number): Promise<Burst> => {
  const account = createSimulatedAccount();
  // Deployed and loaded before the clock is faked (cli/local/local-factory.ts does the same).
  const deployment = defaultDeployment({ accountId: account.core.accountId, region: account.core.region });
  useDeployedEnvironment(deployment);
  const random = vi.spyOn(Math, 'random').mockImplementation(seeded(executions));
  const clock = FakeTimers.install({ now: DEFAULT_START, toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'], shouldClearNativeTimers: true });
  const uninstallAws = installSimulatedAws(account.core, (region) => regionOf(account, region).core);
  const { iam, uninstall: uninstallIam } = installSimulatedIam(account, deployment);
  const registries = new SimulatedRegistries();
  const restoreLookup = useRegistryLookup(registries.lookup);
  const previousRequestMs = setFunctionRequestMs(0);
  try {
    let started = 0;
    let ended = 0;
    const runs = Array.from({ length: executions }, (_, i) =>
      runSimulation({
        input: { recipe: `burst-${i}`, images: ['public.ecr.aws/docker/library/nginx:1.27'], architectures: ['x86_64', 'arm64'] },
        executionName: `burst-${i}`,
        shared: { account, registries, iam },
        onStart: () => (started += 1),
      }).finally(() => (ended += 1)),
    );
    // Loading the definition and the handlers takes real time (imports): every execution starts at the same virtual instant.
    while (started + ended < executions) await new Promise<void>((resolve) => setImmediate(resolve));
    let idle = 0;
    while (ended < executions) {
      for (let i = 0; i < 5; i += 1) await new Promise<void>((resolve) => setImmediate(resolve));
      if (ended === executions) break;
      if (clock.countTimers() === 0) {
        // A handler may wait for real I/O (a module's first import): give it real time before calling the run stuck.
        if (++idle > 2_000) throw new Error(`stuck: ${executions - ended} executions have not ended and nothing is scheduled`);
        await new Promise<void>((resolve) => setImmediate(resolve));
        continue;
      }
      idle = 0;
      await clock.nextAsync();
    }
    const reports = await Promise.all(runs);
    // What the account does once they ended: terminations and deletions complete.
    clock.tick(5 * 60_000);
    return { reports, account };
  } finally {
    setFunctionRequestMs(previousRequestMs);
    restoreLookup();
    uninstallIam();
    uninstallAws();
    clock.uninstall();
    random.mockRestore();
  }
};

const countBy = (names: string[]): Record<string, number> => {
  const counts: Record<string, number> = {};
  for (const name of names) counts[name] = (counts[name] ?? 0) + 1;
  return counts;
};

const figures = ({ reports, account }: Burst) => {
  const ec2Calls = account.core.calls.filter((c) => c.service === 'ec2');
  const retried = reports.flatMap((r) => r.events.filter((e) => e.type === 'StateRetried'));
  return {
    builds: reports.length * 2,
    succeeded: reports.filter((r) => r.status === 'SUCCEEDED').length,
    failed: reports.filter((r) => r.status !== 'SUCCEEDED').map((r) => `${r.error}: ${r.cause?.split('\n')[0]}`),
    ec2Requests: ec2Calls.length,
    throttled: account.ec2.throttling.refused,
    throttledBy: Object.fromEntries(account.ec2.throttling.throttled),
    parameterStoreThrottled: account.parameters.throughput.refused,
    taskRetries: retried.length,
    taskFailures: countBy(reports.flatMap((r) => r.history.filter((e) => e.type === 'TaskFailed').map((e) => e.taskFailedEventDetails?.error ?? '?'))),
    retriedStates: [...new Set(retried.map((e) => e.state))].sort(),
    makespanS: Math.round((Math.max(...reports.map((r) => r.endedAt)) - DEFAULT_START) / 1000),
  };
};

describe('many builds at once in one account', () => {
  it.each([1, 10, 30])('%i concurrent two-architecture executions all succeed and leave nothing behind; the figures say how many requests were throttled', async (executions) => {
    // Prepare + Act
    const burst = await concurrentBuilds(executions);
    // Assess
    const seen = figures(burst);
    console.log(`${executions} concurrent executions (${seen.builds} builders):`, JSON.stringify(seen));
    for (const report of burst.reports) expect(report.status, `${report.error}: ${report.cause}`).toBe('SUCCEEDED');
    // One build stays inside every bucket: its figures (the benchmark's) are those of an unthrottled account.
    if (executions === 1) expect([seen.throttled, seen.parameterStoreThrottled, seen.taskRetries]).toEqual([0, 0, 0]);
    const leftovers = measureLeftovers(burst.account);
    expect(leftovers.instances).toEqual([]);
    expect(leftovers.snapshotsInError).toEqual([]);
    expect(leftovers.snapshotsPending).toEqual([]);
  }, 600_000);
});
