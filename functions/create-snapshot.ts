/**
 * State `CreateSnapshot`: snapshots the stopped builder's data volume (`/dev/xvdb`), tagged with the factory's tags.
 *
 * The description always fits EC2's 255 characters and tag values 256, however long the image list: both name as many
 * whole images as fit and then `(+N more)`; the full list is in the execution output and the published parameter.
 * The images are the plan's (`build.images`, with their resolved digests): check-pull-command has verified that the
 * builder pulled exactly those before the instance was stopped. The image-count tag is the count check-pull-command
 * read, line by line, from the pull report (`pullStatus.images`), and it must equal the plan's: a count that does not
 * add up is refused (`PullFailedError`) rather than written on a snapshot consumers trust.
 * A retried call adopts the snapshot the first attempt started instead of starting a second one.
 *
 * Throws `PullFailedError` (the verified counts do not match the plan), `DataVolumeNotFoundError` (no volume attached at `/dev/xvdb`), `InstanceLostError` (the instance is gone),
 * `TransientAwsError` (retryable), `AccessDeniedError`, `AwsRequestError`.
 */
import { CreateSnapshotCommand } from '@aws-sdk/client-ec2';
import { DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import { DescribeSnapshotsCommand } from '@aws-sdk/client-ec2';
import * as z from './lib/zod-mini';
import { ec2 } from './lib/clients/ec2';
import { AwsRequestError, DataVolumeNotFoundError, InstanceLostError, PullFailedError, awsErrorCode, callAws } from './lib/errors';
import { logger } from './lib/logger';
import { buildTargetSchema, instanceSchema, pullStatusSchema, type BuildTarget, type CreatedSnapshot } from './lib/schemas';
import { defineStage } from './lib/stage';
import { EC2_TAG_LIMITS, TAG_EXECUTION, factoryTags, summarizeList, type Tag } from './lib/tags';

export const DATA_DEVICE = '/dev/xvdb';
export const SNAPSHOT_DESCRIPTION_LIMIT = 255;
export const TAG_IMAGES = 'snapshot-factory:images';
export const TAG_IMAGE_COUNT = 'snapshot-factory:image-count';

const inputSchema = z.object({
  build: buildTargetSchema,
  instance: instanceSchema,
  pullStatus: z.pick(pullStatusSchema, { done: true, pulled: true, images: true }),
});
type Input = z.infer<typeof inputSchema>;

/** `reference@digest` of each image (platforms share the reference); a reference pinned by digest stays as it is. */
export const imageList = (build: Pick<BuildTarget, 'images'>): string[] =>
  build.images.map((image) => (image.digest && !image.reference.includes('@') ? `${image.reference}@${image.digest}` : image.reference));

export const snapshotDescription = (build: Pick<BuildTarget, 'recipe' | 'architecture'>, images: string[]): string => {
  const head = `Bottlerocket image cache ${build.recipe}/${build.architecture}: `;
  return head + summarizeList(images, SNAPSHOT_DESCRIPTION_LIMIT - head.length);
};

/**
 * The images the snapshot holds, once the pull's verified counts agree with the plan.
 *
 * @throws PullFailedError when check-pull-command did not verify every image on every platform.
 */
export const verifiedImageList = (build: Pick<BuildTarget, 'images' | 'platforms'>, verified: { done: boolean; pulled: number; images: number }): string[] => {
  const images = imageList(build);
  const pulls = images.length * build.platforms.length;
  if (!verified.done || verified.images !== images.length || verified.pulled !== pulls) {
    throw new PullFailedError(
      `the pull report verified ${verified.images} of ${images.length} images (${verified.pulled} of ${pulls} pulls); the snapshot would not hold what its tags say.`,
    );
  }
  return images;
};

/** The snapshot's tags; `images` is the verified list ({@link verifiedImageList}), so its length is the verified count. */
export const snapshotTags = (build: BuildTarget, images: string[]): Tag[] => {
  const own = factoryTags(build, `snapshot-factory-${build.recipe}-${build.architecture}`);
  const extra = [
    { Key: TAG_IMAGE_COUNT, Value: String(images.length) },
    { Key: TAG_IMAGES, Value: summarizeList(images, EC2_TAG_LIMITS.maxValueLength) },
  ].filter((tag) => !own.some((t) => t.Key === tag.Key));
  // The factory's own tags come first and always survive the 50-tag limit.
  return [...own.slice(0, 4), ...extra, ...own.slice(4)].slice(0, EC2_TAG_LIMITS.maxTags);
};

const dataVolumeOf = async (instanceId: string): Promise<string> => {
  let mappings;
  try {
    const out = await callAws(`ec2:DescribeInstances ${instanceId}`, () => ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] })));
    const instance = out.Reservations?.[0]?.Instances?.[0];
    if (instance?.State?.Name === 'terminated' || instance?.State?.Name === 'shutting-down') {
      throw new InstanceLostError(`builder ${instanceId} is ${instance.State.Name}; its data volume is gone.`);
    }
    mappings = instance?.BlockDeviceMappings ?? [];
  } catch (error) {
    if (awsErrorCode((error as Error).cause) === 'InvalidInstanceID.NotFound') {
      throw new InstanceLostError(`builder ${instanceId} no longer exists.`, { cause: error });
    }
    throw error;
  }
  const volumeId = mappings.find((m) => m.DeviceName === DATA_DEVICE)?.Ebs?.VolumeId;
  if (!volumeId) {
    const devices = mappings.map((m) => m.DeviceName).join(', ') || 'none';
    throw new DataVolumeNotFoundError(`builder ${instanceId} has no volume attached at ${DATA_DEVICE} (attached: ${devices}).`);
  }
  return volumeId;
};

const existingSnapshot = async (build: BuildTarget, volumeId: string): Promise<CreatedSnapshot | undefined> => {
  const out = await callAws(`ec2:DescribeSnapshots of ${volumeId}`, () =>
    ec2.send(
      new DescribeSnapshotsCommand({
        OwnerIds: ['self'],
        Filters: [
          { Name: 'volume-id', Values: [volumeId] },
          { Name: `tag:${TAG_EXECUTION}`, Values: [build.executionName] },
          { Name: 'status', Values: ['pending', 'completed'] },
        ],
      }),
    ),
  );
  const found = out.Snapshots?.[0];
  if (!found?.SnapshotId) return undefined;
  return { snapshotId: found.SnapshotId, volumeId, startedAt: (found.StartTime ?? new Date()).toISOString() };
};

const run = async ({ build, instance, pullStatus }: Input): Promise<CreatedSnapshot> => {
  const images = verifiedImageList(build, pullStatus);
  const volumeId = await dataVolumeOf(instance.instanceId);
  const adopted = await existingSnapshot(build, volumeId);
  if (adopted) {
    logger.info('adopting the snapshot this execution already started', { ...adopted });
    return adopted;
  }
  const out = await callAws(`ec2:CreateSnapshot ${volumeId}`, () =>
    ec2.send(
      new CreateSnapshotCommand({
        VolumeId: volumeId,
        Description: snapshotDescription(build, images),
        TagSpecifications: [{ ResourceType: 'snapshot', Tags: snapshotTags(build, images) }],
      }),
    ),
  );
  if (!out.SnapshotId) throw new AwsRequestError(`CreateSnapshot of ${volumeId} returned no snapshot ID.`);
  logger.info('snapshot started', { snapshotId: out.SnapshotId, volumeId });
  return { snapshotId: out.SnapshotId, volumeId, startedAt: (out.StartTime ?? new Date()).toISOString() };
};

/** Handler of the `CreateSnapshot` state. */
export const handler = defineStage('create-snapshot', inputSchema, run);
