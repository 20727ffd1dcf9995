/**
 * Defaults of every build setting, in one place.
 *
 * Three layers, the most explicit winning: a field of the execution input, then the deployed defaults
 * (env `FACTORY_DEFAULTS`, JSON, set by the CDK construct from its config, validated with this same schema),
 * then the built-in defaults below. docs/input.md lists each field, its default and its limits.
 */
import * as z from 'zod';
import { DEFINITION_TIMEOUT_SECONDS, MAX_EXECUTION_TIMEOUT_SECONDS, MIN_EXECUTION_TIMEOUT_SECONDS } from './execution-budget';
import { fastSnapshotRestoreSchema, fastSnapshotRestoreSecondsSchema } from './fast-snapshot-restore';
import { retentionInputSchema, sharingInputSchema } from './lifecycle-settings';
import { copiesSchema, copySecondsSchema } from './snapshot-copies';
import { RECIPE_NAME_PATTERN, layoutSchema } from './recipes';
import { architectureSchema } from './schemas';

/** Bottlerocket Kubernetes variants: `aws-k8s-<version>`, `-nvidia`, `-fips`. */
export const VARIANTS = ['standard', 'nvidia', 'fips'] as const;

/** The value schemas of each setting, without defaults: shared by the defaults and the execution input. */
export const settingSchemas = {
  recipe: z.string().regex(RECIPE_NAME_PATTERN, 'expected 1-48 letters, digits, "_" or "-", starting with a letter or digit'),
  architectures: z.array(architectureSchema).min(1).max(2),
  layout: layoutSchema,
  architecture: architectureSchema,
  kubernetesVersion: z.string().regex(/^1\.\d{2,3}$/, 'expected a Kubernetes minor version such as 1.35'),
  variant: z.enum(VARIANTS),
  amiParameter: z.string().startsWith('/').max(2048),
  instanceTypes: z.array(z.string().regex(/^[a-z0-9-]+\.[a-z0-9-]+$/, 'expected an EC2 instance type such as m7i.xlarge')).min(1).max(10),
  instanceProfileName: z.string().min(1).max(128),
  subnetIds: z.array(z.string().regex(/^subnet-[0-9a-f]{8,17}$/, 'expected a subnet ID such as subnet-0123456789abcdef0')).max(16),
  securityGroupIds: z.array(z.string().regex(/^sg-[0-9a-f]{8,17}$/, 'expected a security group ID such as sg-0123456789abcdef0')).max(5),
  osVolumeSizeGiB: z.number().int().min(2).max(100),
  sizeGiB: z.number().int().min(1).max(16384),
  iops: z.number().int().min(3000).max(80000),
  throughputMiBps: z.number().int().min(125).max(2000),
  kmsKeyArn: z
    .string()
    .regex(
      /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[0-9a-zA-Z-]+$/,
      'expected a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>); an alias cannot scope IAM policies',
    ),
  concurrency: z.number().int().min(1).max(32),
  commandTimeoutSeconds: z.number().int().min(30).max(172800),
  ssmOnlineSeconds: z.number().int().min(30).max(86400),
  pullSeconds: z.number().int().min(60).max(180000),
  stopSeconds: z.number().int().min(30).max(86400),
  snapshotSeconds: z.number().int().min(60).max(86400),
  tags: z.record(z.string(), z.string()),
  fastSnapshotRestore: fastSnapshotRestoreSchema,
  fastSnapshotRestoreSeconds: fastSnapshotRestoreSecondsSchema,
  copies: copiesSchema,
  copySeconds: copySecondsSchema,
} as const;
const s = settingSchemas;

export { DEFINITION_TIMEOUT_SECONDS } from './execution-budget';
/** The execution's time limit: Step Functions allows a standard execution a year; the factory asks for 15 minutes at least. */
export const executionTimeoutSecondsSchema = z.number().int().min(MIN_EXECUTION_TIMEOUT_SECONDS).max(MAX_EXECUTION_TIMEOUT_SECONDS);

/**
 * Deploy-time defaults of a build. Every field has a built-in default, so `buildDefaultsSchema.parse({})`
 * gives the factory's own defaults and a partial object overrides only what it names.
 *
 * @example buildDefaultsSchema.parse({ dataVolume: { sizeGiB: 200 } }).dataVolume // { sizeGiB: 200, iops: 4000, ... }
 */
export const buildDefaultsSchema = z
  .object({
    /** Lineage of snapshots the build belongs to; when unset, derived from the images (functions/lib/recipes.ts). */
    recipe: s.recipe.optional(),
    architectures: s.architectures.default(['x86_64']),
    layout: s.layout.default('per-architecture'),
    /** Architecture of the one builder instance of the `combined` layout. */
    combinedArchitecture: s.architecture.default('x86_64'),
    kubernetesVersion: s.kubernetesVersion.default('1.35'),
    variant: s.variant.default('standard'),
    /** Explicit AMI parameter path; `{arch}` is replaced by x86_64 or arm64. Wins over kubernetesVersion/variant. */
    amiParameter: s.amiParameter.optional(),
    instanceTypes: z
      .object({
        x86_64: s.instanceTypes.default(['m7i.xlarge', 'm6i.xlarge', 'm5.xlarge']),
        arm64: s.instanceTypes.default(['m7g.xlarge', 'm6g.xlarge']),
      })
      .strict()
      .prefault({}),
    instanceProfileName: s.instanceProfileName.default('snapshot-factory-builder'),
    /** Subnets the builder may launch in, tried in order while EC2 reports no capacity; empty: the default VPC. */
    subnetIds: s.subnetIds.default([]),
    securityGroupIds: s.securityGroupIds.default([]),
    associatePublicIp: z.boolean().default(true),
    osVolumeSizeGiB: s.osVolumeSizeGiB.default(10),
    dataVolume: z
      .object({
        sizeGiB: s.sizeGiB.default(100),
        iops: s.iops.default(4000),
        throughputMiBps: s.throughputMiBps.default(1000),
        encrypted: z.boolean().default(true),
        kmsKeyArn: s.kmsKeyArn.optional(),
      })
      .strict()
      .prefault({}),
    pull: z
      .object({
        concurrency: s.concurrency.default(4),
        commandTimeoutSeconds: s.commandTimeoutSeconds.default(3600),
      })
      .strict()
      .prefault({}),
    /** Time limits, in seconds. `pullSeconds` defaults to the command timeout + 300. */
    limits: z
      .object({
        ssmOnlineSeconds: s.ssmOnlineSeconds.default(600),
        pullSeconds: s.pullSeconds.optional(),
        stopSeconds: s.stopSeconds.default(900),
        snapshotSeconds: s.snapshotSeconds.default(7200),
        /** Wait for Fast Snapshot Restore in every zone; default: AWS's 60 min per TiB of the data volume + 1800 (functions/lib/fast-snapshot-restore.ts). */
        fastSnapshotRestoreSeconds: s.fastSnapshotRestoreSeconds.optional(),
        /** Wait for every cross-region copy to complete (functions/lib/snapshot-copies.ts); default 7200. */
        copySeconds: s.copySeconds.optional(),
        /**
         * The execution's time limit: the state machine's `TimeoutSeconds` (setting `limits.executionSeconds`).
         * Deployed only, never in the execution input: prepare-build refuses waits that would not fit in it with
         * their cleanup. The built-in default is the definition's own (statemachine/snapshot-factory.asl.json).
         */
        executionSeconds: executionTimeoutSecondsSchema.default(DEFINITION_TIMEOUT_SECONDS),
      })
      .strict()
      .prefault({}),
    /** Zones in which every new snapshot gets Fast Snapshot Restore before it becomes current; unset: none. */
    fastSnapshotRestore: s.fastSnapshotRestore.optional(),
    /** Regions every new snapshot is copied to before it is published (setting `copies`); unset: none. */
    copies: s.copies.optional(),
    tags: s.tags.default({}),
    /** Deploy-time retention of superseded snapshots (setting `retention`, functions/lib/lifecycle-settings.ts). */
    retention: retentionInputSchema.optional(),
    /** Deploy-time sharing of published snapshots (setting `sharing`). */
    sharing: sharingInputSchema.optional(),
  })
  .strict();
export type BuildDefaults = z.infer<typeof buildDefaultsSchema>;

/** Seconds the workflow waits past the SSM command timeout, so SSM's own `TimedOut` (clearer) comes first. */
export const PULL_LIMIT_MARGIN_SECONDS = 300;

/** Parses a `FACTORY_DEFAULTS` value; throws naming the bad key. */
export const parseBuildDefaults = (json: string | undefined): BuildDefaults => {
  let raw: unknown = {};
  if (json && json.trim() !== '') {
    try {
      raw = JSON.parse(json);
    } catch (error) {
      throw new Error(`FACTORY_DEFAULTS is not valid JSON: ${(error as Error).message}`);
    }
  }
  const parsed = buildDefaultsSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`).join('; ');
    throw new Error(`FACTORY_DEFAULTS is invalid: ${issues}`);
  }
  return parsed.data;
};

/** The deployed defaults; a bad `FACTORY_DEFAULTS` fails at cold start rather than on the first build. */
export const deployedDefaults: BuildDefaults = parseBuildDefaults(process.env.FACTORY_DEFAULTS);
