import { describe, expect, it } from 'vitest';
import { pullPhaseMs, schedulePulls } from '../../simulation/aws/pull-schedule';

describe('the simulated pull schedule (as the pull script runs its jobs)', () => {
  it('runs the two platforms of one image at once when the concurrency allows it', () => {
    // Act: 1 image x 2 platforms, concurrency 4
    const schedule = schedulePulls([20_000, 20_000], 4);
    // Assess
    expect(schedule).toEqual([
      { startMs: 0, endMs: 20_000 },
      { startMs: 0, endMs: 20_000 },
    ]);
    expect(pullPhaseMs(schedule)).toBe(20_000);
  });

  it('starts the next pull in order when the earliest running one ends, never more than the concurrency at once', () => {
    // Act: 5 pulls of different lengths over 2 slots
    const schedule = schedulePulls([30, 10, 10, 10, 50], 2);
    // Assess
    expect(schedule.map((pull) => pull.startMs)).toEqual([0, 0, 10, 20, 30]);
    expect(pullPhaseMs(schedule)).toBe(80);
    for (const at of [0, 10, 20, 30, 40]) expect(schedule.filter((pull) => pull.startMs <= at && at < pull.endMs).length).toBeLessThanOrEqual(2);
  });

  it('fails when the concurrency is not a positive integer', () => {
    // Act + Assess
    expect(() => schedulePulls([1], 0)).toThrow(/concurrency must be a positive integer, got 0/);
  });
});
