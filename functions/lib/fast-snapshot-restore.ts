/**
 * Fast Snapshot Restore (FSR): the setting, its time limit and what an execution must keep free for it.
 *
 * Facts from AWS's documentation, "Check the fast snapshot restore state for an Amazon EBS snapshot"
 * (https://docs.aws.amazon.com/ebs/latest/userguide/view-fsr-enabled-snapshots.html): per Availability Zone a
 * snapshot's FSR goes `enabling` -> `optimizing` -> `enabled` ("It takes 60 minutes per TiB to optimize a snapshot"),
 * and `disabling` -> `disabled`; a request to enable that fails also goes to `disabling`. Kept in a module without
 * side effects so infra/ and the simulation can read it without loading the deployed defaults.
 */
import * as z from './zod-mini';
import { BUILD_TASK_SECONDS, EVENTS_PER_POLL, HISTORY_EVENTS } from './execution-budget';

/** AWS's optimizing rate: 60 minutes per TiB (1,024 GiB). */
export const FSR_OPTIMIZING_SECONDS_PER_TIB = 3600;
/** Kept on top of the optimizing time for the `enabling` state and the last poll. */
export const FSR_LIMIT_MARGIN_SECONDS = 1800;
/** The check's shortest and longest wait between two polls (its result's `nextCheckSeconds`). */
export const FSR_POLL_SECONDS = { min: 30, max: 300 } as const;
/** FSR states in which the zone bills (every state but `disabled`; AWS bills per minute, at least an hour). */
export const FSR_ACTIVE_STATES = ['enabling', 'optimizing', 'enabled', 'disabling'] as const;
/** States a zone is being turned on in, or is on. */
export const FSR_ON_STATES = ['enabling', 'optimizing', 'enabled'] as const;

/** An Availability Zone name such as `us-west-2a` (FastRestoreRule's pattern, Data Lifecycle Manager API reference). */
export const availabilityZoneSchema = z.string().check(z.regex(/^([a-z]+-){2,3}\d[a-z]$/, 'expected an Availability Zone name such as us-west-2a'));

/**
 * The setting `fastSnapshotRestore` (deploy-time default, per recipe, execution input): the zones in which the new
 * snapshot gets FSR before it becomes current. An empty list turns FSR off where a default would turn it on.
 * At most 10 zones, as AWS's own FSR rules allow (FastRestoreRule.AvailabilityZones, DLM API reference).
 */
export const fastSnapshotRestoreSchema = z.strictObject({ availabilityZones: z.array(availabilityZoneSchema).check(z.maxLength(10)) }).check(
  z.superRefine((value, ctx) => {
    const duplicate = value.availabilityZones.find((zone, index) => value.availabilityZones.indexOf(zone) !== index);
    if (duplicate) ctx.addIssue({ code: 'custom', path: ['availabilityZones'], message: `lists ${duplicate} more than once` });
  }),
);
export type FastSnapshotRestoreSetting = z.infer<typeof fastSnapshotRestoreSchema>;

/** The limit `limits.fastSnapshotRestoreSeconds` accepts: from 5 minutes to 2 days (16 TiB take 16 hours at AWS's rate). */
export const fastSnapshotRestoreSecondsSchema = z.integer(z.gte(300), z.lte(172800));

/**
 * The default of `limits.fastSnapshotRestoreSeconds`: AWS's 60 minutes per TiB of the data volume, plus
 * {@link FSR_LIMIT_MARGIN_SECONDS}.
 *
 * @example defaultFastSnapshotRestoreSeconds(100) // 2152
 */
export const defaultFastSnapshotRestoreSeconds = (sizeGiB: number): number =>
  Math.ceil((sizeGiB * FSR_OPTIMIZING_SECONDS_PER_TIB) / 1024) + FSR_LIMIT_MARGIN_SECONDS;

/**
 * Seconds one build's FSR stage may add to an execution: its limit, one longest poll past it, and the enable and
 * check Tasks (each at most a function's timeout).
 */
export const fastSnapshotRestoreWorstCaseSeconds = (limitSeconds: number): number => limitSeconds + FSR_POLL_SECONDS.max + 2 * BUILD_TASK_SECONDS;

/**
 * History events one build's FSR stage may add: the Choice, EnableFastSnapshotRestore, and a poll every
 * {@link FSR_POLL_SECONDS.min} seconds at most until the limit.
 */
export const fastSnapshotRestoreWorstCaseEvents = (limitSeconds: number): number =>
  HISTORY_EVENTS.choice + HISTORY_EVENTS.task + (Math.floor(limitSeconds / FSR_POLL_SECONDS.min) + 2) * EVENTS_PER_POLL;
