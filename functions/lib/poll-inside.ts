/**
 * A short poll inside a check Lambda: when a check's own estimate says its event is near (or, for the pull, which has
 * no progress signal, for a bounded window), the check looks again every few seconds itself instead of returning to a
 * Wait -> Check -> Choice loop iteration (3 state transitions and an invocation that may be cold). The time lost
 * noticing the event becomes about half the poll interval plus one return; long waits still go through the Wait.
 *
 * The loop ends at the first of: the event (the look returns `nextCheckSeconds` 0, as every check does once done),
 * a look whose estimate is not near (beyond `nearSeconds`, and not before the Wait it returns would end), the
 * window's end, or a margin before the Lambda's timeout (`context.getRemainingTimeInMillis()`, AWS Lambda Developer Guide,
 * "Using the Lambda context object to retrieve Node.js function information"). Errors of a look (a limit passed,
 * an AWS error) propagate as they would from a single look, so the Task's Retry and Catch see them unchanged, with
 * one exception: a look after the first that AWS still throttled (or failed transiently) after the SDK's own
 * retries, `TransientAwsError`, ends the loop with the last look that succeeded. That look's `nextCheckSeconds`
 * sends the check to its Wait, as a look that is not near would: the next invocation looks again, and the shared
 * bucket (many builders polling at once) gets the rest, instead of a failed Task, a Retry and, after its attempts,
 * a failed build. The first look has nothing to return, so its error propagates as before.
 *
 * Without a Lambda context (a unit test calling the handler directly) the check looks once, as before.
 *
 * Request rates (per builder, well inside the published or assumed limits; docs/architecture.md "Waits"):
 * - EC2 DescribeInstances / DescribeSnapshots by ID (no filter, no pagination) take from each action's "unfiltered and
 *   unpaginated" token bucket per account and Region: 50 requests, refilled at 10 per second (Amazon EC2 Developer
 *   Guide, "Request throttling for the Amazon EC2 API"). One look per second per builder is 1/10 of the refill rate;
 *   many builds at once exceed it, and a look throttled past the SDK's retries ends the inner poll (below;
 *   docs/architecture.md, "Throttling", test/simulation/ec2-throttling.test.ts).
 * - SSM GetCommandInvocation and DescribeInstanceInformation: no per-API rate is published in the Systems Manager
 *   API reference or its quotas page as searched; kept at one look per 2 s per builder.
 */
import { TransientAwsError } from './errors';

/** What a check's single look reports. */
export interface Look {
  /** The check's estimate of when to look next (next-check.ts), in seconds; 0 once the event happened. */
  nextCheckSeconds: number;
}

/**
 * What a look may add for the loop only (never returned): the estimate before next-check.ts clamps it, when the clamp
 * could hide that the event is near (a snapshot's 2 % of a long wait).
 */
export interface Due {
  dueInSeconds?: number;
}

/** How a check polls inside its invocation. */
export interface InnerPoll {
  /** Seconds between two looks inside the invocation. */
  intervalSeconds: number;
  /** Longest the check keeps looking in one invocation, from its first look. */
  windowSeconds: number;
  /**
   * Poll inside only while the estimate is at most this many seconds away; `Infinity` polls for the whole window
   * (the pull: no estimate to trust).
   */
  nearSeconds: number;
}

/** The part of the Lambda context the loop reads. */
export interface RemainingTime {
  getRemainingTimeInMillis(): number;
}

/**
 * Kept free of the Lambda's timeout when the loop decides whether to sleep once more: the look after the sleep
 * (two AWS requests at most), the handler's return and a cold SDK connection fit in it many times over.
 */
export const TIMEOUT_MARGIN_MS = 5_000;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Looks with `look` until the event, the window, a look that is not near, or the margin of the Lambda's remaining
 * time; returns the last look (its `nextCheckSeconds` is what the Wait sleeps next).
 *
 * @example
 * const result = await pollInside(() => lookOnce(input), INNER_POLL.snapshot, context);
 */
export const pollInside = async <T extends Look>(look: () => Promise<T & Due>, poll: InnerPoll, context?: RemainingTime): Promise<T> => {
  const startedAt = Date.now();
  let last: T | undefined;
  for (;;) {
    let looked: T & Due;
    try {
      looked = await look();
    } catch (error) {
      if (last && error instanceof TransientAwsError) return last;
      throw error;
    }
    const { dueInSeconds, ...result } = looked;
    const output = result as unknown as T;
    last = output;
    if (output.nextCheckSeconds === 0 || !context) return output;
    const sleepMs = poll.intervalSeconds * 1000;
    const windowLeftMs = poll.windowSeconds * 1000 - (Date.now() - startedAt);
    if (sleepMs > windowLeftMs) return output;
    if (context.getRemainingTimeInMillis() - sleepMs < TIMEOUT_MARGIN_MS) return output;
    // Near: within reach of the inner poll, or due before the (clamped) Wait would end, which would sleep past it.
    const due = dueInSeconds ?? output.nextCheckSeconds;
    if (due > poll.nearSeconds && due >= output.nextCheckSeconds) return output;
    await sleep(sleepMs);
  }
};

/**
 * Each check's inner poll. Windows fit the functions' Timeout (infra/snapshot-factory.ts, CHECK_TIMEOUT_SECONDS) with
 * {@link TIMEOUT_MARGIN_MS} to spare. Chosen with `npm run bench -- simulation` (docs/architecture.md "Waits").
 */
export const INNER_POLL = {
  /** SSM DescribeInstanceInformation: one look per 2 s; near once past the agent's earliest Online time. */
  agent: { intervalSeconds: 2, windowSeconds: 60, nearSeconds: 10 },
  /** SSM GetCommandInvocation (+ EC2 DescribeInstances): one look per 2 s for the whole window; no progress signal. */
  pull: { intervalSeconds: 2, windowSeconds: 60, nearSeconds: Number.POSITIVE_INFINITY },
  /** EC2 DescribeInstances: one look per second once past the stop's earliest time. */
  stop: { intervalSeconds: 1, windowSeconds: 60, nearSeconds: 10 },
  /** EC2 DescribeSnapshots: one look per second in the last seconds Progress predicts. */
  snapshot: { intervalSeconds: 1, windowSeconds: 60, nearSeconds: 20 },
} as const satisfies Record<string, InnerPoll>;

/** The Timeout of the four build checks' functions: the longest window plus the margin, with room for a cold start. */
export const CHECK_TIMEOUT_SECONDS = 75;

/** The functions that poll inside their invocation, by file name: their Timeout is {@link CHECK_TIMEOUT_SECONDS}. */
export const POLLING_CHECKS = ['check-ssm-agent', 'check-pull-command', 'check-instance-stopped', 'check-snapshot'] as const;
