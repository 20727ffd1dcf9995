/**
 * Defaults of every build setting, in one place.
 *
 * Three layers, the most explicit winning: a field of the execution input, then the deployed defaults
 * (env `FACTORY_DEFAULTS`, JSON, set by the CDK construct from its config, validated with this same schema),
 * then the built-in defaults below. docs/input.md lists each field, its default and its limits.
 */
import * as z from './zod-mini';
import { DEFINITION_TIMEOUT_SECONDS, MAX_EXECUTION_TIMEOUT_SECONDS, MIN_EXECUTION_TIMEOUT_SECONDS } from './execution-budget';
import { fastSnapshotRestoreSchema, fastSnapshotRestoreSecondsSchema } from './fast-snapshot-restore';
import { retentionInputSchema, sharingInputSchema } from './lifecycle-settings';
import { copiesSchema, copySecondsSchema } from './snapshot-copies';
import { RECIPE_NAME_PATTERN, architectureSettingSchema, layoutSchema } from './recipes';

/** Bottlerocket Kubernetes variants: `aws-k8s-<version>`, `-nvidia`, `-fips`. */
export const VARIANTS = ['standard', 'nvidia', 'fips'] as const;

/** An integer from `min` to `max`: zod's `.int().min().max()`, with the same messages. */
const integer = (min: number, max: number) => z.integer(z.gte(min), z.lte(max));
const matching = (pattern: RegExp, message: string) => z.string().check(z.regex(pattern, message));

/**
 * The value schemas of each setting, without defaults: shared by the defaults, the execution input (prepare-build)
 * and the cdk.json settings (infra/config.ts). zod/mini schemas (./zod-mini.ts): wrap them with `z.optional(...)`,
 * `z._default(...)`, which classic zod also exports.
 */
export const settingSchemas = {
  recipe: matching(RECIPE_NAME_PATTERN, 'expected 1-48 letters, digits, "_" or "-", starting with a letter or digit'),
  architectures: z.array(architectureSettingSchema).check(z.minLength(1), z.maxLength(2)),
  layout: layoutSchema,
  architecture: architectureSettingSchema,
  kubernetesVersion: matching(/^1\.\d{2,3}$/, 'expected a Kubernetes minor version such as 1.35'),
  variant: z.enum(VARIANTS),
  amiParameter: z.string().check(z.startsWith('/'), z.maxLength(2048)),
  instanceTypes: z.array(matching(/^[a-z0-9-]+\.[a-z0-9-]+$/, 'expected an EC2 instance type such as m7i.xlarge')).check(z.minLength(1), z.maxLength(10)),
  instanceProfileName: z.string().check(z.minLength(1), z.maxLength(128)),
  subnetIds: z.array(matching(/^subnet-[0-9a-f]{8,17}$/, 'expected a subnet ID such as subnet-0123456789abcdef0')).check(z.maxLength(16)),
  securityGroupIds: z.array(matching(/^sg-[0-9a-f]{8,17}$/, 'expected a security group ID such as sg-0123456789abcdef0')).check(z.maxLength(5)),
  osVolumeSizeGiB: integer(2, 100),
  sizeGiB: integer(1, 16384),
  iops: integer(3000, 80000),
  throughputMiBps: integer(125, 2000),
  kmsKeyArn: matching(
    /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[0-9a-zA-Z-]+$/,
    'expected a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>); an alias cannot scope IAM policies',
  ),
  concurrency: integer(1, 32),
  commandTimeoutSeconds: integer(30, 172800),
  ssmOnlineSeconds: integer(30, 86400),
  pullSeconds: integer(60, 180000),
  stopSeconds: integer(30, 86400),
  snapshotSeconds: integer(60, 86400),
  tags: z.record(z.string(), z.string()),
  fastSnapshotRestore: fastSnapshotRestoreSchema,
  fastSnapshotRestoreSeconds: fastSnapshotRestoreSecondsSchema,
  copies: copiesSchema,
  copySeconds: copySecondsSchema,
} as const;
const s = settingSchemas;

export { DEFINITION_TIMEOUT_SECONDS } from './execution-budget';
/** The execution's time limit: Step Functions allows a standard execution a year; the factory asks for 15 minutes at least. */
export const executionTimeoutSecondsSchema = integer(MIN_EXECUTION_TIMEOUT_SECONDS, MAX_EXECUTION_TIMEOUT_SECONDS);

/**
 * Deploy-time defaults of a build. Every field has a built-in default, so `buildDefaultsSchema.parse({})`
 * gives the factory's own defaults and a partial object overrides only what it names.
 *
 * @example buildDefaultsSchema.parse({ dataVolume: { sizeGiB: 200 } }).dataVolume // { sizeGiB: 200, iops: 4000, ... }
 */
export const buildDefaultsSchema = z.strictObject({
  /** Lineage of snapshots the build belongs to; when unset, derived from the images (functions/lib/recipes.ts). */
  recipe: z.optional(s.recipe),
  architectures: z._default(s.architectures, ['x86_64']),
  layout: z._default(s.layout, 'per-architecture'),
  /** Architecture of the one builder instance of the `combined` layout. */
  combinedArchitecture: z._default(s.architecture, 'x86_64'),
  kubernetesVersion: z._default(s.kubernetesVersion, '1.35'),
  variant: z._default(s.variant, 'standard'),
  /** Explicit AMI parameter path; `{arch}` is replaced by x86_64 or arm64. Wins over kubernetesVersion/variant. */
  amiParameter: z.optional(s.amiParameter),
  instanceTypes: z.prefault(
    z.strictObject({
      x86_64: z._default(s.instanceTypes, ['m7i.xlarge', 'm6i.xlarge', 'm5.xlarge']),
      arm64: z._default(s.instanceTypes, ['m7g.xlarge', 'm6g.xlarge']),
    }),
    {},
  ),
  instanceProfileName: z._default(s.instanceProfileName, 'snapshot-factory-builder'),
  /** Subnets the builder may launch in, tried in order while EC2 reports no capacity; empty: the default VPC. */
  subnetIds: z._default(s.subnetIds, []),
  securityGroupIds: z._default(s.securityGroupIds, []),
  associatePublicIp: z._default(z.boolean(), true),
  osVolumeSizeGiB: z._default(s.osVolumeSizeGiB, 10),
  dataVolume: z.prefault(
    z.strictObject({
      sizeGiB: z._default(s.sizeGiB, 100),
      iops: z._default(s.iops, 4000),
      throughputMiBps: z._default(s.throughputMiBps, 1000),
      encrypted: z._default(z.boolean(), true),
      kmsKeyArn: z.optional(s.kmsKeyArn),
    }),
    {},
  ),
  pull: z.prefault(
    z.strictObject({
      concurrency: z._default(s.concurrency, 4),
      commandTimeoutSeconds: z._default(s.commandTimeoutSeconds, 3600),
    }),
    {},
  ),
  /** Time limits, in seconds. `pullSeconds` defaults to the command timeout + 300. */
  limits: z.prefault(
    z.strictObject({
      ssmOnlineSeconds: z._default(s.ssmOnlineSeconds, 600),
      pullSeconds: z.optional(s.pullSeconds),
      stopSeconds: z._default(s.stopSeconds, 900),
      snapshotSeconds: z._default(s.snapshotSeconds, 7200),
      /** Wait for Fast Snapshot Restore in every zone; default: AWS's 60 min per TiB of the data volume + 1800 (functions/lib/fast-snapshot-restore.ts). */
      fastSnapshotRestoreSeconds: z.optional(s.fastSnapshotRestoreSeconds),
      /** Wait for every cross-region copy to complete (functions/lib/snapshot-copies.ts); default 7200. */
      copySeconds: z.optional(s.copySeconds),
      /**
       * The execution's time limit: the state machine's `TimeoutSeconds` (setting `limits.executionSeconds`).
       * Deployed only, never in the execution input: prepare-build refuses waits that would not fit in it with
       * their cleanup. The built-in default is the definition's own (statemachine/snapshot-factory.asl.json).
       */
      executionSeconds: z._default(executionTimeoutSecondsSchema, DEFINITION_TIMEOUT_SECONDS),
    }),
    {},
  ),
  /** Zones in which every new snapshot gets Fast Snapshot Restore before it becomes current; unset: none. */
  fastSnapshotRestore: z.optional(s.fastSnapshotRestore),
  /** Regions every new snapshot is copied to before it is published (setting `copies`); unset: none. */
  copies: z.optional(s.copies),
  tags: z._default(s.tags, {}),
  /** Deploy-time retention of superseded snapshots (setting `retention`, functions/lib/lifecycle-settings.ts). */
  retention: z.optional(retentionInputSchema),
  /** Deploy-time sharing of published snapshots (setting `sharing`). */
  sharing: z.optional(sharingInputSchema),
});
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

/** The last `FACTORY_DEFAULTS` parsed, and what it gave. */
let parsedDefaults = { raw: process.env.FACTORY_DEFAULTS, defaults: parseBuildDefaults(process.env.FACTORY_DEFAULTS) };

/**
 * The deployed defaults. Parsed at import, so a bad `FACTORY_DEFAULTS` fails at cold start rather than on the first
 * build, and parsed again only when the variable changed: in Lambda it never does, but one process that runs several
 * simulated deployments (the tests, the local endpoint) sees each one's defaults, whatever imported this module first.
 */
export const deployedDefaults = (): BuildDefaults => {
  const raw = process.env.FACTORY_DEFAULTS;
  if (raw !== parsedDefaults.raw) parsedDefaults = { raw, defaults: parseBuildDefaults(raw) };
  return parsedDefaults.defaults;
};
