/**
 * State `TerminateInstance`: terminates the builder once its snapshot is complete. Idempotent: an instance that is
 * already terminated or unknown counts as terminated.
 *
 * Throws `TransientAwsError` (retryable), `AccessDeniedError`, `AwsRequestError`.
 */
import { TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import * as z from './lib/zod-mini';
import { ec2 } from './lib/clients/ec2';
import { awsErrorCode, callAws } from './lib/errors';
import { logger } from './lib/logger';
import { instanceSchema } from './lib/schemas';
import { defineStage } from './lib/stage';

const inputSchema = z.object({ instance: z.pick(instanceSchema, { instanceId: true }) });
type Input = z.infer<typeof inputSchema>;
type Output = { terminatedInstanceIds: string[] };

const run = async ({ instance }: Input): Promise<Output> => {
  const { instanceId } = instance;
  try {
    await callAws(`ec2:TerminateInstances ${instanceId}`, () => ec2.send(new TerminateInstancesCommand({ InstanceIds: [instanceId] })));
  } catch (error) {
    // Gone already (terminated over an hour ago, or never existed): nothing left to terminate.
    if (awsErrorCode((error as Error).cause) !== 'InvalidInstanceID.NotFound') throw error;
    logger.info('builder already gone', { instanceId });
  }
  return { terminatedInstanceIds: [instanceId] };
};

/** Handler of the `TerminateInstance` state. */
export const handler = defineStage('terminate-instance', inputSchema, run);
