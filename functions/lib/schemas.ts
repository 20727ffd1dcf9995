/**
 * Data that flows between the states of one per-architecture build (one Map iteration).
 *
 * `prepare-build` turns the execution input into a {@link BuildTarget} per iteration; every later stage
 * receives the pieces it needs (see `statemachine/snapshot-factory.asl.json`, each Task's `Parameters`)
 * and returns one piece, stored by the Task's `ResultPath`. Timestamps are ISO-8601 strings.
 *
 * zod/mini schemas (./zod-mini.ts), so no function bundle carries classic zod: a stage narrows them with
 * `z.pick(schema, {...})` and wraps them with `z.optional(...)`, not with methods.
 */
import * as z from './zod-mini';
import { availabilityZoneSchema } from './fast-snapshot-restore';
import { MAX_COPY_REGIONS, copySchema } from './snapshot-copies';
import { ARCHITECTURES } from './architectures';

export { ARCHITECTURES, MAX_IMAGES, PLATFORM_OF, type Architecture } from './architectures';
export const architectureSchema = z.enum(ARCHITECTURES);

const isoTimestamp = z.string().check(z.minLength(1));

/**
 * One image to pull; `digest` is the manifest digest (an index for a multi-platform image) resolved by
 * `prepare-build`. `platformDigests` holds, per platform, the platform's manifest digest where it differs from
 * `digest` (so a single-platform or pinned image carries no second copy of it).
 */
export const imageSchema = z.object({
  reference: z.string().check(z.minLength(1)),
  digest: z.optional(z.string()),
  platformDigests: z.optional(z.record(z.string(), z.string())),
});
export type Image = z.infer<typeof imageSchema>;

/** Everything one builder instance needs; produced by `prepare-build`, one per Map iteration. */
export const buildTargetSchema = z.object({
  /** Step Functions execution name: tags every resource so cleanup and the reaper can find it. */
  executionName: z.string().check(z.minLength(1), z.maxLength(80)),
  /** Recipe (lineage of snapshots) this build belongs to. */
  recipe: z.string().check(z.minLength(1), z.maxLength(128)),
  /** Architecture of the builder instance and its AMI. */
  architecture: architectureSchema,
  /** containerd platforms pulled on this instance: one for per-architecture builds, several for the combined layout. */
  platforms: z.array(z.string().check(z.regex(/^linux\/(amd64|arm64)$/))).check(z.minLength(1)),
  images: z.array(imageSchema).check(z.minLength(1)),
  /** SSM parameter holding the Bottlerocket AMI ID for `architecture`. */
  amiParameter: z.string().check(z.startsWith('/')),
  /** Tried in order while EC2 reports no capacity or an unsupported type. */
  instanceTypes: z.array(z.string().check(z.minLength(1))).check(z.minLength(1)),
  instanceProfileName: z.string().check(z.minLength(1)),
  /** Subnets tried in order while EC2 reports no capacity; empty: the default VPC. */
  subnetIds: z._default(z.array(z.string()), []),
  securityGroupIds: z._default(z.array(z.string()), []),
  associatePublicIp: z.boolean(),
  osVolume: z.object({ sizeGiB: z.integer(z.gte(2)) }),
  dataVolume: z.object({
    sizeGiB: z.integer(z.gte(1), z.lte(16384)),
    iops: z.integer(z.gte(3000), z.lte(80000)),
    throughputMiBps: z.integer(z.gte(125), z.lte(2000)),
    encrypted: z.boolean(),
    kmsKeyArn: z.optional(z.string()),
  }),
  pull: z.object({
    /** (image, platform) pulls run at once on the instance. */
    concurrency: z.integer(z.gte(1), z.lte(32)),
    /** SSM Run Command execution timeout for the whole pull script. */
    commandTimeoutSeconds: z.integer(z.gte(30), z.lte(172800)),
  }),
  /** Time limits of the workflow's waits, in seconds. */
  limits: z.object({
    ssmOnlineSeconds: z.integer(z.positive()),
    pullSeconds: z.integer(z.positive()),
    stopSeconds: z.integer(z.positive()),
    snapshotSeconds: z.integer(z.positive()),
    /** Set by prepare-build when the build has {@link BuildTarget.fastSnapshotRestore}. */
    fastSnapshotRestoreSeconds: z.optional(z.integer(z.positive())),
    /** Set by prepare-build when the build has {@link BuildTarget.copies}. */
    copySeconds: z.optional(z.integer(z.positive())),
  }),
  /**
   * Fast Snapshot Restore of the new snapshot, in these zones, before it becomes current (functions/lib/fast-snapshot-restore.ts).
   * Absent: no FSR.
   */
  fastSnapshotRestore: z.optional(z.object({ availabilityZones: z.array(availabilityZoneSchema).check(z.minLength(1), z.maxLength(10)) })),
  /** Regions the completed snapshot is copied to before it is published (functions/lib/snapshot-copies.ts). Absent: none. */
  copies: z.optional(z.array(copySchema).check(z.minLength(1), z.maxLength(MAX_COPY_REGIONS))),
  /** Extra tags the user asked for, applied next to the factory's own. */
  tags: z._default(z.record(z.string(), z.string()), {}),
  /** Hash of the per-platform digests this build pulls (functions/lib/current-snapshot.ts); set by the freshness check. */
  digestSet: z.optional(z.string()),
  /**
   * Each image's manifest digest per platform of this build, as the freshness check (functions/lib/freshness.ts)
   * returns it; prepare-build folds it into `images[].platformDigests` and leaves it out of the plan.
   */
  platformDigests: z.optional(z.array(z.object({ reference: z.string(), platform: z.string(), digest: z.string() }))),
});
export type BuildTarget = z.infer<typeof buildTargetSchema>;

/**
 * A build as the plan carries it: the images are not repeated per build but held once in the plan's
 * `common.images`; the Map's ItemSelector merges them back (`States.JsonMerge`), so each iteration's `build` is a
 * whole {@link BuildTarget}. docs/architecture.md ("Payload budget") says why.
 */
export const plannedBuildSchema = z.omit(buildTargetSchema, { images: true, platformDigests: true });
export type PlannedBuild = z.infer<typeof plannedBuildSchema>;

/** What every build of a plan shares; merged into each Map iteration's `build`. */
export const planCommonSchema = z.object({ images: z.array(imageSchema).check(z.minLength(1)) });
export type PlanCommon = z.infer<typeof planCommonSchema>;

/** The manifest digest of `image` for `platform`: its own when it differs from the image's, else the image's. */
export const digestForPlatform = (image: Image, platform: string): string | undefined => image.platformDigests?.[platform] ?? image.digest;

/** Output of `launch-instance`, stored at `$.instance`. */
export const instanceSchema = z.object({
  instanceId: z.string().check(z.startsWith('i-')),
  instanceType: z.string(),
  amiId: z.string().check(z.startsWith('ami-')),
  launchedAt: isoTimestamp,
});
export type LaunchedInstance = z.infer<typeof instanceSchema>;

/** Output of `check-ssm-agent`, stored at `$.ssm`. */
export const ssmAgentStatusSchema = z.object({
  online: z.boolean(),
  pingStatus: z.string(),
  checkedAt: isoTimestamp,
  nextCheckSeconds: z.integer(z.nonnegative()),
});

/** Output of `send-pull-command`, stored at `$.pull`. */
export const pullCommandSchema = z.object({
  commandId: z.string().check(z.minLength(1)),
  sentAt: isoTimestamp,
});
export type PullCommand = z.infer<typeof pullCommandSchema>;

/** One pulled image as reported by the pull script and parsed by `check-pull-command`. */
export const pulledImageSchema = z.object({
  reference: z.string(),
  platform: z.string(),
  digest: z.string(),
  sizeBytes: z.integer(z.nonnegative()),
});
export type PulledImage = z.infer<typeof pulledImageSchema>;

/**
 * Output of `check-pull-command`, stored at `$.pullStatus`. Once `done`, every image x platform of the build was
 * pulled with the digest the plan holds (check-pull-command fails otherwise, a report SSM cut short included), so
 * the list itself stays in the plan and `pulled`/`images` only count what the report listed.
 */
export const pullStatusSchema = z.object({
  done: z.boolean(),
  status: z.string(),
  /** Image x platform pulls the report listed as verified, one by one (0 until done). */
  pulled: z.integer(z.nonnegative()),
  /** Images the report listed as verified on every platform of the build (0 until done). */
  images: z.integer(z.nonnegative()),
  /** Bytes used on the data volume after the pulls and their verification (0 until done). */
  dataVolumeUsedBytes: z.integer(z.nonnegative()),
  checkedAt: isoTimestamp,
  /** When the loop's Wait looks again (functions/lib/next-check.ts); 0 once done. */
  nextCheckSeconds: z.integer(z.nonnegative()),
});

/** Output of `stop-instance`, stored at `$.stop`. */
export const stopRequestSchema = z.object({ stopRequestedAt: isoTimestamp });

/** Output of `check-instance-stopped`, stored at `$.stopStatus`. */
export const stopStatusSchema = z.object({ stopped: z.boolean(), state: z.string(), checkedAt: isoTimestamp, nextCheckSeconds: z.integer(z.nonnegative()) });

/** Output of `create-snapshot`, stored at `$.snapshot`. */
export const snapshotSchema = z.object({
  snapshotId: z.string().check(z.startsWith('snap-')),
  volumeId: z.string().check(z.startsWith('vol-')),
  startedAt: isoTimestamp,
});
export type CreatedSnapshot = z.infer<typeof snapshotSchema>;

/** Output of `check-snapshot`, stored at `$.snapshotStatus`. */
export const snapshotStatusSchema = z.object({
  completed: z.boolean(),
  state: z.string(),
  progress: z.string(),
  volumeSizeGiB: z.integer(),
  checkedAt: isoTimestamp,
  nextCheckSeconds: z.integer(z.nonnegative()),
});

/** Output of `enable-fast-snapshot-restore` and `check-fast-snapshot-restore`, stored at `$.fastSnapshotRestoreStatus`. */
export const fastSnapshotRestoreStatusSchema = z.object({
  /** True once every zone of the build is `enabled`. */
  enabled: z.boolean(),
  /** Each zone's FSR state as DescribeFastSnapshotRestores reports it. */
  zones: z.array(z.object({ availabilityZone: z.string(), state: z.string() })),
  /** When FSR was asked for (EnableFastSnapshotRestores): the limit counts from it. */
  requestedAt: isoTimestamp,
  /** Seconds the next Wait lasts (its SecondsPath). */
  nextCheckSeconds: z.integer(z.nonnegative()),
  checkedAt: isoTimestamp,
});
export type FastSnapshotRestoreStatus = z.infer<typeof fastSnapshotRestoreStatusSchema>;

/** What a Catch stores at `$.error`. */
export const caughtErrorSchema = z.object({ Error: z.string(), Cause: z.optional(z.string()) });
