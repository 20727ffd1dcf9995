import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { invokeWithTimeout, lambdaContext, type DeployedRuntime } from '../../simulation/lambda-runtime';

const FN: DeployedRuntime = { name: 'check-snapshot', arn: 'arn:aws:lambda:us-west-2:111122223333:function:snapshot-factory-check-snapshot', timeoutSeconds: 30, memoryMb: 256 };

describe('the simulated Lambda runtime', () => {
  beforeEach(() => vi.useFakeTimers({ now: Date.parse('2026-01-05T09:00:00Z') }));
  afterEach(() => vi.useRealTimers());

  it('gives the handler a context whose remaining time runs on the clock, from the deployed Timeout', async () => {
    // Prepare
    const context = lambdaContext(FN, Date.now());
    // Act
    const atStart = context.getRemainingTimeInMillis();
    vi.advanceTimersByTime(12_500);
    const later = context.getRemainingTimeInMillis();
    vi.advanceTimersByTime(60_000);
    // Assess
    expect(atStart).toBe(30_000);
    expect(later).toBe(17_500);
    expect(context.getRemainingTimeInMillis()).toBe(0);
    expect(context).toMatchObject({ memoryLimitInMB: '256', invokedFunctionArn: FN.arn, functionName: 'snapshot-factory-check-snapshot' });
  });

  it('fails with Sandbox.Timedout when a handler runs past the Timeout, as Lambda does', async () => {
    // Prepare: a handler that sleeps 45 s on a 30 s Timeout.
    const slow = invokeWithTimeout(FN, () => new Promise((resolve) => setTimeout(resolve, 45_000)));
    const outcome = slow.catch((error: Error) => error);
    // Act
    await vi.advanceTimersByTimeAsync(30_000);
    // Assess
    expect(await outcome).toMatchObject({ name: 'Sandbox.Timedout', message: 'Task timed out after 30.00 seconds' });
  });

  it('returns what the handler returns within the Timeout and leaves no timer behind', async () => {
    // Act
    const result = invokeWithTimeout(FN, async (context) => {
      await new Promise((resolve) => setTimeout(resolve, 10_000));
      return context.getRemainingTimeInMillis();
    });
    await vi.advanceTimersByTimeAsync(10_000);
    // Assess: a leftover timer would move the simulation's clock to it once the run is idle.
    expect(await result).toBe(20_000);
    expect(vi.getTimerCount()).toBe(0);
  });
});
