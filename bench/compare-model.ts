/**
 * A model of snapshot.sh (aws-samples/bottlerocket-images-cache, snapshot.sh at 3370ea0, the tool the factory
 * replaces): when each of its steps ends, given the durations of the AWS events it waits for. It does what the script
 * does, in its order, and polls as its loops and the AWS CLI's waiters poll:
 *
 * 1. `aws cloudformation deploy` (snapshot.sh lines 178-182): the stack (ebs-snapshot-instance.yaml: IAM role,
 *    instance profile, launch template, then the instance, which CloudFormation marks CREATE_COMPLETE as soon as it
 *    is `running`, its template having no CreationPolicy: cloudnugget.dev "CloudFormation Wait Conditions and
 *    Creation Policies"; Packt, Mastering AWS CloudFormation, "Using cfn-signal"). The CLI's
 *    deployer waits on `stack_create_complete` with Delay 30, MaxAttempts 120 (awscli
 *    customizations/cloudformation/deployer.py lines 200-217); its change-set wait (Delay 5, line 160) is inside the
 *    stack time, which is a published figure (no simulated CloudFormation exists).
 * 2. SSM agent: `describe-instance-information` until `Online`, `sleep 5` between checks, no limit (lines 188-191).
 * 3. `systemctl stop kubelet` and `ctr images rm`: one SSM command each, each waited for with `aws ssm wait
 *    command-executed` (lines 196-210); a failed or overlong wait ends the script (`set -e`, line 6).
 * 4. Pulls: one SSM command per image per platform, one after the other (lines 214-238), each waited for with
 *    `until aws ssm wait command-executed ...; do sleep 5; <Failed? then exit>; done`: the waiter gives up after its
 *    attempts, the loop sleeps 5 s and waits again, so a pull is watched for as long as it runs.
 * 5. `ec2 stop-instances` + `aws ec2 wait instance-stopped` (lines 242-243): a failed wait ends the script.
 * 6. `ec2 create-snapshot` + `until aws ec2 wait snapshot-completed; do sleep 5; done` (lines 248-252): no limit.
 * 7. `cloudformation delete-stack`, not waited for (lines 45-48, 256): the instance terminates after the script ends.
 *
 * The waiters are botocore's (botocore data/ec2/2016-11-15/waiters-2.json `InstanceStopped`, `SnapshotCompleted`:
 * delay 15 s, 40 attempts; data/ssm/2014-11-06/waiters-2.json `CommandExecuted`: delay 5 s, 20 attempts, retrying on
 * `InvocationDoesNotExist`, Pending, InProgress, Delayed; data/cloudformation/2010-05-15/waiters-2.json), run as
 * botocore/waiter.py runs them: a call at once, then one every `delay`, giving up after `maxAttempts` calls (no sleep
 * after the last).
 *
 * Left out (each makes the script look faster than it is): the AWS CLI's own start-up and each API round trip (every
 * call is taken as instantaneous), the `ecr get-login-password` call per private ECR image, the time `systemctl stop
 * kubelet` and `ctr images rm` take on the host (only SSM's delivery is charged), CloudFormation's stack deletion
 * beyond the instance's termination.
 */

/** A botocore waiter's polling: its delay between calls and the calls it makes before giving up. */
export interface WaiterConfig {
  delayMs: number;
  maxAttempts: number;
}

/**
 * The waiters snapshot.sh uses, as botocore's service models define them (versions on this machine: botocore 1.43.11,
 * awscli 1.45.11).
 */
export const WAITERS = {
  /** data/cloudformation/2010-05-15/waiters-2.json StackCreateComplete; awscli's deployer passes the same 30 s / 120. */
  stackCreateComplete: { delayMs: 30_000, maxAttempts: 120 },
  /** data/ssm/2014-11-06/waiters-2.json CommandExecuted. */
  commandExecuted: { delayMs: 5_000, maxAttempts: 20 },
  /** data/ec2/2016-11-15/waiters-2.json InstanceStopped. */
  instanceStopped: { delayMs: 15_000, maxAttempts: 40 },
  /** data/ec2/2016-11-15/waiters-2.json SnapshotCompleted. */
  snapshotCompleted: { delayMs: 15_000, maxAttempts: 40 },
} as const satisfies Record<string, WaiterConfig>;

/** The script's own `sleep 5` in its SSM-online loop (line 190) and between waiter retries (lines 228, 251). */
export const SCRIPT_SLEEP_MS = 5_000;

/** How long a waiter waits before it gives up: (maxAttempts - 1) delays, as botocore sleeps only between calls. */
export const waiterGivesUpAfterMs = (waiter: WaiterConfig): number => (waiter.maxAttempts - 1) * waiter.delayMs;

export type WaiterOutcome = 'success' | 'failure' | 'gave-up';

/** What an awaited resource answers at a time: done, failed (a failure acceptor), or not yet. */
export type Observation = 'done' | 'failed' | 'pending';

/** Runs a botocore waiter from `startMs` against `observe`; returns when it returned and how. */
export const runWaiter = (
  waiter: WaiterConfig,
  startMs: number,
  observe: (atMs: number) => Observation,
): { atMs: number; outcome: WaiterOutcome; attempts: number } => {
  let at = startMs;
  for (let attempt = 1; ; attempt += 1) {
    const seen = observe(at);
    if (seen === 'done') return { atMs: at, outcome: 'success', attempts: attempt };
    if (seen === 'failed') return { atMs: at, outcome: 'failure', attempts: attempt };
    if (attempt >= waiter.maxAttempts) return { atMs: at, outcome: 'gave-up', attempts: attempt };
    at += waiter.delayMs;
  }
};

/**
 * `until <waiter>; do sleep 5; done` (snapshot.sh lines 226-236, 249-252): the waiter again and again until it
 * succeeds. `onRetry` is the loop body's check after its sleep (the pull loop exits on `Failed`); returning true
 * ends the loop as failed. A resource that never ends is cut at `giveUpMs` so the model terminates.
 */
export const waitUntil = (
  waiter: WaiterConfig,
  startMs: number,
  observe: (atMs: number) => Observation,
  onRetry: (atMs: number) => boolean = () => false,
  giveUpMs = 7 * 24 * 3_600_000,
): { atMs: number; outcome: 'success' | 'failure' | 'never' } => {
  let at = startMs;
  while (at - startMs < giveUpMs) {
    const run = runWaiter(waiter, at, observe);
    if (run.outcome === 'success') return { atMs: run.atMs, outcome: 'success' };
    at = run.atMs + SCRIPT_SLEEP_MS;
    if (onRetry(at)) return { atMs: at, outcome: 'failure' };
  }
  return { atMs: at, outcome: 'never' };
};

/** The durations the script waits for, in ms. Builder times are relative to the moment the instance is running. */
export interface ScriptLatencies {
  /** CloudFormation's work before it launches the instance (role, instance profile, launch template). */
  stackResourcesMs: number;
  /** EC2: pending -> running (CloudFormation completes the stack when its instance runs). */
  pendingMs: number;
  /** After `running`: the SSM agent reports Online. */
  agentOnlineAfterRunningMs: number;
  /** After `running`: the admin container accepts `apiclient exec` (the script's first command needs it). */
  adminReadyAfterRunningMs: number;
  /** SSM: GetCommandInvocation answers InvocationDoesNotExist this long after SendCommand. */
  invocationVisibleMs: number;
  /** SSM: a command is Pending this long before the agent runs it. */
  deliveryMs: number;
  /** Each (image, platform) pull, in the script's order (images outer, platforms inner). */
  pullMs: number[];
  /** EC2: stopping -> stopped. */
  stoppingMs: number;
  /** EBS: CreateSnapshot -> completed, for the script's one data volume. */
  snapshotMs: number;
  /** EC2: shutting-down -> terminated (after delete-stack, the volumes go with the instance). */
  shuttingDownMs: number;
}

/**
 * What the first command meets when the admin container does not run yet. `fail` is what the script does (its
 * `apiclient exec admin` fails, the waiter fails, `set -e` ends it). `wait` times the run as if the command had been
 * sent once the admin container runs: published runs of the script succeed, so the comparison of durations uses it
 * and counts the failures apart (the simulated host's boot timings are estimates, bottlerocket-host.ts).
 */
export type AdminNotReady = 'fail' | 'wait';

export type ScriptStep = 'stack' | 'ssm-online' | 'stop-kubelet' | 'remove-images' | 'pulls' | 'stop' | 'snapshot';

/** What the model of one run of snapshot.sh gives. Times are ms after the script started. */
export interface ScriptRun {
  outcome: 'succeeded' | 'failed';
  /** The step it failed in, and why, as the script would end (`set -e` or its own exit). */
  failure?: { step: ScriptStep; reason: string };
  /** When the script ended (printed the snapshot ID, or exited). */
  makespanMs: number;
  /** When each step ended, as the script noticed it. */
  stepEndsMs: Partial<Record<ScriptStep, number>>;
  /** The instance's billed interval: from `running` to the stop request (or the end of a failed run). */
  instanceRunningMs: { from: number; to: number };
  /** How long the volumes exist: from the launch until the instance has terminated after delete-stack. */
  volumesMs: { from: number; to: number };
  /** SSM commands the script sent. */
  ssmCommands: number;
}

/** One SSM command sent at `sentAt` that ends `runMs` after it starts: what GetCommandInvocation shows over time. */
const commandObserver =
  (latencies: ScriptLatencies, sentAt: number, runMs: number, fails = false) =>
  (at: number): Observation => {
    // InvocationDoesNotExist, Pending and InProgress are retry acceptors of CommandExecuted.
    if (at < sentAt + latencies.invocationVisibleMs) return 'pending';
    if (at < sentAt + latencies.deliveryMs + runMs) return 'pending';
    return fails ? 'failed' : 'done';
  };

/**
 * One run of snapshot.sh for `pullMs.length` (image, platform) pulls, given the latencies. Fails where the script
 * would: a stack that is not complete when the waiter gives up, the first command meeting an admin container that
 * does not run yet, a waiter that gives up on a short command or on the stop.
 */
export const modelSnapshotScript = (latencies: ScriptLatencies, adminNotReady: AdminNotReady = 'fail'): ScriptRun => {
  for (const [name, value] of Object.entries(latencies)) {
    const values = Array.isArray(value) ? value : [value];
    if (values.some((v) => typeof v !== 'number' || !Number.isFinite(v) || v < 0)) {
      throw new ScriptModelInputError(`latency ${name} must be a finite number of ms >= 0; got ${JSON.stringify(value)}`);
    }
  }
  if (latencies.pullMs.length === 0) throw new ScriptModelInputError('pullMs lists no pull: snapshot.sh needs at least one image');
  const steps: ScriptRun['stepEndsMs'] = {};
  let commands = 0;
  const launchedAt = latencies.stackResourcesMs;
  const runningAt = launchedAt + latencies.pendingMs;
  const failed = (step: ScriptStep, reason: string, at: number): ScriptRun => ({
    outcome: 'failed',
    failure: { step, reason },
    makespanMs: at,
    stepEndsMs: steps,
    // No cleanup on this path: the instance keeps running after the script (the flaw the factory fixes).
    instanceRunningMs: { from: runningAt, to: at },
    volumesMs: { from: launchedAt, to: at },
    ssmCommands: commands,
  });

  const stack = runWaiter(WAITERS.stackCreateComplete, 0, (at) => (at >= runningAt ? 'done' : 'pending'));
  if (stack.outcome !== 'success') return failed('stack', 'cloudformation deploy: the stack-create waiter gave up (Max attempts exceeded)', stack.atMs);
  let now = (steps.stack = stack.atMs);

  const onlineAt = runningAt + latencies.agentOnlineAfterRunningMs;
  while (now < onlineAt) now += SCRIPT_SLEEP_MS;
  steps['ssm-online'] = now;

  // The first command runs `apiclient exec admin ...`: before the admin container runs, it fails at once.
  const adminReadyAt = runningAt + latencies.adminReadyAfterRunningMs;
  if (adminNotReady === 'wait') now = Math.max(now, adminReadyAt - latencies.deliveryMs);
  commands += 1;
  const kubeletFails = now + latencies.deliveryMs < adminReadyAt;
  const kubelet = runWaiter(WAITERS.commandExecuted, now, commandObserver(latencies, now, 0, kubeletFails));
  if (kubelet.outcome !== 'success') {
    return failed('stop-kubelet', kubeletFails ? 'the admin container was not running yet: the command failed and set -e ended the script' : 'the command-executed waiter gave up', kubelet.atMs);
  }
  now = steps['stop-kubelet'] = kubelet.atMs;

  commands += 1;
  const cleanup = runWaiter(WAITERS.commandExecuted, now, commandObserver(latencies, now, 0));
  if (cleanup.outcome !== 'success') return failed('remove-images', 'the command-executed waiter gave up', cleanup.atMs);
  now = steps['remove-images'] = cleanup.atMs;

  for (const pullMs of latencies.pullMs) {
    commands += 1;
    const pull = waitUntil(WAITERS.commandExecuted, now, commandObserver(latencies, now, pullMs));
    if (pull.outcome !== 'success') return failed('pulls', 'a pull never ended', pull.atMs);
    now = pull.atMs;
  }
  steps.pulls = now;

  const stopRequestedAt = now;
  const stopped = runWaiter(WAITERS.instanceStopped, now, (at) => (at >= stopRequestedAt + latencies.stoppingMs ? 'done' : 'pending'));
  if (stopped.outcome !== 'success') return failed('stop', 'the instance-stopped waiter gave up; set -e ended the script', stopped.atMs);
  now = steps.stop = stopped.atMs;

  const snapshotStartedAt = now;
  const snapshot = waitUntil(WAITERS.snapshotCompleted, now, (at) => (at >= snapshotStartedAt + latencies.snapshotMs ? 'done' : 'pending'));
  if (snapshot.outcome !== 'success') return failed('snapshot', 'the snapshot never completed', snapshot.atMs);
  now = steps.snapshot = snapshot.atMs;

  return {
    outcome: 'succeeded',
    makespanMs: now,
    stepEndsMs: steps,
    instanceRunningMs: { from: runningAt, to: stopRequestedAt },
    // delete-stack terminates the instance; its DeleteOnTermination volumes go when it has terminated.
    volumesMs: { from: launchedAt, to: now + latencies.shuttingDownMs },
    ssmCommands: commands,
  };
};

/** A latency the model cannot use (negative, not a number, no pull at all). */
export class ScriptModelInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ScriptModelInputError';
  }
}
