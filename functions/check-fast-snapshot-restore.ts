/**
 * State `CheckFastSnapshotRestore`: reports the Fast Snapshot Restore state of the build's snapshot in each of its
 * zones (DescribeFastSnapshotRestores, filter `snapshot-id`); the Choice `FastSnapshotRestoreEnabled` loops through
 * `WaitForFastSnapshotRestore` until every zone is `enabled`, waiting `nextCheckSeconds` (the Wait's SecondsPath).
 *
 * `nextCheckSeconds` follows AWS's optimizing rate, 60 minutes per TiB ("Check the fast snapshot restore state",
 * Amazon EBS User Guide): the time left until the slowest optimizing zone should be done, between 30 and 300 s.
 *
 * Throws `FastSnapshotRestoreFailedError` (a zone went to `disabling` or `disabled`, which is where a failed enable
 * goes, or is no longer listed; the message names the zone and EC2's StateTransitionReason),
 * `FastSnapshotRestoreTimeoutError` (not `enabled` everywhere within `build.limits.fastSnapshotRestoreSeconds` of
 * `requestedAt`), `TransientAwsError` (retryable), `AccessDeniedError`, `AwsRequestError`, `InvalidInputError`.
 */
import { DescribeFastSnapshotRestoresCommand, type DescribeFastSnapshotRestoreSuccessItem } from '@aws-sdk/client-ec2';
import * as z from './lib/zod-mini';
import { ec2 } from './lib/clients/ec2';
import { FastSnapshotRestoreFailedError, FastSnapshotRestoreTimeoutError, InvalidInputError, callAws } from './lib/errors';
import { FSR_OPTIMIZING_SECONDS_PER_TIB, FSR_POLL_SECONDS, defaultFastSnapshotRestoreSeconds } from './lib/fast-snapshot-restore';
import { buildTargetSchema, fastSnapshotRestoreStatusSchema, snapshotSchema, type FastSnapshotRestoreStatus } from './lib/schemas';
import { defineStage } from './lib/stage';

/** DescribeFastSnapshotRestores is eventually consistent: a zone just accepted may be missing for a short while. */
export const LISTING_GRACE_SECONDS = 120;

const inputSchema = z.object({
  build: z.object({ limits: buildTargetSchema.shape.limits, fastSnapshotRestore: buildTargetSchema.shape.fastSnapshotRestore }),
  snapshot: z.pick(snapshotSchema, { snapshotId: true }),
  snapshotStatus: z.looseObject({ volumeSizeGiB: z.integer(z.nonnegative()) }),
  fastSnapshotRestoreStatus: fastSnapshotRestoreStatusSchema,
});
type Input = z.infer<typeof inputSchema>;

const run = async ({ build, snapshot, snapshotStatus, fastSnapshotRestoreStatus }: Input): Promise<FastSnapshotRestoreStatus> => {
  const zones = build.fastSnapshotRestore?.availabilityZones;
  if (!zones?.length) throw new InvalidInputError('build.fastSnapshotRestore names no Availability Zone; the state machine runs this state only when it does');
  const { snapshotId } = snapshot;
  const listed = new Map<string, DescribeFastSnapshotRestoreSuccessItem>();
  let nextToken: string | undefined;
  do {
    const out = await callAws(`ec2:DescribeFastSnapshotRestores ${snapshotId}`, () =>
      ec2.send(new DescribeFastSnapshotRestoresCommand({ Filters: [{ Name: 'snapshot-id', Values: [snapshotId] }], NextToken: nextToken })),
    );
    for (const item of out.FastSnapshotRestores ?? []) if (item.AvailabilityZone) listed.set(item.AvailabilityZone, item);
    nextToken = out.NextToken;
  } while (nextToken);

  const now = new Date();
  const waited = Math.floor((now.getTime() - Date.parse(fastSnapshotRestoreStatus.requestedAt)) / 1000);
  const states = zones.map((availabilityZone) => ({ availabilityZone, state: listed.get(availabilityZone)?.State ?? (waited <= LISTING_GRACE_SECONDS ? 'enabling' : 'disabled') }));
  const lost = states.filter((zone) => zone.state === 'disabling' || zone.state === 'disabled');
  if (lost.length > 0) {
    const reasons = lost.map((zone) => `${zone.availabilityZone} is ${zone.state} (${listed.get(zone.availabilityZone)?.StateTransitionReason ?? 'no longer listed by DescribeFastSnapshotRestores'})`);
    throw new FastSnapshotRestoreFailedError(`Fast Snapshot Restore on ${snapshotId} stopped before it was enabled: ${reasons.join('; ')}.`);
  }
  const enabled = states.every((zone) => zone.state === 'enabled');
  const limit = build.limits.fastSnapshotRestoreSeconds ?? defaultFastSnapshotRestoreSeconds(snapshotStatus.volumeSizeGiB);
  if (!enabled && waited > limit) {
    throw new FastSnapshotRestoreTimeoutError(
      `Fast Snapshot Restore on ${snapshotId} is not enabled everywhere after ${waited} s (${states.map((z) => `${z.availabilityZone} ${z.state}`).join(', ')}); ` +
        `the limit is ${limit} s (limits.fastSnapshotRestoreSeconds raises it; AWS takes about 60 minutes per TiB).`,
    );
  }
  return {
    enabled,
    zones: states,
    requestedAt: fastSnapshotRestoreStatus.requestedAt,
    nextCheckSeconds: enabled ? 0 : nextWaitSeconds(states, listed, snapshotStatus.volumeSizeGiB, now, limit - waited),
    checkedAt: now.toISOString(),
  };
};

/** Until the slowest zone should be optimized at AWS's rate, clamped to the poll bounds and to the time left. */
const nextWaitSeconds = (
  states: { availabilityZone: string; state: string }[],
  listed: Map<string, DescribeFastSnapshotRestoreSuccessItem>,
  volumeSizeGiB: number,
  now: Date,
  secondsLeft: number,
): number => {
  const optimizingSeconds = Math.ceil((volumeSizeGiB * FSR_OPTIMIZING_SECONDS_PER_TIB) / 1024);
  const remaining = states.map(({ availabilityZone, state }) => {
    const since = listed.get(availabilityZone)?.OptimizingTime;
    if (state !== 'optimizing' || !since) return FSR_POLL_SECONDS.min;
    return Math.ceil((since.getTime() + optimizingSeconds * 1000 - now.getTime()) / 1000);
  });
  const wanted = Math.min(FSR_POLL_SECONDS.max, Math.max(FSR_POLL_SECONDS.min, ...remaining));
  // One poll past the limit is enough to report the timeout.
  return Math.max(FSR_POLL_SECONDS.min, Math.min(wanted, secondsLeft + 1));
};

/** Handler of the `CheckFastSnapshotRestore` state. */
export const handler = defineStage('check-fast-snapshot-restore', inputSchema, run);
