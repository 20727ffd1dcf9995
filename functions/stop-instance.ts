/**
 * State `StopInstance`: asks EC2 to stop the builder so its data volume is quiescent before the snapshot.
 *
 * Throws `InstanceLostError` (the instance is terminated or gone), `TransientAwsError` (retryable),
 * `AccessDeniedError`, `AwsRequestError`.
 */
import { StopInstancesCommand } from '@aws-sdk/client-ec2';
import * as z from './lib/zod-mini';
import { builderState } from './lib/builder-liveness';
import { ec2 } from './lib/clients/ec2';
import { InstanceLostError, awsErrorCode, callAws } from './lib/errors';
import { logger } from './lib/logger';
import { instanceSchema } from './lib/schemas';
import { defineStage } from './lib/stage';

const inputSchema = z.object({ instance: instanceSchema });
type Input = z.infer<typeof inputSchema>;
type Output = { stopRequestedAt: string };

const run = async ({ instance }: Input): Promise<Output> => {
  const { instanceId } = instance;
  try {
    const out = await callAws(`ec2:StopInstances ${instanceId}`, () => ec2.send(new StopInstancesCommand({ InstanceIds: [instanceId] })));
    logger.info('stop requested', { instanceId, state: out.StoppingInstances?.[0]?.CurrentState?.Name });
    return { stopRequestedAt: new Date().toISOString() };
  } catch (error) {
    const code = awsErrorCode((error as Error).cause);
    if (code !== 'IncorrectInstanceState' && code !== 'InvalidInstanceID.NotFound') throw error;
    // A retried stop finds the instance already stopping or stopped: the request it made still stands.
    const state = await builderState(instanceId);
    if (state === 'stopping' || state === 'stopped') return { stopRequestedAt: new Date().toISOString() };
    if (state === 'pending' || state === 'running') throw error;
    throw new InstanceLostError(`builder ${instanceId} cannot be stopped: it is ${state ?? 'gone (no such instance)'}.`, { cause: error });
  }
};

/** Handler of the `StopInstance` state. */
export const handler = defineStage('stop-instance', inputSchema, run);
