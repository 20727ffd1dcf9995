import { describe, expect, it } from 'vitest';
import {
  CHECK_BOUNDS,
  SNAPSHOT_FIRST_SAMPLE_SECONDS,
  afterEarliest,
  minCheckSeconds,
  nextCheckSeconds,
  pullEstimateSeconds,
  snapshotRemainingSeconds,
} from '../../functions/lib/next-check';

describe('next-check: when a poll loop looks next', () => {
  it('never waits less than the minimum, which grows with the time waited', () => {
    // Act / Assess
    expect(nextCheckSeconds(0, 0, 600)).toBe(CHECK_BOUNDS.minSeconds);
    expect(nextCheckSeconds(1, 1000, 7200)).toBe(20);
    expect(minCheckSeconds(100_000)).toBe(CHECK_BOUNDS.maxSeconds);
  });

  it('never waits more than the maximum, nor past the limit by more than the minimum', () => {
    // Act / Assess
    expect(nextCheckSeconds(5000, 100, 7200)).toBe(CHECK_BOUNDS.maxSeconds);
    expect(nextCheckSeconds(200, 590, 600)).toBe(minCheckSeconds(590));
    expect(nextCheckSeconds(200, 100, 120)).toBe(21);
  });

  it('returns whole seconds, as a Wait state SecondsPath requires', () => {
    // Act
    const next = nextCheckSeconds(7.2, 10, 600);
    const nearLimit = nextCheckSeconds(50, 577.341, 600);
    // Assess
    expect(next).toBe(8);
    expect(Number.isInteger(nearLimit)).toBe(true);
    expect(nearLimit).toBe(24);
  });

  it('waits the longest allowed (the maximum, or just past the limit) when the estimate is not a number', () => {
    // Act / Assess
    expect(nextCheckSeconds(Number.NaN, 10, 7200)).toBe(CHECK_BOUNDS.maxSeconds);
    expect(nextCheckSeconds(Number.NaN, 10, 600)).toBe(591);
    expect(nextCheckSeconds(Number.POSITIVE_INFINITY, 10, 60)).toBe(51);
  });

  it('waits for the earliest time an event can happen, then a tenth of the wait', () => {
    // Act / Assess
    expect(afterEarliest(2, 30)).toBe(28);
    expect(afterEarliest(40, 30)).toBe(4);
  });

  it('estimates a snapshot from Progress read at the middle of its whole percent', () => {
    // Act / Assess: 50 s in at 49 % reads as 49.5 %, so about 51 s to go.
    expect(snapshotRemainingSeconds('49%', 50)).toBeCloseTo(51.01, 1);
    expect(snapshotRemainingSeconds('10%', 5)).toBe(SNAPSHOT_FIRST_SAMPLE_SECONDS - 5);
    expect(snapshotRemainingSeconds('0%', 40)).toBe(4);
  });

  it('treats a Progress it cannot read as no progress', () => {
    // Act / Assess
    expect(snapshotRemainingSeconds('', 40)).toBe(4);
    expect(snapshotRemainingSeconds('unknown', 40)).toBe(4);
  });

  it('estimates the pull as 15 % of the build so far', () => {
    // Act / Assess
    expect(pullEstimateSeconds(100)).toBe(15);
    expect(pullEstimateSeconds(-5)).toBe(0);
  });
});
