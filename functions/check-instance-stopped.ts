/**
 * State `CheckInstanceStopped`: reports whether the builder has reached `stopped` (the Choice loops while not), and
 * when to look next (`nextCheckSeconds`, the Wait's `SecondsPath`): not before {@link STOP_EARLIEST_SECONDS} after the
 * stop request, then after a share of the time waited (functions/lib/next-check.ts); 0 once stopped. Once past that
 * earliest time it looks again itself every second for up to a minute of its invocation (functions/lib/poll-inside.ts,
 * `INNER_POLL.stop`) before it returns to the Wait.
 *
 * Throws `InstanceLostError` (the instance terminated or vanished), `StopTimeoutError` (not stopped within
 * `build.limits.stopSeconds` of `stop.stopRequestedAt`), `TransientAwsError` (retryable), `AccessDeniedError`,
 * `AwsRequestError`.
 */
import type { Context } from 'aws-lambda';
import * as z from './lib/zod-mini';
import { builderState } from './lib/builder-liveness';
import { InstanceLostError, StopTimeoutError } from './lib/errors';
import { STOP_EARLIEST_SECONDS, afterEarliest, nextCheckSeconds } from './lib/next-check';
import { INNER_POLL, pollInside } from './lib/poll-inside';
import { buildTargetSchema, instanceSchema, stopRequestSchema } from './lib/schemas';
import { defineStage } from './lib/stage';

const inputSchema = z.object({
  build: z.object({ limits: buildTargetSchema.shape.limits }),
  instance: instanceSchema,
  stop: stopRequestSchema,
});
type Input = z.infer<typeof inputSchema>;
type Output = { stopped: boolean; state: string; checkedAt: string; nextCheckSeconds: number };

const look = async ({ build, instance, stop }: Input): Promise<Output> => {
  const { instanceId } = instance;
  const state = await builderState(instanceId);
  if (!state) throw new InstanceLostError(`builder ${instanceId} vanished while it was stopping.`);
  if (state === 'terminated' || state === 'shutting-down') {
    throw new InstanceLostError(`builder ${instanceId} is ${state} while it was stopping; its data volume is gone.`);
  }
  const checkedAt = new Date();
  if (state === 'stopped') return { stopped: true, state, checkedAt: checkedAt.toISOString(), nextCheckSeconds: 0 };

  const waitedMs = checkedAt.getTime() - Date.parse(stop.stopRequestedAt);
  const waitedSeconds = Math.floor(waitedMs / 1000);
  if (waitedSeconds > build.limits.stopSeconds) {
    throw new StopTimeoutError(
      `builder ${instanceId} is still ${state} ${waitedSeconds} s after the stop request; the limit is ${build.limits.stopSeconds} s (limits.stopSeconds raises it).`,
    );
  }
  const next = nextCheckSeconds(afterEarliest(waitedMs / 1000, STOP_EARLIEST_SECONDS), waitedMs / 1000, build.limits.stopSeconds);
  return { stopped: false, state, checkedAt: checkedAt.toISOString(), nextCheckSeconds: next };
};

const run = async (input: Input, context?: Context): Promise<Output> => pollInside(() => look(input), INNER_POLL.stop, context);

/** Handler of the `CheckInstanceStopped` state. */
export const handler = defineStage('check-instance-stopped', inputSchema, run);
