/**
 * The local endpoint's simulated time: @sinonjs/fake-timers replaces `Date` and the timer functions of this process
 * (the simulation engine's, never the HTTP server's: cli/local/server.ts runs in the parent process), and a driver
 * moves the fake clock forward at `speed` times the wall clock, so executions, their Waits and the simulated
 * resources progress while requests are served. `npm run simulate` instead jumps from timer to timer.
 *
 * Time the engine is busy counts at most {@link MAX_STEP_WALL_MS} per step, so under load simulated time falls
 * behind `speed` x wall time rather than charging the handlers' CPU time as simulated seconds.
 */
import { performance } from 'node:perf_hooks';
import FakeTimers from '@sinonjs/fake-timers';

type Clock = ReturnType<typeof FakeTimers.install>;

/** How often the driver moves the clock, in wall milliseconds: a Wait ends at most this long (times speed) late. */
const DRIVER_PERIOD_MS = 20;
/** The most wall time one step of the driver turns into virtual time (x speed), however late the step runs. */
const MAX_STEP_WALL_MS = 50;

/** A fake clock that follows the wall clock at `speed`. */
export interface LiveClock {
  /** Virtual epoch milliseconds now (the same as `Date.now()` in this process). */
  now: () => number;
  /** Stops driving the clock and gives the process its real timers back. */
  stop: () => void;
}

/**
 * The default speed: a one-image build (200 simulated seconds) ends within about 30 s of wall time, measured on a
 * loaded 2-core machine with test/local/measure-default-speed.sh (docs/simulation.md).
 */
export const DEFAULT_SPEED = 15;

/** The virtual clock's speed: a finite number of virtual seconds per wall second, at least 0.1 and at most 1000. */
export const parseSpeed = (text: string): number => {
  const speed = Number(text);
  if (!Number.isFinite(speed) || speed < 0.1 || speed > 1000) throw new InvalidSpeedError(text);
  return speed;
};

/** `--speed` is not a number between 0.1 and 1000. */
export class InvalidSpeedError extends Error {
  constructor(received: string) {
    super(`--speed must be a number from 0.1 to 1000 (virtual seconds per wall second), got ${JSON.stringify(received)}`);
    this.name = 'InvalidSpeedError';
  }
}

/**
 * Installs the fake clock at `startTime` and drives it at `speed` x wall time.
 *
 * @example
 * const clock = startLiveClock({ speed: 10 });
 * // a setTimeout of 10 s now fires after about 1 s of wall time
 * clock.stop();
 */
export const startLiveClock = (options: { speed: number; startTime?: number }): LiveClock => {
  // Captured before install: the driver itself must run on real time.
  const realSetTimeout = globalThis.setTimeout;
  const realClearTimeout = globalThis.clearTimeout;
  const startTime = options.startTime ?? Date.now();
  const clock: Clock = FakeTimers.install({
    now: startTime,
    toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'],
    shouldClearNativeTimers: true,
  });
  let lastWall = performance.now();
  let stopped = false;
  let pending: ReturnType<typeof setTimeout> | undefined;
  const drive = async (): Promise<void> => {
    const wall = performance.now();
    // Wall time the engine spent busy (a handler computing, the machine loaded) does not count in full: a Lambda
    // that answers in milliseconds on AWS must not take a simulated minute because this process was starved.
    const elapsed = Math.min(wall - lastWall, MAX_STEP_WALL_MS);
    lastWall = wall;
    // tickAsync fires every timer due within the step in order, letting promise callbacks run between them.
    await clock.tickAsync(elapsed * options.speed);
    if (!stopped) pending = realSetTimeout(() => void drive(), DRIVER_PERIOD_MS);
  };
  pending = realSetTimeout(() => void drive(), DRIVER_PERIOD_MS);
  return {
    now: () => clock.now,
    stop: () => {
      stopped = true;
      if (pending) realClearTimeout(pending);
      clock.uninstall();
    },
  };
};
