/**
 * State `CheckSnapshot`: reports the data volume snapshot's state and progress (the Choice loops until completed), and
 * when to look next (`nextCheckSeconds`, the Wait's `SecondsPath`): when `Progress` and the time since the snapshot
 * started say it will be done (functions/lib/next-check.ts); 0 once completed. In the last 20 s that estimate
 * predicts it looks again itself every second, for up to a minute of its invocation (functions/lib/poll-inside.ts,
 * `INNER_POLL.snapshot`), before it returns to the Wait.
 *
 * Throws `SnapshotFailedError` (state `error`, with EC2's StateMessage), `SnapshotTimeoutError` (not completed within
 * `build.limits.snapshotSeconds` of `snapshot.startedAt`), `TransientAwsError` (retryable), `AccessDeniedError`,
 * `AwsRequestError` (including a snapshot that no longer exists).
 */
import { DescribeSnapshotsCommand } from '@aws-sdk/client-ec2';
import type { Context } from 'aws-lambda';
import * as z from './lib/zod-mini';
import { ec2 } from './lib/clients/ec2';
import { AwsRequestError, SnapshotFailedError, SnapshotTimeoutError, callAws } from './lib/errors';
import { nextCheckSeconds, snapshotRemainingSeconds, snapshotWakeSeconds } from './lib/next-check';
import { INNER_POLL, pollInside, type Due } from './lib/poll-inside';
import { buildTargetSchema, snapshotSchema } from './lib/schemas';
import { defineStage } from './lib/stage';

const inputSchema = z.object({
  build: z.object({ limits: buildTargetSchema.shape.limits }),
  snapshot: snapshotSchema,
});
type Input = z.infer<typeof inputSchema>;
type Output = { completed: boolean; state: string; progress: string; volumeSizeGiB: number; checkedAt: string; nextCheckSeconds: number };

const look = async ({ build, snapshot }: Input): Promise<Output & Due> => {
  const { snapshotId } = snapshot;
  const out = await callAws(`ec2:DescribeSnapshots ${snapshotId}`, () =>
    ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [snapshotId] })),
  );
  const found = out.Snapshots?.[0];
  if (!found) throw new AwsRequestError(`snapshot ${snapshotId} is not returned by DescribeSnapshots.`);
  const state = found.State ?? 'unknown';
  const progress = found.Progress ?? '0%';
  if (state === 'error') {
    throw new SnapshotFailedError(`snapshot ${snapshotId} of ${snapshot.volumeId} failed at ${progress}: ${(found.StateMessage ?? 'EC2 gave no reason').replace(/\.+$/, '')}.`);
  }
  const checkedAt = new Date();
  const result = { state, progress, volumeSizeGiB: found.VolumeSize ?? 0, checkedAt: checkedAt.toISOString() };
  if (state === 'completed') return { completed: true, ...result, nextCheckSeconds: 0 };

  const waitedMs = checkedAt.getTime() - Date.parse(snapshot.startedAt);
  const waitedSeconds = Math.floor(waitedMs / 1000);
  if (waitedSeconds > build.limits.snapshotSeconds) {
    throw new SnapshotTimeoutError(
      `snapshot ${snapshotId} is still ${state} at ${progress} after ${waitedSeconds} s; the limit is ${build.limits.snapshotSeconds} s (limits.snapshotSeconds raises it).`,
    );
  }
  const remaining = snapshotRemainingSeconds(progress, waitedMs / 1000);
  const next = nextCheckSeconds(snapshotWakeSeconds(remaining, INNER_POLL.snapshot.nearSeconds), waitedMs / 1000, build.limits.snapshotSeconds);
  return { completed: false, ...result, nextCheckSeconds: next, dueInSeconds: remaining };
};

const run = async (input: Input, context?: Context): Promise<Output> => pollInside(() => look(input), INNER_POLL.snapshot, context);

/** Handler of the `CheckSnapshot` state. */
export const handler = defineStage('check-snapshot', inputSchema, run);
