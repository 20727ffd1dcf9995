import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CHECK_TIMEOUT_SECONDS, INNER_POLL, TIMEOUT_MARGIN_MS, pollInside, type InnerPoll, type RemainingTime } from '../../functions/lib/poll-inside';
import { SNAPSHOT_WAKE_SHARE, snapshotWakeSeconds } from '../../functions/lib/next-check';
import { TransientAwsError } from '../../functions/lib/errors';

/** A Lambda context whose deadline is `timeoutMs` after now, on the (fake) clock. */
const contextFor = (timeoutMs: number): RemainingTime => {
  const deadline = Date.now() + timeoutMs;
  return { getRemainingTimeInMillis: () => deadline - Date.now() };
};

/** Looks that say "not yet, due in `dueSeconds`" until `doneAfterLooks` looks, and record when each look was. */
const scriptedLooks = (doneAfterLooks: number, dueSeconds = 5) => {
  const at: number[] = [];
  const look = async () => {
    at.push(Date.now());
    return at.length >= doneAfterLooks ? { nextCheckSeconds: 0, looks: at.length } : { nextCheckSeconds: dueSeconds, looks: at.length };
  };
  return { at, look };
};

/** Runs `pollInside` while the fake clock moves to each timer it sets. */
const runPoll = async <T extends { nextCheckSeconds: number }>(promise: Promise<T>): Promise<T> => {
  let settled = false;
  void promise.finally(() => (settled = true));
  while (!settled) await vi.advanceTimersToNextTimerAsync();
  return promise;
};

const POLL: InnerPoll = { intervalSeconds: 2, windowSeconds: 20, nearSeconds: 10 };

describe('pollInside: a check looking again inside its invocation', () => {
  beforeEach(() => vi.useFakeTimers({ now: Date.parse('2026-01-05T09:00:00Z') }));
  afterEach(() => vi.useRealTimers());

  it('stops at the event, each look one interval after the last', async () => {
    // Prepare
    const { at, look } = scriptedLooks(4);
    // Act
    const result = await runPoll(pollInside(look, POLL, contextFor(60_000)));
    // Assess
    expect(result).toEqual({ nextCheckSeconds: 0, looks: 4 });
    expect(at.slice(1).map((t, i) => t - at[i]!)).toEqual([2000, 2000, 2000]);
  });

  it('stops at the window and returns the last look for the Wait', async () => {
    // Prepare
    const { at, look } = scriptedLooks(1000);
    // Act
    const result = await runPoll(pollInside(look, POLL, contextFor(60_000)));
    // Assess: looks at 0, 2, ... 20 s: the 11th is the window's last.
    expect(result).toEqual({ nextCheckSeconds: 5, looks: 11 });
    expect(at.at(-1)! - at[0]!).toBe(20_000);
  });

  it('stops a margin before the Lambda times out', async () => {
    // Prepare: 12 s of the function's timeout left, so a sleep of 2 s may leave no less than the 5 s margin.
    const { at, look } = scriptedLooks(1000);
    // Act
    const result = await runPoll(pollInside(look, { ...POLL, windowSeconds: 600 }, contextFor(12_000)));
    // Assess: looks at 0, 2, 4, 6 s; a fifth at 8 s would leave 4 s, less than the margin.
    expect(result.looks).toBe(4);
    expect(12_000 - (at.at(-1)! - at[0]!)).toBeGreaterThanOrEqual(TIMEOUT_MARGIN_MS);
  });

  it('returns at once when the event is not near, and looks once without a Lambda context', async () => {
    // Prepare
    const far = scriptedLooks(1000, 45); // due in 45 s, and the Wait it returns sleeps exactly that
    const local = scriptedLooks(1000);
    // Act
    const notNear = await runPoll(pollInside(far.look, POLL, contextFor(60_000)));
    const once = await runPoll(pollInside(local.look, POLL));
    // Assess
    expect(notNear).toEqual({ nextCheckSeconds: 45, looks: 1 });
    expect(once).toEqual({ nextCheckSeconds: 5, looks: 1 });
  });

  it('decides "near" on the unclamped estimate a look adds, and never returns it', async () => {
    // Prepare: next-check.ts clamps to 21 s (2 % of a long wait), but the event is due in 6 s.
    let looks = 0;
    const look = async () => ({ nextCheckSeconds: (looks += 1) >= 3 ? 0 : 21, dueInSeconds: 6 });
    // Act
    const result = await runPoll(pollInside(look, POLL, contextFor(60_000)));
    // Assess
    expect(looks).toBe(3);
    expect(result).toEqual({ nextCheckSeconds: 0 });
  });

  it('keeps looking when the event is due before the clamped Wait would end, though beyond nearSeconds', async () => {
    // Prepare: due in 25 s, but the Wait may not be shorter than 30 s (2 % of a 1500 s wait).
    let looks = 0;
    const look = async () => ({ nextCheckSeconds: (looks += 1) >= 4 ? 0 : 30, dueInSeconds: 25 });
    // Act
    const result = await runPoll(pollInside(look, POLL, contextFor(60_000)));
    // Assess
    expect(looks).toBe(4);
    expect(result).toEqual({ nextCheckSeconds: 0 });
  });

  it('lets an error of a look propagate as it would from a single look', async () => {
    // Prepare
    let looks = 0;
    const look = async () => {
      looks += 1;
      if (looks === 3) throw Object.assign(new Error('still pending after 3601 s; the limit is 3600 s'), { name: 'SnapshotTimeoutError' });
      return { nextCheckSeconds: 2 };
    };
    // Act
    const error = await runPoll(pollInside(look, POLL, contextFor(60_000)).catch((e: Error) => ({ nextCheckSeconds: -1, error: e })));
    // Assess
    expect(looks).toBe(3);
    expect((error as { error: Error }).error).toMatchObject({ name: 'SnapshotTimeoutError', message: expect.stringContaining('3600 s') });
  });

  it('ends with the last look that succeeded when a later look is throttled past the SDK\'s retries, for the Wait', async () => {
    // Prepare
    const at: number[] = [];
    const look = async () => {
      at.push(Date.now());
      if (at.length === 3) throw new TransientAwsError('ec2:DescribeSnapshots snap-0123456789abcdef0 failed: RequestLimitExceeded: Request limit exceeded.');
      return { nextCheckSeconds: 4 + at.length };
    };
    // Act
    const result = await runPoll(pollInside(look, POLL, contextFor(60_000)));
    // Assess: the second look's answer, and no fourth look.
    expect(result).toEqual({ nextCheckSeconds: 6 });
    expect(at).toHaveLength(3);
  });

  it('fails as before when the first look is throttled: there is no look to return', async () => {
    // Prepare
    const look = async (): Promise<{ nextCheckSeconds: number }> => {
      throw new TransientAwsError('ec2:DescribeInstances i-0123456789abcdef0 failed: RequestLimitExceeded: Request limit exceeded.');
    };
    // Act
    const outcome = await runPoll(pollInside(look, POLL, contextFor(60_000)).catch((e: Error) => ({ nextCheckSeconds: -1, error: e })));
    // Assess
    expect((outcome as { error: Error }).error).toBeInstanceOf(TransientAwsError);
  });

  it('keeps every window inside the checks\' timeout with the margin, and each rate within its service\'s', () => {
    // Assess: SSM's rate is unpublished, so at most one look per 2 s; EC2's non-mutating bucket refills 20 per second.
    expect(INNER_POLL.agent.intervalSeconds).toBeGreaterThanOrEqual(2);
    expect(INNER_POLL.pull.intervalSeconds).toBeGreaterThanOrEqual(2);
    expect(INNER_POLL.stop.intervalSeconds).toBeGreaterThanOrEqual(1);
    expect(INNER_POLL.snapshot.intervalSeconds).toBeGreaterThanOrEqual(1);
    for (const poll of Object.values(INNER_POLL)) {
      expect(poll.windowSeconds * 1000 + TIMEOUT_MARGIN_MS).toBeLessThan(CHECK_TIMEOUT_SECONDS * 1000);
    }
  });
});

describe('snapshotWakeSeconds', () => {
  it('wakes before the estimate while it is beyond the inner poll, at the estimate once within it', () => {
    // Act / Assess
    expect(snapshotWakeSeconds(100, 20)).toBeCloseTo(100 * SNAPSHOT_WAKE_SHARE);
    expect(snapshotWakeSeconds(21, 20)).toBe(Math.max(10, 21 * SNAPSHOT_WAKE_SHARE));
    expect(snapshotWakeSeconds(15, 20)).toBe(15);
  });
});
