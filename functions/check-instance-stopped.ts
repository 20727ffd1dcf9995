/**
 * State `CheckInstanceStopped`: reports whether the builder has reached `stopped` (the Choice loops while not).
 *
 * Throws `InstanceLostError` (the instance terminated or vanished), `StopTimeoutError` (not stopped within
 * `build.limits.stopSeconds` of `stop.stopRequestedAt`), `TransientAwsError` (retryable), `AccessDeniedError`,
 * `AwsRequestError`.
 */
import { DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import { z } from 'zod';
import { ec2 } from './lib/clients';
import { InstanceLostError, StopTimeoutError, awsErrorCode, callAws } from './lib/errors';
import { buildTargetSchema, instanceSchema, stopRequestSchema } from './lib/schemas';
import { defineStage } from './lib/stage';

const inputSchema = z.object({
  build: z.object({ limits: buildTargetSchema.shape.limits }),
  instance: instanceSchema,
  stop: stopRequestSchema,
});
type Input = z.infer<typeof inputSchema>;
type Output = { stopped: boolean; state: string; checkedAt: string };

const run = async ({ build, instance, stop }: Input): Promise<Output> => {
  const { instanceId } = instance;
  let state: string | undefined;
  try {
    const out = await callAws(`ec2:DescribeInstances ${instanceId}`, () =>
      ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] })),
    );
    state = out.Reservations?.[0]?.Instances?.[0]?.State?.Name;
  } catch (error) {
    if (awsErrorCode((error as Error).cause) !== 'InvalidInstanceID.NotFound') throw error;
  }
  if (!state) throw new InstanceLostError(`builder ${instanceId} vanished while it was stopping.`);
  if (state === 'terminated' || state === 'shutting-down') {
    throw new InstanceLostError(`builder ${instanceId} is ${state} while it was stopping; its data volume is gone.`);
  }
  const checkedAt = new Date();
  if (state === 'stopped') return { stopped: true, state, checkedAt: checkedAt.toISOString() };

  const waitedSeconds = Math.floor((checkedAt.getTime() - Date.parse(stop.stopRequestedAt)) / 1000);
  if (waitedSeconds > build.limits.stopSeconds) {
    throw new StopTimeoutError(
      `builder ${instanceId} is still ${state} ${waitedSeconds} s after the stop request; the limit is ${build.limits.stopSeconds} s (limits.stopSeconds raises it).`,
    );
  }
  return { stopped: false, state, checkedAt: checkedAt.toISOString() };
};

/** Handler of the `CheckInstanceStopped` state. */
export const handler = defineStage('check-instance-stopped', inputSchema, run);
