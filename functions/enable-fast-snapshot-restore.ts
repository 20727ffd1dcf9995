/**
 * State `EnableFastSnapshotRestore`: asks EC2 for Fast Snapshot Restore (FSR) on the build's completed snapshot in every
 * zone of `build.fastSnapshotRestore.availabilityZones`, after the builder was terminated and before the snapshot
 * becomes current. The loop `WaitForFastSnapshotRestore` -> `CheckFastSnapshotRestore` then waits for `enabled`.
 *
 * EnableFastSnapshotRestores answers 200 with a per-zone `Unsuccessful` list (EC2 API reference,
 * EnableFastSnapshotRestores and EnableFastSnapshotRestoreErrorItem): a refused zone -- the quota of FSR-enabled
 * snapshots per Region among the reasons -- is a failure here, as a thrown error is. The zones that were accepted then
 * bill until disabled: cleanup-build disables FSR on the unpublished snapshot before deleting it.
 *
 * Throws `FastSnapshotRestoreFailedError` (a zone refused; the message names each zone with EC2's code and message),
 * `TransientAwsError` (retryable), `AccessDeniedError`, `AwsRequestError`, `InvalidInputError`.
 */
import { EnableFastSnapshotRestoresCommand } from '@aws-sdk/client-ec2';
import * as z from './lib/zod-mini';
import { ec2 } from './lib/clients/ec2';
import { FastSnapshotRestoreFailedError, InvalidInputError, callAws } from './lib/errors';
import { FSR_POLL_SECONDS } from './lib/fast-snapshot-restore';
import { buildTargetSchema, snapshotSchema, type FastSnapshotRestoreStatus } from './lib/schemas';
import { defineStage } from './lib/stage';

const inputSchema = z.object({
  build: z.pick(buildTargetSchema, { fastSnapshotRestore: true }),
  snapshot: z.pick(snapshotSchema, { snapshotId: true }),
});
type Input = z.infer<typeof inputSchema>;

const run = async ({ build, snapshot }: Input): Promise<FastSnapshotRestoreStatus> => {
  const zones = build.fastSnapshotRestore?.availabilityZones;
  if (!zones?.length) throw new InvalidInputError('build.fastSnapshotRestore names no Availability Zone; the state machine runs this state only when it does');
  const { snapshotId } = snapshot;
  const out = await callAws(`ec2:EnableFastSnapshotRestores ${snapshotId} in ${zones.join(', ')}`, () =>
    ec2.send(new EnableFastSnapshotRestoresCommand({ SourceSnapshotIds: [snapshotId], AvailabilityZones: zones })),
  );
  const refused = (out.Unsuccessful ?? []).flatMap((item) =>
    (item.FastSnapshotRestoreStateErrors ?? []).map((e) => `${e.AvailabilityZone ?? '(zone not given)'}: ${e.Error?.Code ?? 'no code'}: ${e.Error?.Message ?? 'no message'}`),
  );
  if (refused.length > 0) {
    throw new FastSnapshotRestoreFailedError(
      `EC2 refused Fast Snapshot Restore on ${snapshotId} in ${refused.join('; ')}. ` +
        'A Region allows FSR on a limited number of snapshots at once (docs/consumers.md, "Fast Snapshot Restore"): disable it on snapshots that no longer need it, or ask for a quota increase.',
    );
  }
  const now = new Date().toISOString();
  const states = new Map((out.Successful ?? []).map((item) => [item.AvailabilityZone ?? '', item.State ?? 'enabling']));
  return {
    enabled: zones.every((zone) => states.get(zone) === 'enabled'),
    zones: zones.map((availabilityZone) => ({ availabilityZone, state: states.get(availabilityZone) ?? 'enabling' })),
    requestedAt: now,
    nextCheckSeconds: FSR_POLL_SECONDS.min,
    checkedAt: now,
  };
};

/** Handler of the `EnableFastSnapshotRestore` state. */
export const handler = defineStage('enable-fast-snapshot-restore', inputSchema, run);
