/**
 * State `CheckSnapshotCopies`: reports the state of each cross-region copy of the build's snapshot (DescribeSnapshots
 * in the copy's region); the Choice `SnapshotCopiesCompleted` loops through `WaitForSnapshotCopies` until every copy
 * is `completed`, waiting `nextCheckSeconds` (the Wait's SecondsPath): until the slowest copy should be done, read
 * from its `Progress` as CheckSnapshot reads the snapshot's (functions/lib/next-check.ts).
 *
 * Throws `SnapshotCopyFailedError` (a copy went to `error`, with EC2's StateMessage, or is no longer listed after
 * {@link LISTING_GRACE_SECONDS}), `SnapshotCopyTimeoutError` (not every copy `completed` within
 * `build.limits.copySeconds` of `copiesStatus.requestedAt`), `TransientAwsError` (retryable), `AccessDeniedError`,
 * `AwsRequestError`, `InvalidInputError`.
 */
import { DescribeSnapshotsCommand } from '@aws-sdk/client-ec2';
import * as z from './lib/zod-mini';
import { InvalidInputError, SnapshotCopyFailedError, SnapshotCopyTimeoutError, awsErrorCode, callAws } from './lib/errors';
import { nextCheckSeconds, snapshotRemainingSeconds } from './lib/next-check';
import { ec2In } from './lib/regional/ec2';
import { buildTargetSchema } from './lib/schemas';
import { DEFAULT_COPY_SECONDS, copiesStatusSchema, type CopiesStatus } from './lib/snapshot-copies';
import { defineStage } from './lib/stage';

/** DescribeSnapshots is eventually consistent: a copy just requested may be missing for a short while. */
export const LISTING_GRACE_SECONDS = 120;

const inputSchema = z.object({
  build: z.object({ limits: buildTargetSchema.shape.limits }),
  copiesStatus: copiesStatusSchema,
});
type Input = z.infer<typeof inputSchema>;

const run = async ({ build, copiesStatus }: Input): Promise<CopiesStatus> => {
  if (copiesStatus.copies.length === 0) throw new InvalidInputError('copiesStatus lists no copy; the state machine runs this state only after CopySnapshot');
  const now = new Date();
  const waitedSeconds = (now.getTime() - Date.parse(copiesStatus.requestedAt)) / 1000;
  const copies: CopiesStatus['copies'] = [];
  for (const copy of copiesStatus.copies) {
    const out = await callAws(`ec2:DescribeSnapshots ${copy.snapshotId} in ${copy.region}`, () =>
      ec2In(copy.region).send(new DescribeSnapshotsCommand({ SnapshotIds: [copy.snapshotId] })),
    ).catch((error: Error) => {
      if (awsErrorCode((error as { cause?: unknown }).cause) === 'InvalidSnapshot.NotFound') return { Snapshots: [] };
      throw error;
    });
    const found = out.Snapshots?.[0];
    if (!found) {
      if (waitedSeconds <= LISTING_GRACE_SECONDS) {
        copies.push({ ...copy, state: 'pending' });
        continue;
      }
      throw new SnapshotCopyFailedError(`copy ${copy.snapshotId} in ${copy.region} no longer exists (deleted outside the factory?).`);
    }
    const state = found.State ?? 'unknown';
    const progress = found.Progress ?? '0%';
    if (state === 'error') {
      throw new SnapshotCopyFailedError(`copy ${copy.snapshotId} in ${copy.region} failed at ${progress}: ${(found.StateMessage ?? 'EC2 gave no reason').replace(/\.+$/, '')}.`);
    }
    copies.push({ region: copy.region, snapshotId: copy.snapshotId, state, progress });
  }
  const completed = copies.every((c) => c.state === 'completed');
  const limit = build.limits.copySeconds ?? DEFAULT_COPY_SECONDS;
  if (!completed && waitedSeconds > limit) {
    throw new SnapshotCopyTimeoutError(
      `copies not completed after ${Math.floor(waitedSeconds)} s (${copies.filter((c) => c.state !== 'completed').map((c) => `${c.region} ${c.snapshotId} ${c.state} at ${c.progress}`).join(', ')}); ` +
        `the limit is ${limit} s (limits.copySeconds raises it).`,
    );
  }
  const slowest = Math.max(0, ...copies.filter((c) => c.state !== 'completed').map((c) => snapshotRemainingSeconds(c.progress, waitedSeconds)));
  return {
    completed,
    copies,
    requestedAt: copiesStatus.requestedAt,
    nextCheckSeconds: completed ? 0 : nextCheckSeconds(slowest, waitedSeconds, limit),
    checkedAt: now.toISOString(),
  };
};

/** Handler of the `CheckSnapshotCopies` state. */
export const handler = defineStage('check-snapshot-copies', inputSchema, run);
