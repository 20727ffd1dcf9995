/**
 * When each pull of the factory's pull script starts and ends, as the script schedules them
 * (functions/lib/pull-script.ts, its main loop): every (image, platform) pair is one background job, started in
 * order (images in `REFS` order, each image's platforms in `PLATFORMS` order) as soon as fewer than `CONCURRENCY`
 * jobs run (`jobs -pr | wc -l`, polled every 0.2 s). So a pull starts when the earliest running one ends, and the
 * phase lasts as long as the busiest of `CONCURRENCY` slots.
 *
 * Left out: the script's 0.2 s polling granularity, and that a real pull's duration depends on its size, the
 * registry and the instance's bandwidth (the caller gives each pull its duration).
 */

/** One pull's place in the schedule, in ms from the start of the pull phase. */
export interface ScheduledPull {
  startMs: number;
  endMs: number;
}

/**
 * Schedules pulls of the given durations (in script order) over `concurrency` slots, as the script does.
 *
 * @example schedulePulls([20_000, 20_000, 20_000], 2).at(-1)!.endMs; // 40_000
 * @throws Error when the concurrency is not a positive integer.
 */
export const schedulePulls = (durationsMs: readonly number[], concurrency: number): ScheduledPull[] => {
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new Error(`schedulePulls: concurrency must be a positive integer, got ${concurrency}`);
  const slotsFreeAt = Array.from({ length: concurrency }, () => 0);
  return durationsMs.map((duration) => {
    const slot = slotsFreeAt.indexOf(Math.min(...slotsFreeAt));
    const startMs = slotsFreeAt[slot]!;
    slotsFreeAt[slot] = startMs + duration;
    return { startMs, endMs: startMs + duration };
  });
};

/** How long the pull phase lasts: from the first start to the last end. */
export const pullPhaseMs = (schedule: readonly ScheduledPull[]): number => Math.max(0, ...schedule.map((pull) => pull.endMs));
