import type { Context } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { defineStage } from '../../functions/lib/stage';

/** A stage that reports what context its logic received. */
const probe = defineStage('probe-context', z.object({}), async (_input, context?: Context) => ({ remainingMs: context?.getRemainingTimeInMillis() ?? null }));

describe('defineStage and the Lambda context', () => {
  it("passes the runtime's context to the stage's logic, so a check can read its remaining time", async () => {
    // Prepare
    const context = { getRemainingTimeInMillis: () => 42_000, functionName: 'snapshot-factory-probe', awsRequestId: 'r-1' } as unknown as Context;
    // Act
    const result = await probe({}, context);
    // Assess
    expect(result).toEqual({ remainingMs: 42_000 });
  });

  it('passes no context when called without one: the local fallback measures no remaining time', async () => {
    // Act
    const result = await probe({});
    // Assess
    expect(result).toEqual({ remainingMs: null });
  });
});
