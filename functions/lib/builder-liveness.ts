/**
 * Whether the builder instance still exists and runs. SSM answers for a builder that went away are ambiguous
 * (`InvalidInstanceId`, a command that stays InProgress), so stages that wait on SSM ask EC2 directly and fail
 * at once with InstanceLostError instead of waiting for a time limit.
 */
import { DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import { ec2 } from './clients/ec2';
import { InstanceLostError, awsErrorCode, callAws } from './errors';

const LOST_STATES = new Set(['stopping', 'stopped', 'shutting-down', 'terminated']);

/** The builder's EC2 state, or `undefined` when EC2 no longer knows the instance. */
export const builderState = async (instanceId: string): Promise<string | undefined> => {
  try {
    const out = await callAws(`ec2:DescribeInstances ${instanceId}`, () =>
      ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] })),
    );
    return out.Reservations?.[0]?.Instances?.[0]?.State?.Name;
  } catch (error) {
    if (awsErrorCode((error as Error).cause) === 'InvalidInstanceID.NotFound') return undefined;
    throw error;
  }
};

/**
 * Throws InstanceLostError when the builder is stopping, stopped, shutting down, terminated or gone.
 *
 * @param while_ what the build was doing, for the message, e.g. `waiting for its SSM agent`.
 * @example await assertBuilderAlive('i-0123', 'pulling images');
 */
export const assertBuilderAlive = async (instanceId: string, while_: string): Promise<void> => {
  const state = await builderState(instanceId);
  if (!state) throw new InstanceLostError(`builder ${instanceId} vanished while ${while_}.`);
  if (LOST_STATES.has(state)) throw new InstanceLostError(`builder ${instanceId} is ${state} while ${while_}; it cannot pull images.`);
};
