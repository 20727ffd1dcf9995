/**
 * Issue 9, item 5 (history): with an execution time limit long enough for the waits, two architectures polling a
 * day-long waits at their minimum interval (functions/lib/next-check.ts: it grows to 300 s at most) could still log more
 * than Step Functions' 25,000 history events, and the execution would fail with States.Runtime and no cleanup.
 * PrepareBuild refuses such a plan. Its own file: the deployed defaults (a 6-day execution limit) are read once per process, at prepare-build's cold start, so they are set before any
 * import (the simulation keeps a FACTORY_DEFAULTS already set; nothing here launches, so no other default matters).
 */
import { describe, expect, it, vi } from 'vitest';

vi.hoisted(() => {
  process.env.FACTORY_DEFAULTS = JSON.stringify({ limits: { executionSeconds: 6 * 86400 } });
});

const { runSimulation } = await import('../../simulation/run-state-machine');

const NGINX = 'public.ecr.aws/docker/library/nginx:1.27';
const LONG_WAITS = { limits: { pullSeconds: 180_000, stopSeconds: 86_400, snapshotSeconds: 86_400 } };

describe('the history quota, checked before launch', () => {
  it('fails in prepare-build when the polls of two architectures could exceed 25,000 history events, naming the limit to lower', async () => {
    // Act
    const report = await runSimulation({ input: { images: [NGINX], architectures: ['x86_64', 'arm64'], ...LONG_WAITS } });
    // Assess
    expect({ status: report.status, error: report.error }).toEqual({ status: 'FAILED', error: 'InvalidInputError' });
    expect(report.cause).toMatch(/^prepare-build: the waits of 2 builds .* could log up to \d+ history events, more than Step Functions' 25000 per execution: lower limits\.pullSeconds \(180000 s\)/);
    expect(report.account.core.callsOf('ec2', 'RunInstances')).toHaveLength(0);
    expect(report.historyEvents).toBeLessThan(50);
  });

  it('accepts the same waits on one builder (combined layout), which fit the quota', async () => {
    // Act: the build runs until launch; the minimal deployed defaults name no instance profile the account has.
    const report = await runSimulation({ input: { images: [NGINX], architectures: ['x86_64', 'arm64'], layout: 'combined', ...LONG_WAITS } });
    // Assess: PrepareBuild planned it and the Map started it.
    expect(report.events.some((e) => e.type === 'StateExited' && e.state === 'PrepareBuild')).toBe(true);
    expect(report.account.core.callsOf('ec2', 'RunInstances').length).toBeGreaterThan(0);
  });
});
