/**
 * The factory's deploy-time settings: read from `cdk.json` context (key `snapshotFactory`) or from the
 * construct's props, validated here and only here, at synth time. Every error names the setting, the
 * value received and what is expected, so a typo fails `cdk synth` instead of a build at 3 a.m.
 *
 * The validated settings become the workflow's defaults (`FACTORY_DEFAULTS` of prepare-build), the
 * infrastructure's shape (network, log retention, time limits) and the scope of every IAM policy.
 */
import { z } from 'zod';

/** Context key in `cdk.json` holding the settings. */
export const CONTEXT_KEY = 'snapshotFactory';

/** CloudWatch Logs accepts only these retention periods (days). */
export const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;

const subnetId = z.string().regex(/^subnet-[0-9a-f]{8,17}$/, 'a subnet ID such as subnet-0123456789abcdef0');
const securityGroupId = z.string().regex(/^sg-[0-9a-f]{8,17}$/, 'a security group ID such as sg-0123456789abcdef0');
const kmsKeyArn = z
  .string()
  .regex(
    /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[0-9a-zA-Z-]+$/,
    'a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>); aliases cannot scope IAM policies',
  );
const instanceType = z.string().regex(/^[a-z][a-z0-9-]*\.[a-z0-9]+$/, 'an EC2 instance type such as m7g.large');
const seconds = (min: number, max: number) => z.number().int().min(min).max(max);

/** The settings; each field's default is documented in docs/configuration.md. */
export const settingsSchema = z
  .object({
    /** Kubernetes version of the Bottlerocket variant whose AMI the builder boots. */
    kubernetesVersion: z
      .string()
      .regex(/^1\.\d{2}$/, 'a Kubernetes minor version such as "1.35"')
      .default('1.35'),
    /** Bottlerocket variant flavour: standard, NVIDIA or FIPS. */
    variantFlavor: z.enum(['standard', 'nvidia', 'fips']).default('standard'),
    /**
     * SSM parameter holding the AMI ID; `{architecture}` is replaced by x86_64 or arm64.
     * Overrides kubernetesVersion/variantFlavor (the old script's -a).
     */
    amiParameter: z
      .string()
      .regex(/^\/aws\/service\/bottlerocket\/[A-Za-z0-9_.{}\/-]+$/, 'a Bottlerocket AMI parameter path under /aws/service/bottlerocket/')
      .optional(),
    /** Architectures built by default (one builder each). */
    architectures: z.array(z.enum(['x86_64', 'arm64'])).min(1).default(['x86_64']),
    /** Instance types tried in order, per architecture. */
    instanceTypes: z
      .object({
        x86_64: z.array(instanceType).min(1).default(['m7i.large', 'm6i.large', 'm5.large']),
        arm64: z.array(instanceType).min(1).default(['m7g.large', 'm6g.large']),
      })
      .prefault({}),
    /** Data volume (/dev/xvdb) that becomes the snapshot. */
    dataVolume: z
      .object({
        sizeGiB: z.number().int().min(1).max(16384).default(100),
        iops: z.number().int().min(3000).max(80000).default(4000),
        throughputMiBps: z.number().int().min(125).max(2000).default(1000),
      })
      .prefault({}),
    /** OS volume (/dev/xvda) size. */
    osVolumeSizeGiB: z.number().int().min(2).max(16384).default(4),
    /** Encrypt the builder's volumes (and so the snapshot). */
    encrypted: z.boolean().default(true),
    /** Customer managed key for the volumes; default: the account's aws/ebs key. */
    kmsKeyArn: kmsKeyArn.optional(),
    /** Existing IAM role name for the builder instead of the one the factory creates (the old script's -R). */
    instanceRoleName: z
      .string()
      .regex(/^[\w+=,.@-]{1,64}$/, 'an IAM role name (not an ARN), at most 64 characters')
      .optional(),
    /** VPC of subnetIds; needed to create the builder security group when securityGroupIds is empty. */
    vpcId: z.string().regex(/^vpc-[0-9a-f]{8,17}$/, 'a VPC ID such as vpc-0123456789abcdef0').optional(),
    /** Subnets the builder may launch in; the first is the default. Empty: the factory creates its own VPC. */
    subnetIds: z.array(subnetId).default([]),
    /** Security groups of the builder. Empty: the factory creates one with no inbound rule and HTTPS egress only. */
    securityGroupIds: z.array(securityGroupId).default([]),
    /** Give the builder a public IP (needed in public subnets without NAT). Default: true in the factory's own VPC, else false. */
    associatePublicIp: z.boolean().optional(),
    /** ECR repositories the builder may pull from (ARNs, wildcards allowed). Default: every repository of this account. */
    ecrRepositoryArns: z
      .array(z.string().regex(/^arn:aws[a-z-]*:ecr:[a-z0-9-*]+:(\d{12}|\*):repository\/.+$/, 'an ECR repository ARN'))
      .optional(),
    /** Images pulled at once on the builder. */
    pullConcurrency: z.number().int().min(1).max(32).default(4),
    /** Time limits of the workflow, in seconds. */
    timeLimits: z
      .object({
        ssmOnlineSeconds: seconds(60, 3600).default(600),
        pullSeconds: seconds(60, 172800).default(3600),
        stopSeconds: seconds(60, 3600).default(600),
        snapshotSeconds: seconds(300, 86400).default(7200),
        executionSeconds: seconds(900, 31536000).default(4 * 3600),
      })
      .prefault({}),
    /** Retention of every log group of the factory, in days. */
    logRetentionDays: z
      .number()
      .refine((days) => (LOG_RETENTION_DAYS as readonly number[]).includes(days), {
        message: `one of CloudWatch Logs' retention periods: ${LOG_RETENTION_DAYS.join(', ')}`,
      })
      .default(30),
    /** Powertools log level of the functions. */
    logLevel: z.enum(['DEBUG', 'INFO', 'WARN', 'ERROR']).default('INFO'),
    /** Extra SSM parameter written with the snapshot ID of every build (the old script's -op). */
    resultParameter: z
      .string()
      .regex(/^\/[A-Za-z0-9_.\/-]{1,1010}$/, 'a parameter name starting with / (letters, digits, _ . / -)')
      .refine((name) => !/^\/(aws|ssm)/i.test(name), 'a name not under /aws or /ssm (reserved by AWS)')
      .optional(),
    /** Builders older than this are terminated by the hourly reaper. */
    reaperMaxAgeHours: z.number().int().min(1).max(168).default(6),
    /** Named build recipes (schedules, ECR-push triggers); validated by functions/lib/recipes.ts. */
    recipes: z.array(z.unknown()).default([]),
    /** Extra tags applied to every resource the builds create. */
    tags: z.record(z.string().min(1).max(128), z.string().max(256)).default({}),
  })
  .strict()
  .superRefine((settings, ctx) => {
    if (settings.kmsKeyArn && !settings.encrypted) {
      ctx.addIssue({
        code: 'custom',
        path: ['kmsKeyArn'],
        message: 'kmsKeyArn is set but encrypted is false: set encrypted to true (or remove kmsKeyArn)',
      });
    }
    if (settings.subnetIds.length > 0 && settings.securityGroupIds.length === 0 && !settings.vpcId) {
      ctx.addIssue({
        code: 'custom',
        path: ['vpcId'],
        message: 'subnetIds are set without securityGroupIds: set vpcId (the VPC of those subnets) so the factory can create the builder security group there, or set securityGroupIds',
      });
    }
    if (settings.subnetIds.length === 0 && (settings.vpcId || settings.securityGroupIds.length > 0)) {
      ctx.addIssue({
        code: 'custom',
        path: ['subnetIds'],
        message: 'vpcId or securityGroupIds are set without subnetIds: name the subnets the builder launches in',
      });
    }
    const limits = settings.timeLimits;
    const waits = limits.ssmOnlineSeconds + limits.pullSeconds + limits.stopSeconds + limits.snapshotSeconds;
    if (limits.executionSeconds < waits) {
      ctx.addIssue({
        code: 'custom',
        path: ['timeLimits', 'executionSeconds'],
        message: `must be at least the sum of the wait limits (${waits} s) so a build can finish`,
      });
    }
  });

/** Settings as written in cdk.json or props (every field optional). */
export type SnapshotFactorySettingsInput = z.input<typeof settingsSchema>;
/** Settings after defaults and validation. */
export type SnapshotFactorySettings = z.output<typeof settingsSchema>;

/** Thrown at synth time for an invalid setting. */
export class InvalidSettingsError extends Error {
  override readonly name = 'InvalidSettingsError';
}

const valueAt = (root: unknown, path: readonly PropertyKey[]): unknown => {
  let value: unknown = root;
  for (const key of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<PropertyKey, unknown>)[key as string];
  }
  return value;
};

const describe = (value: unknown): string => (value === undefined ? 'nothing' : JSON.stringify(value));

/**
 * Validates raw settings and fills the defaults.
 *
 * @param raw settings from cdk.json context or props
 * @param source where they came from, named in errors (e.g. `cdk.json context "snapshotFactory"`)
 * @throws InvalidSettingsError naming each bad setting, the value received and what was expected
 * @example parseSettings({ dataVolume: { sizeGiB: 200 } }, 'props').dataVolume.iops // 4000
 */
export const parseSettings = (raw: unknown, source: string): SnapshotFactorySettings => {
  const result = settingsSchema.safeParse(raw ?? {});
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => {
    const key = issue.path.map(String).join('.') || '(root)';
    if (issue.code === 'unrecognized_keys') {
      return `- unknown setting(s) ${issue.keys.map((k) => `"${[...issue.path.map(String), k].join('.')}"`).join(', ')}: see docs/configuration.md for the accepted settings`;
    }
    return `- setting "${key}" = ${describe(valueAt(raw, issue.path))}: expected ${issue.message}`;
  });
  throw new InvalidSettingsError(`Invalid snapshot factory settings in ${source}:\n${lines.join('\n')}`);
};

/** The AMI parameter path of `architecture` under these settings. */
export const amiParameterFor = (settings: SnapshotFactorySettings, architecture: 'x86_64' | 'arm64'): string => {
  if (settings.amiParameter) return settings.amiParameter.replaceAll('{architecture}', architecture);
  const flavor = settings.variantFlavor === 'standard' ? '' : `-${settings.variantFlavor}`;
  return `/aws/service/bottlerocket/aws-k8s-${settings.kubernetesVersion}${flavor}/${architecture}/latest/image_id`;
};
