/**
 * When a poll loop looks next. Each check stage returns `nextCheckSeconds`, and its loop's Wait state sleeps that
 * long (`SecondsPath`), so a wait tracks the event it waits for instead of a fixed clock: the check estimates when
 * the event is due from what AWS tells it (a snapshot's `Progress`) or from what is known of the event (an SSM agent
 * is never Online in the first ~30 s after launch; a stop takes tens of seconds), and otherwise looks again after a
 * fixed share of the time already waited, so the time lost stays that share of the wait.
 *
 * Every value is clamped to {@link CHECK_BOUNDS}: never below {@link minCheckSeconds} of the time waited (which is
 * what functions/lib/execution-budget.ts counts as the worst case: polls at the minimum interval up to the limit),
 * never above `maxSeconds`, and never past the loop's time limit by more than the minimum, so a timeout is named
 * promptly. docs/architecture.md ("Waits") has the table.
 */

/** The bounds of every loop's next wait, in seconds. */
export const CHECK_BOUNDS = {
  /** The shortest wait: one Lambda invocation and three state transitions per poll are not worth less. */
  minSeconds: 2,
  /**
   * The minimum also grows with the time waited, by this share: a loop that has waited an hour need not poll every
   * 2 s, and this keeps the worst-case history of the longest limits far below the 25,000-event quota.
   */
  minShareOfWaited: 0.02,
  /** The longest wait: a wrong estimate (a snapshot whose Progress misleads) costs at most this much. */
  maxSeconds: 600,
} as const;

/**
 * Share of the time waited a check without progress information waits next (the agent and the stop past their
 * earliest time), so the time lost noticing the event is at most this share of the wait.
 */
export const NO_PROGRESS_SHARE = 0.1;

/**
 * The pull's share of the build's time since launch (the time lost is measured against the build, and the pull's
 * own length says nothing of when it ends). Larger than {@link NO_PROGRESS_SHARE}: the pull is the one wait that
 * lasts minutes with no signal, so its polls are what a small share multiplies. 0.15 and 0.2 were measured
 * (`npm run bench -- simulation`, 1 / 10 / 50 images): 6.1 / 4.7 / 2.4 % of the build lost for 75 / 84 / 105
 * transitions, against 8.6 / 5.8 / 2.5 % for 75 / 80 / 96; 0.15 keeps small builds no worse than the fixed 10 s
 * polls were (docs/architecture.md "Waits").
 */
export const PULL_SHARE_OF_BUILD = 0.15;

/** The next pull check's estimate: a share of the build's time since launch. */
export const pullEstimateSeconds = (sinceLaunchSeconds: number): number => Math.max(0, sinceLaunchSeconds) * PULL_SHARE_OF_BUILD;

/** An SSM agent on a new Bottlerocket builder is never Online sooner than this after launch (issue 12's measurement). */
export const AGENT_EARLIEST_ONLINE_SECONDS = 30;
/** An instance stop takes tens of seconds (issue 12); the first look after the request is this late. */
export const STOP_EARLIEST_SECONDS = 20;
/** A snapshot reports no progress yet: the first sample of its rate comes this long after it started. */
export const SNAPSHOT_FIRST_SAMPLE_SECONDS = 15;

/** The shortest wait allowed after `waitedSeconds` of waiting. */
export const minCheckSeconds = (waitedSeconds: number): number =>
  Math.min(CHECK_BOUNDS.maxSeconds, Math.max(CHECK_BOUNDS.minSeconds, Math.ceil(Math.max(0, waitedSeconds) * CHECK_BOUNDS.minShareOfWaited)));

/**
 * The next wait for an estimate of when to look, clamped to the bounds and to one minimum past the limit.
 *
 * @example nextCheckSeconds(1, 10, 600) // 2: never below the minimum
 * @example nextCheckSeconds(5000, 100, 600) // 300: never above the maximum
 * @example nextCheckSeconds(200, 590, 600) // 30: the check after the limit comes at most one minimum past it
 */
export const nextCheckSeconds = (estimateSeconds: number, waitedSeconds: number, limitSeconds: number): number => {
  const lower = minCheckSeconds(waitedSeconds);
  // Whole seconds: a Wait's SecondsPath must point at an integer, else Step Functions fails the run (States.Runtime).
  const toLimit = Math.ceil(Math.max(0, limitSeconds - waitedSeconds)) + 1;
  const upper = Math.max(lower, Math.min(CHECK_BOUNDS.maxSeconds, toLimit));
  const estimate = Number.isFinite(estimateSeconds) ? Math.ceil(estimateSeconds) : upper;
  return Math.min(upper, Math.max(lower, estimate));
};

/** An event with no progress signal that cannot happen before `earliestSeconds`: wait for that, then back off. */
export const afterEarliest = (waitedSeconds: number, earliestSeconds: number): number =>
  waitedSeconds < earliestSeconds ? earliestSeconds - waitedSeconds : waitedSeconds * NO_PROGRESS_SHARE;

/**
 * A snapshot's remaining time from its `Progress` ("37%") and the time since it started: progress is reported in
 * whole percent, rounded down, so the midpoint of the percent is the unbiased reading. Before
 * {@link SNAPSHOT_FIRST_SAMPLE_SECONDS}, one percent is too coarse a reading of the rate: wait for that sample first.
 */
export const snapshotRemainingSeconds = (progress: string, waitedSeconds: number): number => {
  if (waitedSeconds < SNAPSHOT_FIRST_SAMPLE_SECONDS) return SNAPSHOT_FIRST_SAMPLE_SECONDS - waitedSeconds;
  const percent = Number.parseInt(progress, 10);
  if (!Number.isFinite(percent) || percent <= 0) return waitedSeconds * NO_PROGRESS_SHARE;
  const done = Math.min(99.5, percent + 0.5);
  return (waitedSeconds * (100 - done)) / done;
};

/**
 * Share of a snapshot's estimated remaining time its check sleeps when the estimate is beyond the inner poll's reach
 * (functions/lib/poll-inside.ts): a wake before the event costs a few looks inside the next invocation, a wake after
 * it costs its whole lateness, and a one-percent reading of the rate can be off by a fifth early in the snapshot.
 */
export const SNAPSHOT_WAKE_SHARE = 0.8;

/**
 * When a check waiting for a snapshot looks next: the remaining time itself once the inner poll reaches it
 * (`nearSeconds`), else {@link SNAPSHOT_WAKE_SHARE} of it, so the Wait ends before the snapshot does.
 */
export const snapshotWakeSeconds = (remainingSeconds: number, nearSeconds: number): number =>
  remainingSeconds <= nearSeconds ? remainingSeconds : Math.max(nearSeconds / 2, remainingSeconds * SNAPSHOT_WAKE_SHARE);
