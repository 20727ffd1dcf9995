/**
 * State `SendPullCommand`: sends the pull script (functions/lib/pull-script.ts) to the builder with SSM Run
 * Command (`AWS-RunShellScript`) and returns the command's ID for `CheckPullCommand`.
 *
 * A builder runs one build, so a factory command already Pending/InProgress/Success on it is this build's (a
 * retry after a lost answer): it is adopted, not sent twice.
 *
 * Every image reference is validated and normalised first (functions/lib/image-reference.ts); the script is
 * generated from the validated references only (functions/lib/pull-command.ts, shared with prepare-build). The command's parameters hold the script and nothing secret:
 * private ECR images get their credentials on the instance (the kubelet ECR credential provider).
 *
 * Throws `InvalidImageReferenceError` (an image reference is invalid), `InvalidInputError` (the image list does
 * not fit in one command), `InstanceLostError` (SSM answers `InvalidInstanceId` and the builder is stopping,
 * stopped, terminated or gone), `TransientAwsError` (retryable; includes `InvalidInstanceId` for a running builder
 * just after its agent came Online), `AccessDeniedError`, `AwsRequestError`.
 */
import { ListCommandInvocationsCommand, SendCommandCommand } from '@aws-sdk/client-ssm';
import * as z from './lib/zod-mini';
import { assertBuilderAlive } from './lib/builder-liveness';
import { ssm } from './lib/clients/ssm';
import { TransientAwsError, awsErrorCode, callAws } from './lib/errors';
import { pullCommandThatFits } from './lib/pull-command';
import { buildTargetSchema, instanceSchema } from './lib/schemas';
import { defineStage } from './lib/stage';
import { fitText } from './lib/tags';

const inputSchema = z.object({
  build: z.pick(buildTargetSchema, { recipe: true, architecture: true, platforms: true, images: true, pull: true }),
  instance: instanceSchema,
});
type Input = z.infer<typeof inputSchema>;
type Output = { commandId: string; sentAt: string };

/** SSM's Comment limit. */
export const COMMENT_MAX = 100;
/** How long SSM may take to deliver the command to an agent that is Online. */
export const DELIVERY_TIMEOUT_SECONDS = 600;
/** Bytes of `commands` we send at most (functions/lib/pull-command.ts; prepare-build checks the same before launch). */
export { MAX_COMMANDS_BYTES } from './lib/pull-command';

const COMMENT_PREFIX = 'snapshot-factory ';
const ADOPTABLE = new Set(['Pending', 'InProgress', 'Delayed', 'Success']);

/**
 * A pull command this build already sent to the builder (a retry after SendCommand succeeded but its answer was
 * lost): adopting it avoids a second script emptying the image store under the first one.
 */
const alreadySent = async (instanceId: string): Promise<Output | undefined> => {
  const out = await callAws(`ssm:ListCommandInvocations ${instanceId}`, () =>
    ssm.send(new ListCommandInvocationsCommand({ InstanceId: instanceId, MaxResults: 50 })),
  );
  const found = (out.CommandInvocations ?? [])
    .filter((i) => i.DocumentName === 'AWS-RunShellScript' && i.Comment?.startsWith(COMMENT_PREFIX) && ADOPTABLE.has(i.Status ?? ''))
    .sort((a, b) => (b.RequestedDateTime?.getTime() ?? 0) - (a.RequestedDateTime?.getTime() ?? 0))[0];
  if (!found?.CommandId) return undefined;
  return { commandId: found.CommandId, sentAt: (found.RequestedDateTime ?? new Date()).toISOString() };
};

const run = async ({ build, instance }: Input): Promise<Output> => {
  // The same function prepare-build ran on the same images, so a list too large was refused before launch.
  const { commands } = pullCommandThatFits({ images: build.images, platforms: build.platforms, concurrency: build.pull.concurrency });
  const previous = await alreadySent(instance.instanceId);
  if (previous) return previous;
  const comment = fitText(`${COMMENT_PREFIX}${build.recipe} ${build.architecture} ${build.images.length} images`, COMMENT_MAX);

  let out;
  try {
    out = await callAws(`ssm:SendCommand ${instance.instanceId}`, () =>
      ssm.send(
        new SendCommandCommand({
          DocumentName: 'AWS-RunShellScript',
          InstanceIds: [instance.instanceId],
          Comment: comment,
          TimeoutSeconds: DELIVERY_TIMEOUT_SECONDS,
          Parameters: { commands, executionTimeout: [String(build.pull.commandTimeoutSeconds)] },
          // No CloudWatch output: the script's report fits GetCommandInvocation's 24,000 characters and
          // shipping logs would need a log group and more permissions on the builder's role.
        }),
      ),
    );
  } catch (error) {
    // Right after DescribeInstanceInformation reports Online, SendCommand can still answer InvalidInstanceId
    // while the agent finishes registering; the same request succeeds seconds later, so it is transient —
    // unless the builder is gone, which SSM reports the same way.
    if (awsErrorCode((error as Error).cause) === 'InvalidInstanceId') {
      await assertBuilderAlive(instance.instanceId, 'sending the pull command');
      throw new TransientAwsError(`ssm:SendCommand ${instance.instanceId}: the SSM agent is not ready for commands yet (InvalidInstanceId).`, {
        cause: error,
      });
    }
    throw error;
  }
  const commandId = out.Command?.CommandId;
  if (!commandId) throw new TransientAwsError(`ssm:SendCommand ${instance.instanceId} returned no command ID.`);
  return { commandId, sentAt: new Date().toISOString() };
};

/** Handler of the `SendPullCommand` state. */
export const handler = defineStage('send-pull-command', inputSchema, run);
