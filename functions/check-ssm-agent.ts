/**
 * State `CheckSsmAgent`: reports whether the builder's SSM agent is `Online`, so Run Command can reach it
 * (the Choice `SsmAgentOnline` loops through `WaitForSsmAgent` while it is not), and when to look next
 * (`nextCheckSeconds`, the Wait's `SecondsPath`): not before {@link AGENT_EARLIEST_ONLINE_SECONDS} after launch, then
 * after a share of the time waited (functions/lib/next-check.ts); 0 once Online. Once past that earliest time it
 * looks again itself every 2 s for up to a minute of its invocation (functions/lib/poll-inside.ts, `INNER_POLL.agent`)
 * before it returns to the Wait.
 *
 * Throws `InstanceLostError` (the builder is stopping, stopped, shutting down, terminated or gone),
 * `SsmAgentTimeoutError` (not Online within `build.limits.ssmOnlineSeconds` of `instance.launchedAt`; its message
 * lists the usual causes, among them a builder role that cannot pull Bottlerocket's host containers),
 * `TransientAwsError` (retryable), `AccessDeniedError`, `AwsRequestError`.
 */
import { DescribeInstanceInformationCommand } from '@aws-sdk/client-ssm';
import type { Context } from 'aws-lambda';
import * as z from './lib/zod-mini';
import { assertBuilderAlive } from './lib/builder-liveness';
import { ssm } from './lib/clients/ssm';
import { SsmAgentTimeoutError, callAws } from './lib/errors';
import { AGENT_EARLIEST_ONLINE_SECONDS, afterEarliest, nextCheckSeconds } from './lib/next-check';
import { INNER_POLL, pollInside } from './lib/poll-inside';
import { buildTargetSchema, instanceSchema } from './lib/schemas';
import { defineStage } from './lib/stage';

/**
 * Bottlerocket's ECR account for its host containers in most regions (bottlerocket-core-kit
 * sources/api/schnauzer/src/helpers/mod.rs `ECR_MAP`; a few regions use others, docs/builder-host.md).
 */
export const BOTTLEROCKET_HOST_CONTAINERS_ACCOUNT = '328549459982';

const inputSchema = z.object({
  build: z.object({ limits: buildTargetSchema.shape.limits }),
  instance: instanceSchema,
});
type Input = z.infer<typeof inputSchema>;
type Output = { online: boolean; pingStatus: string; checkedAt: string; nextCheckSeconds: number };

const look = async ({ build, instance }: Input): Promise<Output> => {
  const { instanceId } = instance;
  const info = await callAws(`ssm:DescribeInstanceInformation ${instanceId}`, () =>
    ssm.send(new DescribeInstanceInformationCommand({ Filters: [{ Key: 'InstanceIds', Values: [instanceId] }] })),
  );
  // A builder whose agent has not registered yet is simply absent from the list.
  const pingStatus = info.InstanceInformationList?.find((i) => i.InstanceId === instanceId)?.PingStatus ?? 'NotRegistered';
  const checkedAt = new Date();
  if (pingStatus === 'Online') return { online: true, pingStatus, checkedAt: checkedAt.toISOString(), nextCheckSeconds: 0 };

  // The agent never comes Online on a builder that is going away: fail now rather than at the time limit.
  await assertBuilderAlive(instanceId, 'waiting for its SSM agent');
  const waitedMs = checkedAt.getTime() - Date.parse(instance.launchedAt);
  const waitedSeconds = Math.floor(waitedMs / 1000);
  if (waitedSeconds > build.limits.ssmOnlineSeconds) {
    throw new SsmAgentTimeoutError(
      `the SSM agent of builder ${instanceId} is not Online (${pingStatus}) ${waitedSeconds} s after launch; the limit is ` +
        `${build.limits.ssmOnlineSeconds} s (limits.ssmOnlineSeconds raises it). Usual causes: the subnet has no route to the ` +
        'SSM endpoints (no NAT gateway or public IP, and no VPC endpoints for ssm, ssmmessages and ec2messages); the ' +
        'instance profile lacks the AmazonSSMManagedInstanceCore policy; or the builder role cannot pull Bottlerocket\'s host ' +
        'containers from its ECR account (ecr:GetAuthorizationToken, and ecr:BatchGetImage + ecr:GetDownloadUrlForLayer on ' +
        `arn:aws:ecr:<region>:<Bottlerocket's account, ${BOTTLEROCKET_HOST_CONTAINERS_ACCOUNT} in most regions>:repository/bottlerocket-*, ` +
        'as AmazonEC2ContainerRegistryReadOnly grants), so host-ctr never starts the control container that runs the agent.',
    );
  }
  const next = nextCheckSeconds(afterEarliest(waitedMs / 1000, AGENT_EARLIEST_ONLINE_SECONDS), waitedMs / 1000, build.limits.ssmOnlineSeconds);
  return { online: false, pingStatus, checkedAt: checkedAt.toISOString(), nextCheckSeconds: next };
};

const run = async (input: Input, context?: Context): Promise<Output> => pollInside(() => look(input), INNER_POLL.agent, context);

/** Handler of the `CheckSsmAgent` state. */
export const handler = defineStage('check-ssm-agent', inputSchema, run);
