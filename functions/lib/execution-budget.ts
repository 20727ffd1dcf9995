/**
 * What one execution may spend before Step Functions ends it with no Catch (so no cleanup) running: its time limit
 * (the state machine's `TimeoutSeconds`, the `limits.executionSeconds` setting) and its history quota (25,000
 * events). PrepareBuild checks a plan against both before anything is launched; infra/config.ts checks the deployed
 * defaults with the same functions, so a deployment cannot be accepted whose every execution PrepareBuild refuses.
 *
 * The poll loops' Waits sleep what their check returns (`SecondsPath`), clamped by functions/lib/next-check.ts; the
 * worst case is every loop polling at its minimum interval ({@link minCheckSeconds}, which grows with the time
 * waited) up to its limit. The figures below mirror statemachine/snapshot-factory.asl.json (check first, then Wait ->
 * check -> Choice) and the history Step Functions logs per state (https://docs.aws.amazon.com/step-functions/latest/apireference/API_HistoryEvent.html,
 * as modelled in simulation/execution-history.ts). functions/ cannot read either at run time, so
 * test/statemachine/execution-budget.test.ts checks them against the definition and against the history of a
 * simulated run.
 *
 * A check that polls inside its invocation (functions/lib/poll-inside.ts) adds no history events: its looks are one
 * Task; it only makes a loop's iterations longer, so the count at the minimum interval stays the worst case. It adds
 * time: a check Task runs up to {@link CHECK_TASK_SECONDS}, not {@link BUILD_TASK_SECONDS}.
 *
 * Left out of the worst case, on purpose: the Retry intervals of a Task that fails transiently (each retry costs
 * {@link HISTORY_EVENTS.retry} events and its backoff; both are covered by the margins, not counted one by one),
 * and Lambda cold starts beyond the functions' timeouts (a Task cannot run longer than its function's timeout).
 */
import { InvalidInputError } from './errors';
import { minCheckSeconds } from './next-check';
import { CHECK_TIMEOUT_SECONDS } from './poll-inside';

/** The state machine definition's own `TimeoutSeconds` (statemachine/snapshot-factory.asl.json; a test checks it). */
export const DEFINITION_TIMEOUT_SECONDS = 4 * 3600;
/** A standard execution may last one year (Step Functions quotas, "Maximum execution time"). */
export const MAX_EXECUTION_TIMEOUT_SECONDS = 31_536_000;
/** The shortest execution limit the factory accepts. */
export const MIN_EXECUTION_TIMEOUT_SECONDS = 900;

/** AWS's hard quota of events in one execution history (docs: "Avoid reaching the history quota", bp-history-limit.html). */
export const HISTORY_EVENT_LIMIT = 25_000;

/** Each poll loop's Wait state and where it reads its seconds (`SecondsPath`), by the limit that ends the loop. */
export const POLL_LOOPS = {
  /** CheckSsmAgent -> SsmAgentOnline -> WaitForSsmAgent */
  ssmOnlineSeconds: { wait: 'WaitForSsmAgent', secondsPath: '$.ssm.nextCheckSeconds' },
  /** CheckPullCommand -> PullDone -> WaitForPull */
  pullSeconds: { wait: 'WaitForPull', secondsPath: '$.pullStatus.nextCheckSeconds' },
  /** CheckInstanceStopped -> InstanceStopped -> WaitForStop */
  stopSeconds: { wait: 'WaitForStop', secondsPath: '$.stopStatus.nextCheckSeconds' },
  /** CheckSnapshot -> SnapshotCompleted -> WaitForSnapshot */
  snapshotSeconds: { wait: 'WaitForSnapshot', secondsPath: '$.snapshotStatus.nextCheckSeconds' },
} as const;

/** The waits of one build, in seconds, as the check stages enforce them. */
export interface BuildWaits {
  ssmOnlineSeconds: number;
  pullSeconds: number;
  stopSeconds: number;
  snapshotSeconds: number;
}

/**
 * History events each kind of state adds (a `lambda:invoke` Task: TaskStateEntered, TaskScheduled, TaskStarted,
 * TaskSucceeded or TaskFailed, TaskStateExited; a retry: TaskFailed, TaskScheduled, TaskStarted).
 */
export const HISTORY_EVENTS = {
  task: 5,
  choice: 2,
  wait: 2,
  pass: 2,
  /** MapIterationStarted + MapIterationSucceeded (or Failed) */
  mapIteration: 2,
  /** MapStateEntered, MapStateStarted, MapStateSucceeded, MapStateExited */
  map: 4,
  /** ExecutionStarted + the execution's last event */
  execution: 2,
  retry: 3,
} as const;

/** One Wait -> Task -> Choice iteration of a poll loop. */
export const EVENTS_PER_POLL = HISTORY_EVENTS.wait + HISTORY_EVENTS.task + HISTORY_EVENTS.choice;

/**
 * Events the execution logs outside the builds: PrepareBuild, IsUpToDate, the Map itself, ShareSnapshots,
 * PublishSnapshot, DisableSupersededFastSnapshotRestore, ApplyRetention, and the execution's first and last events.
 */
export const EXECUTION_EVENTS = HISTORY_EVENTS.execution + HISTORY_EVENTS.task + HISTORY_EVENTS.choice + HISTORY_EVENTS.map + 4 * HISTORY_EVENTS.task;

/**
 * Events a build's Map iteration logs when its loops run `checks` Task invocations each: the iteration's own
 * events, the one-shot Tasks (LaunchInstance, SendPullCommand, StopInstance, CreateSnapshot, TerminateInstance),
 * HasFastSnapshotRestore and NoFastSnapshotRestore (a build with FSR logs its own loop instead of the Pass: see
 * functions/lib/fast-snapshot-restore.ts), HasCopies and NoCopies (likewise: functions/lib/snapshot-copies.ts),
 * BuildResult, and the loops. Every loop checks once before its first Wait.
 */
export const buildHistoryEvents = (checks: Record<keyof BuildWaits, number>): number =>
  HISTORY_EVENTS.mapIteration +
  5 * HISTORY_EVENTS.task +
  2 * HISTORY_EVENTS.choice +
  2 * HISTORY_EVENTS.pass +
  HISTORY_EVENTS.pass +
  (Object.keys(POLL_LOOPS) as (keyof BuildWaits)[]).reduce((sum, limit) => sum + checks[limit] * EVENTS_PER_POLL - HISTORY_EVENTS.wait, 0);

/**
 * Most checks a loop can make before its stage gives up: one at once, then one after each minimum interval
 * ({@link minCheckSeconds} of the time waited so far; a check's own run time only spaces them further), up to the
 * first check past the limit, which throws.
 *
 * @example maxChecks(600) // 133 for the default limits.ssmOnlineSeconds
 */
export const maxChecks = (limitSeconds: number): number => {
  let checks = 1;
  for (let waited = 0; waited <= limitSeconds; checks += 1) waited += minCheckSeconds(waited);
  return checks;
};

/** Events kept free for retries (about 160 of them over the execution) and a failed build's cleanup states. */
export const HISTORY_MARGIN_EVENTS = 500;

/** Worst-case history events of an execution running `builds` builds at once with these waits. */
export const worstCaseHistoryEvents = (waits: BuildWaits, builds: number): number => {
  const checks = Object.fromEntries((Object.keys(POLL_LOOPS) as (keyof BuildWaits)[]).map((limit) => [limit, maxChecks(waits[limit])])) as Record<
    keyof BuildWaits,
    number
  >;
  return EXECUTION_EVENTS + builds * buildHistoryEvents(checks) + HISTORY_MARGIN_EVENTS;
};

/** The longest a Lambda Task of a build can run: the functions' timeout (infra/snapshot-factory.ts). */
export const BUILD_TASK_SECONDS = 30;
/**
 * The longest a build's check Task can run: the four checks poll inside their invocation up to their Timeout
 * (functions/lib/poll-inside.ts, infra/snapshot-factory.ts). A check passing its limit throws at that look, at most
 * one inner interval late, so this bounds the check that names a timeout too.
 */
export const CHECK_TASK_SECONDS = CHECK_TIMEOUT_SECONDS;
/** PrepareBuild's and PublishSnapshot's timeout (infra/snapshot-factory.ts). */
export const EXECUTION_TASK_SECONDS = 60;
/** ShareSnapshots' (30 s) and ApplyRetention's (120 s) timeouts (infra/snapshot-factory.ts): they run after the builds. */
export const LIFECYCLE_TASK_SECONDS = 30 + 120;
/** Time kept for a failed build's cleanup (CleanupBuild*, CleanupExecution: terminate, delete snapshots) and retries. */
export const CLEANUP_MARGIN_SECONDS = 600;

/**
 * Seconds an execution needs at most, its builds running at once (the Map has no MaxConcurrency): each wait to its
 * limit plus the longest interval a check may then return (the minimum at the limit: next-check.ts never sleeps
 * further past a limit) and one check past it ({@link CHECK_TASK_SECONDS}: a check may poll inside its invocation), the five one-shot Tasks of a build, PrepareBuild and PublishSnapshot,
 * DisableSupersededFastSnapshotRestore (a function of the build's timeout), ShareSnapshots and ApplyRetention
 * ({@link LIFECYCLE_TASK_SECONDS}), and {@link CLEANUP_MARGIN_SECONDS} so a build failing at its last limit is still
 * cleaned up.
 *
 * @example worstCaseExecutionSeconds({ ssmOnlineSeconds: 600, pullSeconds: 3900, stopSeconds: 900, snapshotSeconds: 7200 }) // 14202
 */
export const worstCaseExecutionSeconds = (waits: BuildWaits): number => {
  const loops = (Object.keys(POLL_LOOPS) as (keyof BuildWaits)[]).reduce(
    (sum, limit) => sum + waits[limit] + minCheckSeconds(waits[limit]) + CHECK_TASK_SECONDS,
    0,
  );
  return loops + 6 * BUILD_TASK_SECONDS + 2 * EXECUTION_TASK_SECONDS + LIFECYCLE_TASK_SECONDS + CLEANUP_MARGIN_SECONDS;
};

/** Where each wait comes from, for the messages: its field name in the execution input. */
const FIELD: Record<keyof BuildWaits, string> = {
  ssmOnlineSeconds: 'limits.ssmOnlineSeconds',
  pullSeconds: 'limits.pullSeconds',
  stopSeconds: 'limits.stopSeconds',
  snapshotSeconds: 'limits.snapshotSeconds',
};

const longestWait = (waits: BuildWaits): string => {
  const [limit, value] = (Object.entries(waits) as [keyof BuildWaits, number][]).sort((a, b) => b[1] - a[1])[0]!;
  return `${FIELD[limit]} (${value} s)`;
};

const listWaits = (waits: BuildWaits): string => (Object.keys(FIELD) as (keyof BuildWaits)[]).map((limit) => `${FIELD[limit]} ${waits[limit]}`).join(' + ');

/**
 * Refuses waits that cannot finish, with their cleanup, within the execution's time limit, or whose polls could
 * fill the history of an execution of `builds` builds. `pullSeconds` is the effective one (the command timeout +
 * 300 when unset), so `hint` says where it came from.
 *
 * @throws InvalidInputError naming the longest wait to lower, the figures, and the setting to raise instead.
 */
export const checkExecutionBudget = (
  waits: BuildWaits,
  builds: number,
  executionTimeoutSeconds: number,
  hint: { pullFromCommandTimeout?: boolean } = {},
): void => {
  const pullNote = hint.pullFromCommandTimeout ? ' (limits.pullSeconds is pull.commandTimeoutSeconds + 300 when unset)' : '';
  const seconds = worstCaseExecutionSeconds(waits);
  if (seconds > executionTimeoutSeconds) {
    throw new InvalidInputError(
      `the waits of one build (${listWaits(waits)} s, plus ${seconds - Object.values(waits).reduce((a, b) => a + b, 0)} s of launches, checks and cleanup) ` +
        `need up to ${seconds} s, more than the execution's time limit of ${executionTimeoutSeconds} s (setting limits.executionSeconds), ` +
        `so the execution could time out with no cleanup: lower ${longestWait(waits)}${pullNote}, or redeploy with a larger limits.executionSeconds`,
    );
  }
  const events = worstCaseHistoryEvents(waits, builds);
  if (events > HISTORY_EVENT_LIMIT) {
    throw new InvalidInputError(
      `the waits of ${builds} build${builds === 1 ? '' : 's'} (${listWaits(waits)} s, polled at the minimum interval, functions/lib/next-check.ts) could log up to ${events} history events, ` +
        `more than Step Functions' ${HISTORY_EVENT_LIMIT} per execution: lower ${longestWait(waits)}${pullNote}, or build fewer architectures per execution`,
    );
  }
};
