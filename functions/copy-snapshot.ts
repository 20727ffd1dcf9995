/**
 * State `CopySnapshot`: after Fast Snapshot Restore (if any) and before the snapshot is published, copies the build's
 * completed snapshot into every region of `build.copies`. Each CopySnapshot goes to the destination region's
 * endpoint (functions/lib/regional-clients.ts) with `SourceRegion` the function's own; the copy is encrypted with
 * the copy's `kmsKeyArn` or, when none is named, that region's `aws/ebs` key (a copy of an encrypted snapshot must
 * be encrypted; a KMS key serves only its own region). EC2 copies no tags ("Copy an Amazon EBS snapshot", EBS User
 * Guide), so the request tags the copy with exactly the source's tags: the factory's own (managed, recipe,
 * architecture, execution), which retention, cleanup and the reaper select by, and the user's.
 *
 * A retried invocation copies only what is missing: a copy of this build already in a region (found by the
 * execution and architecture tags) is reused, unless it failed.
 *
 * Returns the copies' status (stored at `$.copiesStatus`); the loop `CheckSnapshotCopies` -> `SnapshotCopiesCompleted`
 * -> `WaitForSnapshotCopies` waits for `completed` everywhere.
 *
 * Throws `TransientAwsError` (retryable: throttling, a 5xx, and `ResourceLimitExceeded`: AWS allows 20 copies at once
 * per destination region, and copies in flight free their slots), `SnapshotCopyFailedError` (EC2 refused the copy
 * for another reason; the message names the region and EC2's code), `AccessDeniedError`, `AwsRequestError`,
 * `InvalidInputError`.
 */
import { CopySnapshotCommand, DescribeSnapshotsCommand, type Snapshot, type Tag } from '@aws-sdk/client-ec2';
import * as z from './lib/zod-mini';
import { ec2 } from './lib/clients/ec2';
import { AwsRequestError, InvalidInputError, SnapshotCopyFailedError, TransientAwsError, awsErrorCode, callAws, toFactoryError } from './lib/errors';
import { SNAPSHOT_FIRST_SAMPLE_SECONDS } from './lib/next-check';
import { homeRegion } from './lib/regional-clients';
import { ec2In } from './lib/regional/ec2';
import { buildTargetSchema, snapshotSchema } from './lib/schemas';
import type { CopiesStatus, SnapshotCopySetting } from './lib/snapshot-copies';
import { defineStage } from './lib/stage';
import { TAG_ARCHITECTURE, TAG_EXECUTION } from './lib/tags';

const inputSchema = z.object({
  build: z.pick(buildTargetSchema, { executionName: true, architecture: true, copies: true }),
  snapshot: z.pick(snapshotSchema, { snapshotId: true }),
});
type Input = z.infer<typeof inputSchema>;

const run = async ({ build, snapshot }: Input): Promise<CopiesStatus> => {
  const copies = build.copies;
  if (!copies?.length) throw new InvalidInputError('build.copies names no region; the state machine runs this state only when it does');
  const { snapshotId } = snapshot;
  const source = await callAws(`ec2:DescribeSnapshots ${snapshotId}`, () => ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [snapshotId] })));
  const found = source.Snapshots?.[0];
  if (!found) throw new AwsRequestError(`snapshot ${snapshotId} is not returned by DescribeSnapshots.`);
  const results: CopiesStatus['copies'] = [];
  for (const copy of copies) results.push(await copyInto(copy, found, build));
  const now = new Date().toISOString();
  return { completed: results.every((c) => c.state === 'completed'), copies: results, requestedAt: now, nextCheckSeconds: SNAPSHOT_FIRST_SAMPLE_SECONDS, checkedAt: now };
};

const copyInto = async (copy: SnapshotCopySetting, source: Snapshot, build: Input['build']): Promise<CopiesStatus['copies'][number]> => {
  const { region } = copy;
  const regional = ec2In(region);
  const earlier = await callAws(`ec2:DescribeSnapshots in ${region} (copies of ${source.SnapshotId})`, () =>
    regional.send(
      new DescribeSnapshotsCommand({
        OwnerIds: ['self'],
        Filters: [
          { Name: `tag:${TAG_EXECUTION}`, Values: [build.executionName] },
          { Name: `tag:${TAG_ARCHITECTURE}`, Values: [build.architecture] },
        ],
      }),
    ),
  );
  const reusable = (earlier.Snapshots ?? []).find((s) => s.State !== 'error');
  if (reusable?.SnapshotId) return { region, snapshotId: reusable.SnapshotId, state: reusable.State ?? 'pending', progress: reusable.Progress ?? '0%' };

  const tags: Tag[] = (source.Tags ?? []).filter((t) => t.Key !== undefined).map((t) => ({ Key: t.Key, Value: t.Value ?? '' }));
  try {
    const out = await regional.send(
      new CopySnapshotCommand({
        SourceRegion: homeRegion(),
        SourceSnapshotId: source.SnapshotId,
        Description: source.Description,
        Encrypted: true,
        ...(copy.kmsKeyArn ? { KmsKeyId: copy.kmsKeyArn } : {}),
        TagSpecifications: [{ ResourceType: 'snapshot', Tags: tags }],
      }),
    );
    if (!out.SnapshotId) throw new AwsRequestError(`ec2:CopySnapshot of ${source.SnapshotId} to ${region} returned no SnapshotId.`);
    return { region, snapshotId: out.SnapshotId, state: 'pending', progress: '0%' };
  } catch (error) {
    if (error instanceof AwsRequestError) throw error;
    const code = awsErrorCode(error);
    const action = `ec2:CopySnapshot ${source.SnapshotId} to ${region}`;
    if (code === 'ResourceLimitExceeded') {
      throw new TransientAwsError(`${action} failed: ResourceLimitExceeded: ${region} already has 20 snapshot copies in flight (AWS's quota per destination region); retried as they finish`, { cause: error });
    }
    // Throttling, a 5xx and access denied keep their own names; any other refusal is the copy failing.
    const translated = toFactoryError(error, action);
    if (!(translated instanceof AwsRequestError)) throw translated;
    throw new SnapshotCopyFailedError(`${action} was refused: ${code}: ${(error as Error).message}`, { cause: error });
  }
};

/** Handler of the `CopySnapshot` state. */
export const handler = defineStage('copy-snapshot', inputSchema, run);
