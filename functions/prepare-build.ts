/**
 * State `PrepareBuild`: the first state. Validates the execution input, fills every setting from the
 * execution input, then the deployed defaults (`FACTORY_DEFAULTS`), then the built-in defaults, and plans one
 * {@link BuildTarget} per builder instance: one per architecture, or one for the `combined` layout. Then resolves
 * every image's digests and compares them with the recipe's current snapshot (functions/lib/freshness.ts):
 * status `UP_TO_DATE` makes the state machine end without launching anything. docs/input.md lists every field.
 *
 * Before anything is launched it also checks what AWS would enforce only later (docs/input.md, "Limits checked
 * before launch"): the waits against the execution's time limit and history quota (functions/lib/execution-budget.ts),
 * duplicates by normalised reference, and each build's pull command against SSM's size (functions/lib/pull-command.ts,
 * the function send-pull-command uses, so the two cannot disagree).
 *
 * Throws InvalidInputError (a field is missing, malformed or inconsistent, a limit does not fit, an image is listed
 * twice in any spelling, the pull script is too large for SSM; the message names the field and the value),
 * InvalidImageReferenceError (an entry of `images` is not an image reference; the message names it),
 * ImageNotFoundError (a tag or digest does not exist in its registry), RegistryUnavailableError and
 * TransientAwsError (retryable), AccessDeniedError, AwsRequestError (reading the current snapshot's parameters).
 */
import * as z from './lib/zod-mini';
import { deployedDefaults, PULL_LIMIT_MARGIN_SECONDS, settingSchemas as s, type BuildDefaults } from './lib/build-defaults';
import { InvalidInputError } from './lib/errors';
import { checkExecutionBudget, worstCaseExecutionSeconds, worstCaseHistoryEvents, HISTORY_EVENT_LIMIT } from './lib/execution-budget';
import { defaultFastSnapshotRestoreSeconds, fastSnapshotRestoreWorstCaseEvents, fastSnapshotRestoreWorstCaseSeconds } from './lib/fast-snapshot-restore';
import { describeDuplicateImage, findDuplicateImage } from './lib/image-reference';
import { resolveRetention, resolveSharing, retentionInputSchema, sharingInputSchema, type PlanLifecycle } from './lib/lifecycle-settings';
import { pullCommandThatFits } from './lib/pull-command';
import { resolveAndCompare, type CurrentSnapshot, type FreshnessResult } from './lib/freshness';
import { defaultRecipeName, layoutSchema, type Layout } from './lib/recipes';
import { MAX_IMAGES, PLATFORM_OF, type Architecture } from './lib/architectures';
import type { BuildTarget, Image, PlanCommon, PlannedBuild } from './lib/schemas';
import { homeRegion } from './lib/regional-clients';
import { DEFAULT_COPY_SECONDS, copyWorstCaseEvents, copyWorstCaseSeconds, homeRegionCopyProblem } from './lib/snapshot-copies';
import { defineStage, describeIssues } from './lib/stage';
import { EC2_TAG_LIMITS } from './lib/tags';

export { MAX_IMAGES } from './lib/architectures';
/** User tags allowed next to the factory's own (EC2 allows 50 per resource). */
export const MAX_USER_TAGS = 40;

/** The execution input: only `images` is required; every other field overrides its default. */
export const executionInputSchema = z.strictObject({
  images: z.array(z.string()).check(z.minLength(1), z.maxLength(MAX_IMAGES)),
  recipe: z.optional(s.recipe),
  architectures: z.optional(s.architectures),
  layout: z.optional(layoutSchema),
  combinedArchitecture: z.optional(s.architecture),
  kubernetesVersion: z.optional(s.kubernetesVersion),
  variant: z.optional(s.variant),
  amiParameter: z.optional(s.amiParameter),
  instanceTypes: z.optional(z.strictObject({ x86_64: z.optional(s.instanceTypes), arm64: z.optional(s.instanceTypes) })),
  instanceProfileName: z.optional(s.instanceProfileName),
  subnetIds: z.optional(s.subnetIds),
  securityGroupIds: z.optional(s.securityGroupIds),
  associatePublicIp: z.optional(z.boolean()),
  osVolumeSizeGiB: z.optional(s.osVolumeSizeGiB),
  dataVolume: z.optional(
    z.strictObject({
      sizeGiB: z.optional(s.sizeGiB),
      iops: z.optional(s.iops),
      throughputMiBps: z.optional(s.throughputMiBps),
      encrypted: z.optional(z.boolean()),
      kmsKeyArn: z.optional(s.kmsKeyArn),
    }),
  ),
  pull: z.optional(z.strictObject({ concurrency: z.optional(s.concurrency), commandTimeoutSeconds: z.optional(s.commandTimeoutSeconds) })),
  limits: z.optional(
    z.strictObject({
      ssmOnlineSeconds: z.optional(s.ssmOnlineSeconds),
      pullSeconds: z.optional(s.pullSeconds),
      stopSeconds: z.optional(s.stopSeconds),
      snapshotSeconds: z.optional(s.snapshotSeconds),
      fastSnapshotRestoreSeconds: z.optional(s.fastSnapshotRestoreSeconds),
      copySeconds: z.optional(s.copySeconds),
      /** Refused with a clear message: the state machine's TimeoutSeconds is fixed at deploy time. */
      executionSeconds: z.optional(
        z.never({ error: "is a deploy-time setting (the state machine's TimeoutSeconds): set limits.executionSeconds in cdk.json and redeploy" }),
      ),
    }),
  ),
  /** Zones in which the new snapshot gets Fast Snapshot Restore before it becomes current; `[]` turns a default off. */
  fastSnapshotRestore: z.optional(s.fastSnapshotRestore),
  /** Regions the new snapshot is copied to before it is published; `[]` turns a default off. */
  copies: z.optional(s.copies),
  tags: z.optional(s.tags),
  /** Build even when the current snapshot already holds these exact digests. */
  force: z.optional(z.boolean()),
  /** Retention of superseded snapshots (ApplyRetention), over the deployed `retention` setting. */
  retention: z.optional(retentionInputSchema),
  /** Accounts granted createVolumePermission (ShareSnapshots), over the deployed `sharing` setting. */
  sharing: z.optional(sharingInputSchema),
});
export type ExecutionInput = z.infer<typeof executionInputSchema>;

const inputSchema = z.object({
  /** `$$.Execution.Name`, passed by the state's Parameters. */
  executionName: z.string().check(z.minLength(1), z.maxLength(80)),
  /** The execution input, unvalidated: validated here so the error names the execution input's field. */
  input: z.unknown(),
});
type Input = z.infer<typeof inputSchema>;

/** What `PrepareBuild` returns: the plan the rest of the workflow follows. */
export interface BuildPlan {
  executionName: string;
  recipe: string;
  /**
   * `BUILD`: the Map runs `builds`. `UP_TO_DATE`: the current snapshots already hold these images; nothing is launched.
   * `REPUBLISH`: they hold them, but a publish left channels pending: nothing is launched, PublishSnapshot sends `republish`.
   */
  status: 'BUILD' | 'UP_TO_DATE' | 'REPUBLISH';
  /** Why: `NEW` (no current snapshot), `CHANGED` (a digest differs, or the current snapshot is gone), `FORCED` (unchanged, `force` set) or `UP_TO_DATE`. */
  reason: FreshnessResult['reason'];
  layout: Layout;
  architectures: Architecture[];
  /**
   * The images, once for every build, with their resolved digests (`digest`, and `platformDigests` where a
   * platform's manifest differs). The Map merges them into each iteration's `build`.
   */
  common: PlanCommon;
  /** The builds to run, without their images (those are in `common`). Empty unless `BUILD`. */
  builds: PlannedBuild[];
  /** The recipe's current snapshots whose digest set equals this build's (all of them when `UP_TO_DATE`). */
  current: CurrentSnapshot[];
  /** With `REPUBLISH`: each snapshot whose publish is incomplete, its platforms and the channels still pending. */
  republish?: RepublishTarget[];
  /** Retention and sharing as this execution applies them (input over deployed defaults over built-in). */
  lifecycle: PlanLifecycle;
}

/** A current snapshot whose publish left channels pending (status `REPUBLISH`). */
export interface RepublishTarget extends CurrentSnapshot {
  platforms: string[];
  pending: NonNullable<CurrentSnapshot['pending']>;
}

const run = async ({ executionName, input }: Input): Promise<BuildPlan> => {
  const request = parseExecutionInput(input);
  const plan = planBuild(executionName, request, deployedDefaults());
  // Digest resolution and the skip-when-unchanged check live in functions/lib/freshness.ts.
  const freshness = await resolveAndCompare({ recipe: plan.recipe, force: request.force ?? false, builds: plan.builds });
  const status = freshness.upToDate ? 'UP_TO_DATE' : freshness.reason === 'REPUBLISH' ? 'REPUBLISH' : 'BUILD';
  const images = commonImages(freshness.builds);
  const builds = status === 'BUILD' ? freshness.builds.map(({ images: _images, platformDigests: _digests, ...build }) => build) : [];
  // The pull command each builder will be sent, made now by the function send-pull-command uses, from the same
  // images (the Map merges `common.images` into each build) and resolved digests: too large is refused before launch.
  for (const build of builds) {
    pullCommandThatFits({ images, platforms: build.platforms, concurrency: build.pull.concurrency }, `the pull script of the ${build.architecture} build`);
  }
  return {
    ...plan,
    status,
    reason: freshness.reason,
    common: { images },
    builds,
    current: freshness.current,
    ...(status === 'REPUBLISH' ? { republish: republishTargets(freshness) } : {}),
  };
};

/** The current snapshots whose publish is incomplete, with the platforms their build pulled. */
const republishTargets = (freshness: FreshnessResult): RepublishTarget[] =>
  freshness.current.flatMap((snapshot) => {
    const build = freshness.builds.find((b) => b.architecture === snapshot.architecture);
    return snapshot.pending && build ? [{ ...snapshot, pending: snapshot.pending, platforms: build.platforms }] : [];
  });

/**
 * The builds' images once: each with its digest and, per platform any build pulls, the platform's manifest digest
 * where it differs from it. Every build pulls the same images (only the platforms differ), so nothing is lost.
 */
export const commonImages = (builds: readonly BuildTarget[]): Image[] => {
  const images = new Map<string, Image>();
  for (const build of builds) {
    for (const image of build.images) if (!images.has(image.reference)) images.set(image.reference, { reference: image.reference, digest: image.digest });
    for (const { reference, platform, digest } of build.platformDigests ?? []) {
      const image = images.get(reference);
      if (!image || digest === image.digest) continue;
      image.platformDigests = { ...image.platformDigests, [platform]: digest };
    }
  }
  return [...images.values()];
};

/** Validates the execution input, naming the first bad fields. */
export const parseExecutionInput = (input: unknown): ExecutionInput => {
  const parsed = executionInputSchema.safeParse(input ?? {});
  if (!parsed.success) throw new InvalidInputError(`execution input is invalid: ${describeIssues(parsed.error)}`);
  return parsed.data;
};

/**
 * Applies the defaults to a validated execution input and plans the builds. Pure: the unit tests call it directly.
 *
 * @example planBuild('exec-1', { images: ['public.ecr.aws/nginx/nginx:1.27'] }, buildDefaultsSchema.parse({}))
 */
export const planBuild = (
  executionName: string,
  request: ExecutionInput,
  defaults: BuildDefaults,
): Omit<BuildPlan, 'reason' | 'current' | 'common' | 'builds'> & { builds: BuildTarget[] } => {
  const lifecycle: PlanLifecycle = {
    retention: resolveRetention(defaults.retention, request.retention),
    sharing: resolveSharing(defaults.sharing, request.sharing),
  };
  const layout = request.layout ?? defaults.layout;
  const architectures = unique(request.architectures ?? defaults.architectures, 'architectures');
  const images = uniqueImages(request.images);
  const recipe = request.recipe ?? defaults.recipe ?? defaultRecipeName(images, layout, architectures);
  const dataVolume = { ...defaults.dataVolume, ...request.dataVolume };
  const pull = { ...defaults.pull, ...request.pull };
  // limits.executionSeconds is deployed only (the input refuses it): the builds carry the four waits.
  const { executionSeconds, ...limits } = { ...defaults.limits, ...request.limits };
  const tags = { ...defaults.tags, ...request.tags };
  const kubernetesVersion = request.kubernetesVersion ?? defaults.kubernetesVersion;
  const variant = request.variant ?? defaults.variant;
  const amiPattern = request.amiParameter ?? defaults.amiParameter;

  checkDataVolume(dataVolume);
  checkKmsKey(request.dataVolume?.kmsKeyArn, defaults.dataVolume.kmsKeyArn);
  checkSubnets(request.subnetIds, defaults.subnetIds);
  checkTags(tags);
  checkSharingKey(lifecycle, dataVolume);
  const pullSeconds = limits.pullSeconds ?? pull.commandTimeoutSeconds + PULL_LIMIT_MARGIN_SECONDS;
  if (pullSeconds < pull.commandTimeoutSeconds) {
    throw new InvalidInputError(
      `limits.pullSeconds is ${pullSeconds}, below pull.commandTimeoutSeconds (${pull.commandTimeoutSeconds}): raise limits.pullSeconds or lower the command timeout`,
    );
  }
  checkExecutionBudget({ ...limits, pullSeconds }, layout === 'combined' ? 1 : architectures.length, executionSeconds, {
    pullFromCommandTimeout: limits.pullSeconds === undefined,
  });
  const fsrZones = (request.fastSnapshotRestore ?? defaults.fastSnapshotRestore)?.availabilityZones ?? [];
  const fastSnapshotRestoreSeconds = fsrZones.length ? (limits.fastSnapshotRestoreSeconds ?? defaultFastSnapshotRestoreSeconds(dataVolume.sizeGiB)) : undefined;
  if (fastSnapshotRestoreSeconds !== undefined) {
    checkFastSnapshotRestoreBudget(
      { ...limits, pullSeconds },
      fastSnapshotRestoreSeconds,
      layout === 'combined' ? 1 : architectures.length,
      executionSeconds,
      limits.fastSnapshotRestoreSeconds === undefined,
    );
  }
  const copies = request.copies ?? defaults.copies ?? [];
  const homeCopy = homeRegionCopyProblem(copies, homeRegion());
  checkSharingCopyKeys(lifecycle, copies);
  if (homeCopy) throw new InvalidInputError(homeCopy);
  const copySeconds = copies.length ? (limits.copySeconds ?? DEFAULT_COPY_SECONDS) : undefined;
  if (copySeconds !== undefined) {
    checkCopyBudget({ ...limits, pullSeconds }, copySeconds, fastSnapshotRestoreSeconds, layout === 'combined' ? 1 : architectures.length, executionSeconds, limits.copySeconds === undefined);
  }
  if (amiPattern && architectures.length > 1 && layout === 'per-architecture' && !amiPattern.includes('{arch}')) {
    throw new InvalidInputError(`amiParameter "${amiPattern}" has no {arch} placeholder but ${architectures.length} architectures are built: add {arch} where x86_64/arm64 goes`);
  }

  // The combined layout pulls every platform onto one builder instance, so one snapshot serves every architecture.
  const groups: { architecture: Architecture; platforms: string[] }[] =
    layout === 'combined'
      ? [{ architecture: request.combinedArchitecture ?? defaults.combinedArchitecture, platforms: architectures.map((a) => PLATFORM_OF[a]) }]
      : architectures.map((architecture) => ({ architecture, platforms: [PLATFORM_OF[architecture]] }));

  // Every value here was validated (execution input, FACTORY_DEFAULTS) by schemas at least as strict as
  // buildTargetSchema's, which the tests check for every plan (test/statemachine/prepare-build.test.ts, "conforms");
  // it is not re-parsed here, so prepare-build loads no classic zod (issue 12, its bundle). structuredClone: each build
  // gets its own objects, none shared with the other builds or with the deployed defaults a warm Lambda keeps.
  const builds = groups.map(({ architecture, platforms }) =>
    structuredClone({
      executionName,
      recipe,
      architecture,
      platforms,
      images: images.map((reference) => ({ reference })),
      amiParameter: amiPattern ? amiPattern.replaceAll('{arch}', architecture) : bottlerocketAmiParameter(kubernetesVersion, variant, architecture),
      instanceTypes: request.instanceTypes?.[architecture] ?? defaults.instanceTypes[architecture],
      instanceProfileName: request.instanceProfileName ?? defaults.instanceProfileName,
      subnetIds: request.subnetIds ?? defaults.subnetIds,
      securityGroupIds: request.securityGroupIds ?? defaults.securityGroupIds,
      associatePublicIp: request.associatePublicIp ?? defaults.associatePublicIp,
      osVolume: { sizeGiB: request.osVolumeSizeGiB ?? defaults.osVolumeSizeGiB },
      dataVolume,
      pull,
      limits: { ...limits, pullSeconds, fastSnapshotRestoreSeconds, copySeconds },
      ...(fsrZones.length ? { fastSnapshotRestore: { availabilityZones: fsrZones } } : {}),
      ...(copies.length ? { copies } : {}),
      tags,
    } satisfies BuildTarget),
  );

  return { executionName, recipe, status: 'BUILD', layout, architectures, builds, lifecycle };
};

/**
 * The copies' wait runs after the FSR wait (if any): with both the build must still fit the execution's time limit
 * and history quota, or the execution could end with no cleanup and copies left in other regions.
 */
const checkCopyBudget = (
  waits: Parameters<typeof worstCaseExecutionSeconds>[0],
  copySeconds: number,
  fsrSeconds: number | undefined,
  builds: number,
  executionTimeoutSeconds: number,
  fromDefault: boolean,
): void => {
  const origin = fromDefault ? ` (the default, ${DEFAULT_COPY_SECONDS} s)` : '';
  const fsr = fsrSeconds === undefined ? { seconds: 0, events: 0 } : { seconds: fastSnapshotRestoreWorstCaseSeconds(fsrSeconds), events: fastSnapshotRestoreWorstCaseEvents(fsrSeconds) };
  const seconds = worstCaseExecutionSeconds(waits) + fsr.seconds + copyWorstCaseSeconds(copySeconds);
  if (seconds > executionTimeoutSeconds) {
    throw new InvalidInputError(
      `limits.copySeconds is ${copySeconds}${origin}: with the build's other waits the execution needs up to ${seconds} s, ` +
        `more than its time limit of ${executionTimeoutSeconds} s (setting limits.executionSeconds): lower limits.copySeconds, limits.snapshotSeconds or limits.pullSeconds, ` +
        'or redeploy with a larger limits.executionSeconds',
    );
  }
  const events = worstCaseHistoryEvents(waits, builds) + builds * (fsr.events + copyWorstCaseEvents(copySeconds));
  if (events > HISTORY_EVENT_LIMIT) {
    throw new InvalidInputError(
      `limits.copySeconds is ${copySeconds}${origin}: with the other waits of ${builds} build${builds === 1 ? '' : 's'} the execution could log up to ${events} history events, ` +
        `more than Step Functions' ${HISTORY_EVENT_LIMIT}: lower limits.copySeconds or the other limits`,
    );
  }
};

/**
 * The FSR wait runs after the other waits of the build (it starts once the snapshot completed): with it the build
 * must still fit the execution's time limit and history quota, or the execution could end with no cleanup while FSR
 * bills per zone and hour.
 */
const checkFastSnapshotRestoreBudget = (
  waits: Parameters<typeof worstCaseExecutionSeconds>[0],
  fsrSeconds: number,
  builds: number,
  executionTimeoutSeconds: number,
  fromDefault: boolean,
): void => {
  const origin = fromDefault ? ' (the default: 60 min per TiB of dataVolume.sizeGiB + 1800 s)' : '';
  const seconds = worstCaseExecutionSeconds(waits) + fastSnapshotRestoreWorstCaseSeconds(fsrSeconds);
  if (seconds > executionTimeoutSeconds) {
    throw new InvalidInputError(
      `limits.fastSnapshotRestoreSeconds is ${fsrSeconds}${origin}: with the build's other waits the execution needs up to ${seconds} s, ` +
        `more than its time limit of ${executionTimeoutSeconds} s (setting limits.executionSeconds): lower limits.snapshotSeconds or limits.pullSeconds, ` +
        'or redeploy with a larger limits.executionSeconds',
    );
  }
  const events = worstCaseHistoryEvents(waits, builds) + builds * fastSnapshotRestoreWorstCaseEvents(fsrSeconds);
  if (events > HISTORY_EVENT_LIMIT) {
    throw new InvalidInputError(
      `limits.fastSnapshotRestoreSeconds is ${fsrSeconds}${origin}: with the other waits of ${builds} build${builds === 1 ? '' : 's'} the execution could log up to ${events} history events, ` +
        `more than Step Functions' ${HISTORY_EVENT_LIMIT}: lower limits.fastSnapshotRestoreSeconds or the other limits`,
    );
  }
};

/** The public Bottlerocket AMI parameter of a Kubernetes version and variant. */
export const bottlerocketAmiParameter = (kubernetesVersion: string, variant: BuildDefaults['variant'], architecture: Architecture): string =>
  `/aws/service/bottlerocket/aws-k8s-${kubernetesVersion}${variant === 'standard' ? '' : `-${variant}`}/${architecture}/latest/image_id`;

const unique = <T>(items: readonly T[], field: string): T[] => {
  const duplicate = items.find((item, index) => items.indexOf(item) !== index);
  if (duplicate !== undefined) throw new InvalidInputError(`${field} lists "${String(duplicate)}" more than once`);
  return [...items];
};

/**
 * The images, each once by what it names: `nginx`, `docker.io/library/nginx:latest` and `index.docker.io/library/nginx`
 * are one image (functions/lib/image-reference.ts normalises them as containerd does), which would be pulled and
 * reported twice. Validates every reference first, so a bad one is named before any duplicate.
 *
 * @throws InvalidImageReferenceError naming a bad reference; InvalidInputError naming both spellings of a duplicate.
 */
const uniqueImages = (images: readonly string[]): string[] => {
  const duplicate = findDuplicateImage(images);
  if (duplicate) throw new InvalidInputError(`images lists ${describeDuplicateImage(duplicate)}: list each image once`);
  return [...images];
};

/** gp3's documented ratios, which EC2 checks only at launch (too late: after the input was accepted). */
const checkDataVolume = (volume: BuildDefaults['dataVolume']): void => {
  if (volume.iops > volume.sizeGiB * 500) {
    throw new InvalidInputError(
      `dataVolume.iops is ${volume.iops} but gp3 allows at most 500 IOPS per GiB (${volume.sizeGiB * 500} for dataVolume.sizeGiB ${volume.sizeGiB}): lower iops or raise sizeGiB`,
    );
  }
  if (volume.throughputMiBps > volume.iops / 4) {
    throw new InvalidInputError(
      `dataVolume.throughputMiBps is ${volume.throughputMiBps} but gp3 allows at most 0.25 MiB/s per IOPS (${Math.floor(volume.iops / 4)} for dataVolume.iops ${volume.iops}): lower throughputMiBps or raise iops`,
    );
  }
  if (volume.kmsKeyArn && !volume.encrypted) {
    throw new InvalidInputError('dataVolume.kmsKeyArn is set but dataVolume.encrypted is false: set encrypted to true or remove kmsKeyArn');
  }
};

/**
 * The functions' IAM allows KMS only for the key the factory was deployed with: another key would be refused at
 * launch as AccessDenied, far from its cause. Say so before anything is launched.
 */
const checkKmsKey = (requested: string | undefined, deployed: string | undefined): void => {
  if (requested === undefined || requested === deployed) return;
  throw new InvalidInputError(
    `dataVolume.kmsKeyArn is "${requested}" but the factory may use only ${deployed ? `the key it was deployed with, "${deployed}"` : "the account's default EBS key (it was deployed without dataVolume.kmsKeyArn)"}: ` +
      'omit dataVolume.kmsKeyArn, or redeploy with that key as the dataVolume.kmsKeyArn setting',
  );
};

/**
 * The functions' IAM allows RunInstances only in the deployed subnets (infra/permissions.ts): another subnet would be
 * refused at launch as AccessDenied. With no deployed subnets (the default VPC) any subnet of the account may be named.
 */
const checkSubnets = (requested: readonly string[] | undefined, deployed: readonly string[]): void => {
  if (!requested || deployed.length === 0) return;
  const foreign = requested.filter((subnet) => !deployed.includes(subnet));
  if (foreign.length === 0) return;
  throw new InvalidInputError(
    `subnetIds names ${foreign.map((subnet) => `"${subnet}"`).join(', ')}, not among the factory's subnets (${deployed.join(', ')}): ` +
      'name some of those, or redeploy with the subnet in the subnetIds setting',
  );
};

/**
 * A snapshot encrypted with the account's default key (aws/ebs) cannot be used by another account: that key's
 * policy cannot be changed ("Share an Amazon EBS snapshot", EBS User Guide,
 * https://docs.aws.amazon.com/ebs/latest/userguide/ebs-modifying-snapshot-permissions.html). Refused before launch.
 */
/**
 * A copy is always encrypted (copy-snapshot.ts), with its own key or its region's aws/ebs key; a copy under aws/ebs
 * cannot be shared, as at home. Refused before launch rather than failing in ShareSnapshots after the build.
 */
const checkSharingCopyKeys = (lifecycle: PlanLifecycle, copies: readonly { region: string; kmsKeyArn?: string | undefined }[]): void => {
  if (lifecycle.sharing.accountIds.length === 0) return;
  const unshareable = copies.filter((copy) => !copy.kmsKeyArn).map((copy) => copy.region);
  if (unshareable.length === 0) return;
  throw new InvalidInputError(
    `sharing.accountIds names ${lifecycle.sharing.accountIds.length} account(s) but the copies in ${unshareable.join(', ')} would be encrypted with that region's default aws/ebs key, which cannot be shared: ` +
      "give each of those copies a kmsKeyArn (a customer managed key in its region whose policy lets those accounts use it), or remove sharing",
  );
};

const checkSharingKey = (lifecycle: PlanLifecycle, volume: BuildDefaults['dataVolume']): void => {
  if (lifecycle.sharing.accountIds.length === 0 || !volume.encrypted || volume.kmsKeyArn) return;
  throw new InvalidInputError(
    `sharing.accountIds names ${lifecycle.sharing.accountIds.length} account(s) but the snapshots are encrypted with the default aws/ebs key, which cannot be shared: ` +
      'deploy with the dataVolume.kmsKeyArn setting (a customer managed key whose policy lets those accounts use it), or remove sharing',
  );
};

const checkTags = (tags: Record<string, string>): void => {
  const entries = Object.entries(tags);
  if (entries.length > MAX_USER_TAGS) throw new InvalidInputError(`tags has ${entries.length} entries; at most ${MAX_USER_TAGS} fit next to the factory's own tags`);
  for (const [key, value] of entries) {
    if (key.length === 0 || key.length > EC2_TAG_LIMITS.maxKeyLength) throw new InvalidInputError(`tags key "${key.slice(0, 40)}" must be 1-${EC2_TAG_LIMITS.maxKeyLength} characters`);
    if (value.length > EC2_TAG_LIMITS.maxValueLength) throw new InvalidInputError(`tags.${key} is ${value.length} characters; EC2 allows ${EC2_TAG_LIMITS.maxValueLength}`);
    if (/^aws:/i.test(key) || key.startsWith('snapshot-factory:')) throw new InvalidInputError(`tags key "${key}" uses a reserved prefix (aws: or snapshot-factory:)`);
  }
};

export const handler = defineStage('prepare-build', inputSchema, run);
