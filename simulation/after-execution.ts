/**
 * What happens in the account after an execution ends, as deployed: Step Functions records the execution's end
 * (DescribeExecution answers with it), sends its "Step Functions Execution Status Change" event to the default bus,
 * where the factory's rules invoke their functions (cleanup-build and notify-build-failure for FAILED, TIMED_OUT,
 * ABORTED; an SNS topic target is recorded in the deployment, its delivery not modelled); later the hourly
 * reaper runs. Then the harness measures what is left over: the invariant every scenario asserts empty.
 */
import { randomUUID } from 'node:crypto';
import type FakeTimers from '@sinonjs/fake-timers';

type Clock = ReturnType<typeof FakeTimers.install>;
import { PARAMETER_PREFIX, TAG_PUBLISHED_AT } from '../functions/lib/current-snapshot';
import { TAG_RETAIN } from '../functions/lib/snapshot-ownership';
import { TAG_MANAGED } from '../functions/lib/tags';
import type { SimulatedAccount } from './aws/account';
import { matchesEventPattern } from './aws/events';
import type { SimulatedExecution } from './aws/sfn';
import type { Deployment } from './deploy/deployment';
import { runAsFunction } from './iam/caller';

type Handler = (event: unknown) => Promise<unknown>;
export type ExecutionStatus = 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';

/** What the harness found left after the run, the status-change cleanup and the reaper: every list must be empty. */
export interface Leftovers {
  /** Builder instances not terminated. */
  instances: string[];
  snapshotsInError: string[];
  snapshotsPending: string[];
  /** Completed factory snapshots that are not current (no snapshot-id parameter names them), never published, not retained. */
  orphanSnapshots: string[];
  /** `<snapshot> in <zone> (<state>)`: Fast Snapshot Restore still on (it bills per zone and hour) on a snapshot no snapshot-id parameter names. */
  fastSnapshotRestoresNotCurrent: string[];
}

/** One function invocation the account made after the execution ended. */
export interface AfterRunInvocation {
  function: string;
  /** Virtual epoch ms. */
  at: number;
  trigger: string;
  output?: unknown;
  error?: string;
  /** Embedded-metric-format lines the function wrote: in Lambda they go to its log stream, not to the caller. */
  metrics?: unknown[];
}

/**
 * The event Step Functions sends when an execution of a Standard workflow changes status, with the fields of AWS's
 * examples ("EventBridge (CloudWatch Events) for Step Functions execution status changes", AWS Step Functions
 * Developer Guide, https://docs.aws.amazon.com/step-functions/latest/dg/cw-events.html): epoch-millisecond dates,
 * `input`/`output` as JSON strings, `error` and `cause` null unless the execution failed.
 */
export const executionStatusChangeEvent = (execution: Omit<SimulatedExecution, 'done'>, region: string, accountId: string) => ({
  version: '0',
  id: randomUUID(),
  'detail-type': 'Step Functions Execution Status Change',
  source: 'aws.states',
  account: accountId,
  time: new Date(execution.stopDate?.getTime() ?? Date.now()).toISOString().replace(/\.\d{3}Z$/, 'Z'),
  region,
  resources: [execution.executionArn],
  detail: {
    executionArn: execution.executionArn,
    stateMachineArn: execution.stateMachineArn,
    name: execution.name,
    status: execution.status,
    startDate: execution.startDate.getTime(),
    stopDate: execution.stopDate?.getTime() ?? null,
    input: execution.input,
    inputDetails: { included: true },
    output: execution.output ?? null,
    outputDetails: execution.output === undefined ? null : { included: true },
    error: execution.error ?? null,
    cause: execution.cause ?? null,
  },
});

/** Awaits `work` while moving the virtual clock, so a handler's SDK retry backoff (a timer) can fire. */
export const onClock = async <T>(clock: Clock, work: Promise<T>): Promise<T> => {
  let outcome: { ok: true; value: T } | { ok: false; error: unknown } | undefined;
  work.then(
    (value) => (outcome = { ok: true, value }),
    (error: unknown) => (outcome = { ok: false, error }),
  );
  for (;;) {
    for (let i = 0; i < 5; i += 1) await new Promise<void>((resolve) => setImmediate(resolve));
    if (outcome) break;
    if (clock.countTimers() === 0) throw new Error('a function run after the execution is stuck: nothing is scheduled');
    await clock.nextAsync();
  }
  if (!outcome.ok) throw outcome.error;
  return outcome.value;
};

/**
 * Lambda runs an asynchronous invocation (EventBridge's) again twice when the function fails, one then two minutes
 * later ("Asynchronous invocation", Lambda Developer Guide, https://docs.aws.amazon.com/lambda/latest/dg/invocation-async.html).
 */
const ASYNC_RETRY_DELAYS_MS = [60_000, 120_000];

/**
 * Runs `work` with the EMF lines (functions/lib/metrics.ts) it writes to stdout kept as `metrics`: Lambda sends a
 * function's stdout to its log stream, where CloudWatch Logs extracts them; here they would otherwise land in the
 * output of `npm run simulate` (and break `--json`).
 */
const capturingMetrics = async <T>(work: () => Promise<T>): Promise<{ result: T; metrics: unknown[] }> => {
  const metrics: unknown[] = [];
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: unknown, ...rest: unknown[]) => {
    const text = String(chunk);
    if (text.startsWith('{"_aws":')) {
      metrics.push(JSON.parse(text));
      return true;
    }
    return (write as (...args: unknown[]) => boolean)(chunk, ...rest);
  }) as typeof process.stdout.write;
  try {
    return { result: await work(), metrics };
  } finally {
    process.stdout.write = write;
  }
};

const invokeAsync = async (clock: Clock, name: string, handler: Handler, event: unknown, trigger: string, log: AfterRunInvocation[]) => {
  for (let attempt = 0; ; attempt += 1) {
    let metrics: unknown[] = [];
    try {
      const run = await capturingMetrics(() => onClock(clock, runAsFunction(name, () => handler(event))));
      metrics = run.metrics;
      log.push({ function: name, at: Date.now(), trigger, output: run.result, ...(metrics.length ? { metrics } : {}) });
      return;
    } catch (error) {
      log.push({ function: name, at: Date.now(), trigger, error: `${(error as Error).name}: ${(error as Error).message}`, ...(metrics.length ? { metrics } : {}) });
      const delay = ASYNC_RETRY_DELAYS_MS[attempt];
      if (delay === undefined) return;
      clock.tick(delay);
    }
  }
};

/** Records the ended execution in the simulated Step Functions and delivers its status-change event to the rules. */
export const closeExecution = async (options: {
  clock: Clock;
  account: SimulatedAccount;
  deployment: Deployment;
  handlers: (name: string) => Promise<Handler>;
  execution: Omit<SimulatedExecution, 'done' | 'executionArn' | 'stateMachineArn'>;
  log: AfterRunInvocation[];
}): Promise<void> => {
  const { clock, account, deployment, log } = options;
  const stateMachineArn = deployment.stateMachine?.arn ?? `arn:aws:states:${deployment.region}:${deployment.accountId}:stateMachine:snapshot-factory`;
  const executionArn = `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${options.execution.name}`;
  const execution = { ...options.execution, executionArn, stateMachineArn };
  account.sfn.executions.set(executionArn, execution);
  const event = executionStatusChangeEvent(execution, deployment.region, deployment.accountId);
  // EventBridge delivers within seconds; a second of virtual time stands for it.
  clock.tick(1_000);
  for (const rule of deployment.eventRules) {
    if (!matchesEventPattern(rule.eventPattern, event)) continue;
    for (const name of rule.functionTargets) await invokeAsync(clock, name, await options.handlers(name), event, `${rule.logicalId} (${execution.status})`, log);
  }
};

/** Runs the reaper as its hourly schedule would once every grace period has passed, with its deployed environment. */
export const runReaperAfterGrace = async (options: {
  clock: Clock;
  deployment: Deployment;
  handlers: (name: string) => Promise<Handler>;
  log: AfterRunInvocation[];
}): Promise<void> => {
  const environment = options.deployment.functions['reap-builders']?.environment ?? {};
  const hours = Math.max(Number(environment.MAX_BUILDER_AGE_HOURS ?? 6), Number(environment.SNAPSHOT_GRACE_HOURS ?? 24));
  // The schedule is hourly: the first pass after the grace period is at most an hour later.
  options.clock.tick((hours + 1) * 3_600_000);
  const saved = Object.fromEntries(Object.keys(environment).map((key) => [key, process.env[key]]));
  Object.assign(process.env, environment);
  try {
    await invokeAsync(options.clock, 'reap-builders', await options.handlers('reap-builders'), { source: 'aws.events', 'detail-type': 'Scheduled Event', detail: {} }, 'ReaperSchedule', options.log);
  } finally {
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }
};

/**
 * What the account holds that the factory should not have left, in its home region and in every other region it
 * used (copies: simulation/aws/regions.ts); a leftover of another region names it (`snap-... in eu-west-1`).
 */
export const measureLeftovers = (account: SimulatedAccount): Leftovers => {
  const all = measureRegion(account);
  for (const [region, regional] of account.regions) {
    const found = measureRegion(regional);
    for (const key of Object.keys(all) as (keyof Leftovers)[]) all[key].push(...found[key].map((item) => `${item} in ${region}`));
  }
  return all;
};

const measureRegion = (account: SimulatedAccount): Leftovers => {
  const current = new Set(
    [...account.parameters.parameters.values()].filter((p) => p.Name.startsWith(`${PARAMETER_PREFIX}/`) && p.Name.endsWith('/snapshot-id')).map((p) => p.Value),
  );
  const tag = (tags: { Key?: string; Value?: string }[], key: string) => tags.find((t) => t.Key === key)?.Value;
  return {
    instances: account.ec2.liveInstances().map((instance) => `${instance.InstanceId} (${instance.state})`),
    snapshotsInError: account.ec2.snapshotsInError().map((snapshot) => snapshot.SnapshotId),
    snapshotsPending: account.ec2.snapshotsInState('pending').map((snapshot) => snapshot.SnapshotId),
    orphanSnapshots: account.ec2
      .snapshotsInState('completed')
      .filter((s) => tag(s.Tags, TAG_MANAGED) === 'true' && !current.has(s.SnapshotId) && !tag(s.Tags, TAG_PUBLISHED_AT) && tag(s.Tags, TAG_RETAIN) !== 'true')
      .map((snapshot) => snapshot.SnapshotId),
    fastSnapshotRestoresNotCurrent: account.fastSnapshotRestore
      .activeRestores()
      .filter((r) => !current.has(r.snapshotId))
      .map((r) => `${r.snapshotId} in ${r.availabilityZone} (${r.state})`),
  };
};

/** No leftovers: what every scenario asserts. */
export const NO_LEFTOVERS: Leftovers = { instances: [], snapshotsInError: [], snapshotsPending: [], orphanSnapshots: [], fastSnapshotRestoresNotCurrent: [] };
