/**
 * The factory's deploy-time settings: read from `cdk.json` context (key `snapshotFactory`) or from the
 * construct's props, validated here and only here, at synth time. Every error names the setting, the
 * value received and what is expected, so a typo fails `cdk synth` instead of a build at 3 a.m.
 *
 * The validated settings become the workflow's defaults (`FACTORY_DEFAULTS` of prepare-build), the
 * infrastructure's shape (network, log retention, time limits) and the scope of every IAM policy.
 */
import * as z from 'zod';
import { DEFINITION_TIMEOUT_SECONDS, PULL_LIMIT_MARGIN_SECONDS, buildDefaultsSchema, executionTimeoutSecondsSchema, settingSchemas } from '../functions/lib/build-defaults';
import { worstCaseExecutionSeconds } from '../functions/lib/execution-budget';
import { defaultFastSnapshotRestoreSeconds, fastSnapshotRestoreWorstCaseSeconds } from '../functions/lib/fast-snapshot-restore';
import { retentionInputSchema, sharingInputSchema } from '../functions/lib/lifecycle-settings';
import { recipesSchema } from '../functions/lib/recipes';
import { resultParameterNameProblem } from '../functions/lib/result-parameter';

/** Context key in `cdk.json` holding the settings. */
export const CONTEXT_KEY = 'snapshotFactory';

/** CloudWatch Logs accepts only these retention periods (days). */
export const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;

const subnetId = z.string().regex(/^subnet-[0-9a-f]{8,17}$/, 'expected a subnet ID such as subnet-0123456789abcdef0');
const securityGroupId = z.string().regex(/^sg-[0-9a-f]{8,17}$/, 'expected a security group ID such as sg-0123456789abcdef0');

/** The workflow's built-in defaults (functions/lib/build-defaults.ts): the settings' defaults are the same values. */
const BUILT_IN = buildDefaultsSchema.parse({});
const s = settingSchemas;

/** The settings; docs/configuration.md describes each one. */
export const settingsSchema = z
  .object({
    /** Kubernetes version of the Bottlerocket variant whose AMI the builder boots. */
    kubernetesVersion: z._default(s.kubernetesVersion, BUILT_IN.kubernetesVersion),
    /** Bottlerocket variant: standard, NVIDIA or FIPS. */
    variant: z._default(s.variant, BUILT_IN.variant),
    /** AMI SSM parameter (the old script's -a); `{arch}` becomes x86_64 or arm64. Wins over kubernetesVersion/variant. */
    amiParameter: z
      .string()
      .regex(/^\/aws\/service\/bottlerocket\/[A-Za-z0-9_.{}\/-]+$/, 'expected a Bottlerocket AMI parameter path under /aws/service/bottlerocket/ (the functions may read only those)')
      .optional(),
    /** Architectures built when an execution names none (the old script's -A). */
    architectures: z._default(s.architectures, BUILT_IN.architectures),
    /** per-architecture (one snapshot each) or combined (one snapshot holding every platform). */
    layout: z._default(s.layout, BUILT_IN.layout),
    /** Instance types tried in order, per architecture (the old script's -i). */
    instanceTypes: z
      .object({
        x86_64: z._default(s.instanceTypes, BUILT_IN.instanceTypes.x86_64),
        arm64: z._default(s.instanceTypes, BUILT_IN.instanceTypes.arm64),
      })
      .strict()
      .prefault({}),
    /** Data volume (/dev/xvdb) that becomes the snapshot (the old script's -s, -e, -k). */
    dataVolume: z
      .object({
        sizeGiB: z._default(s.sizeGiB, BUILT_IN.dataVolume.sizeGiB),
        iops: z._default(s.iops, BUILT_IN.dataVolume.iops),
        throughputMiBps: z._default(s.throughputMiBps, BUILT_IN.dataVolume.throughputMiBps),
        /** Encrypt the builder's volumes and so the snapshots. */
        encrypted: z.boolean().default(true),
        /** Customer managed key for the volumes; default: the account's aws/ebs key. */
        kmsKeyArn: z.optional(s.kmsKeyArn),
      })
      .strict()
      .prefault({}),
    /** OS volume (/dev/xvda) size. */
    osVolumeSizeGiB: z._default(s.osVolumeSizeGiB, BUILT_IN.osVolumeSizeGiB),
    /** Existing IAM role name for the builder instead of the one the factory creates (the old script's -R). */
    instanceRoleName: z
      .string()
      .regex(/^[\w+=,.@-]{1,64}$/, 'expected an IAM role name (not an ARN), at most 64 characters')
      .optional(),
    /** VPC of subnetIds; needed to create the builder security group when securityGroupIds is empty. */
    vpcId: z.string().regex(/^vpc-[0-9a-f]{8,17}$/, 'expected a VPC ID such as vpc-0123456789abcdef0').optional(),
    /** Subnets the builder may launch in; the first is the default (the old script's -sn). Empty: the factory creates its own VPC. */
    subnetIds: z.array(subnetId).default([]),
    /** Security groups of the builder (the old script's -sg). Empty: the factory creates one with no inbound rule and HTTPS egress only. */
    securityGroupIds: z._default(z.pipe(s.securityGroupIds, z.array(securityGroupId)), []),
    /** Public IP for the builder (the old script's -p). Default: true in the factory's own VPC (public subnets, no NAT), false in given subnets. */
    associatePublicIp: z.boolean().optional(),
    /** ECR repositories the builder and digest resolution may read (ARNs, wildcards allowed). Default: every repository of this account. */
    ecrRepositoryArns: z
      .array(z.string().regex(/^arn:aws[a-z-]*:ecr:[a-z0-9-*]+:(\d{12}|\*):repository\/.+$/, 'expected an ECR repository ARN (arn:aws:ecr:<region>:<account>:repository/<name>)'))
      .min(1)
      .optional(),
    /** The pull on the builder. */
    pull: z
      .object({
        /** (image, platform) pulls run at once on the builder. */
        concurrency: z._default(s.concurrency, BUILT_IN.pull.concurrency),
        /** SSM Run Command timeout of the pull script. */
        commandTimeoutSeconds: z._default(s.commandTimeoutSeconds, BUILT_IN.pull.commandTimeoutSeconds),
      })
      .strict()
      .prefault({}),
    /** Time limits, in seconds. */
    limits: z
      .object({
        ssmOnlineSeconds: z._default(s.ssmOnlineSeconds, BUILT_IN.limits.ssmOnlineSeconds),
        /** The workflow's wait for the pull; default: pull.commandTimeoutSeconds + 300. */
        pullSeconds: z.optional(s.pullSeconds),
        stopSeconds: z._default(s.stopSeconds, BUILT_IN.limits.stopSeconds),
        snapshotSeconds: z._default(s.snapshotSeconds, BUILT_IN.limits.snapshotSeconds),
        /** The wait for Fast Snapshot Restore in every zone; default: 60 min per TiB of dataVolume.sizeGiB + 1800. */
        fastSnapshotRestoreSeconds: z.optional(s.fastSnapshotRestoreSeconds),
        copySeconds: z.optional(s.copySeconds),
        /** Whole execution (state machine TimeoutSeconds). */
        executionSeconds: z._default(executionTimeoutSecondsSchema, DEFINITION_TIMEOUT_SECONDS),
      })
      .strict()
      .prefault({}),
    /** Retention of every log group of the factory, in days. */
    logRetentionDays: z
      .number()
      .refine((days) => (LOG_RETENTION_DAYS as readonly number[]).includes(days), {
        message: `expected one of CloudWatch Logs' retention periods: ${LOG_RETENTION_DAYS.join(', ')}`,
      })
      .default(30),
    /** Powertools log level of the functions. */
    logLevel: z.enum(['DEBUG', 'INFO', 'WARN', 'ERROR']).default('INFO'),
    /** Builders older than this are terminated by the hourly reaper. */
    reaperMaxAgeHours: z.number().int().min(1).max(168).default(6),
    /** Snapshots an ended execution never published are deleted by the reaper once older than this. */
    reaperSnapshotGraceHours: z.number().int().min(1).max(720).default(24),
    /** Named build recipes (schedules, ECR-push triggers); validated by functions/lib/recipes.ts. */
    recipes: z._default(recipesSchema, []),
    /** Zones in which every new snapshot gets Fast Snapshot Restore before it becomes current (recipes and executions may override). */
    fastSnapshotRestore: z.optional(s.fastSnapshotRestore),
    /** Regions every new snapshot is copied to before it is published, each with an optional key there (recipes and executions may override). */
    copies: z.optional(s.copies),
    /** Extra tags applied to every resource the builds create. */
    tags: z._default(s.tags, {}),
    /** Superseded snapshots kept per recipe and architecture, dry run, pinned IDs (recipes and executions may override). */
    retention: z.optional(retentionInputSchema),
    /** Accounts granted createVolumePermission on every published snapshot (recipes and executions may override). */
    sharing: z.optional(sharingInputSchema),
    /** Failure notifications: an SNS topic with these email subscriptions receives every Snapshot Build Failed event. */
    notifications: z
      .object({ emailAddresses: z.array(z.string().regex(/^[^@\s]+@[^@\s]+\.[^@\s]+$/, 'expected an email address')).max(100).default([]) })
      .strict()
      .optional(),
    /** Extra SSM parameter each snapshot ID is written to (the old script's -op); `{recipe}`, `{architecture}` placeholders. */
    resultParameterName: z
      .string()
      .superRefine((template, ctx) => {
        const problem = resultParameterNameProblem(template);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      })
      .optional(),
  })
  .strict()
  .superRefine((settings, ctx) => {
    if (settings.dataVolume.kmsKeyArn && !settings.dataVolume.encrypted) {
      ctx.addIssue({
        code: 'custom',
        path: ['dataVolume', 'kmsKeyArn'],
        message: 'dataVolume.kmsKeyArn is set but dataVolume.encrypted is false: set dataVolume.encrypted to true (or remove dataVolume.kmsKeyArn)',
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
    for (const problem of sharingKeyProblems(settings)) ctx.addIssue({ code: 'custom', path: problem.path, message: problem.message });
    for (const problem of sharedCopyKeyProblems(settings)) ctx.addIssue({ code: 'custom', path: problem.path, message: problem.message });
    const template = settings.resultParameterName;
    if (template && !template.includes('{architecture}')) {
      const builders = multiArchitectureBuilders(settings);
      if (builders.length > 0) {
        ctx.addIssue({
          code: 'custom',
          path: ['resultParameterName'],
          message: `has no {architecture} placeholder but ${builders.join(' and ')} build${builders.length > 1 ? '' : 's'} one snapshot per architecture: the snapshots would overwrite each other; add {architecture} (or use layout "combined")`,
        });
      }
    }
    if (template && !template.includes('{recipe}') && settings.recipes.length > 1) {
      ctx.addIssue({
        code: 'custom',
        path: ['resultParameterName'],
        message: `has no {recipe} placeholder but ${settings.recipes.length} recipes are configured: their snapshots would overwrite each other; add {recipe}`,
      });
    }
    // The same worst case prepare-build checks every execution against (functions/lib/execution-budget.ts): a
    // deployment whose defaults it would refuse would fail every execution that names no limits.
    const needed = worstCaseExecutionSeconds(waitLimits(settings.limits, settings.pull));
    if (settings.limits.executionSeconds < needed) {
      ctx.addIssue({
        code: 'custom',
        path: ['limits', 'executionSeconds'],
        message: `expected at least ${needed} s: the sum of the wait limits (${waitSeconds(settings.limits, settings.pull)} s) plus the launches, checks and cleanup of a build, so a build can finish and be cleaned up`,
      });
    }
    // With FSR on by default, the same check prepare-build makes (functions/prepare-build.ts) for every execution.
    if (settings.fastSnapshotRestore?.availabilityZones.length && settings.limits.executionSeconds >= needed) {
      const fsrSeconds = settings.limits.fastSnapshotRestoreSeconds ?? defaultFastSnapshotRestoreSeconds(settings.dataVolume.sizeGiB);
      const withFsr = needed + fastSnapshotRestoreWorstCaseSeconds(fsrSeconds);
      if (settings.limits.executionSeconds < withFsr) {
        ctx.addIssue({
          code: 'custom',
          path: ['fastSnapshotRestore'],
          message: `needs limits.executionSeconds of at least ${withFsr} s (the build's waits plus limits.fastSnapshotRestoreSeconds ${fsrSeconds} s), got ${settings.limits.executionSeconds}: raise limits.executionSeconds or lower limits.snapshotSeconds`,
        });
      }
    }
  });

/**
 * Sharing encrypted snapshots needs a customer managed key: the default aws/ebs key's policy cannot grant another
 * account ("Share an Amazon EBS snapshot", EBS User Guide). Checked for the deploy-time setting and each recipe's.
 */
const sharingKeyProblems = (settings: {
  dataVolume: { encrypted: boolean; kmsKeyArn?: string | undefined };
  sharing?: { accountIds?: string[] | undefined } | undefined;
  recipes: readonly { name: string; sharing?: { accountIds?: string[] | undefined } | undefined }[];
}): { path: (string | number)[]; message: string }[] => {
  if (!settings.dataVolume.encrypted || settings.dataVolume.kmsKeyArn) return [];
  const message = 'sharing needs the dataVolume.kmsKeyArn setting when dataVolume.encrypted is true: snapshots encrypted with the default aws/ebs key cannot be shared with other accounts; set dataVolume.kmsKeyArn to a customer managed key whose key policy allows those accounts (docs/configuration.md, "Sharing")';
  return [
    ...((settings.sharing?.accountIds ?? []).length > 0 ? [{ path: ['sharing', 'accountIds'], message }] : []),
    ...settings.recipes.flatMap((recipe, index) => ((recipe.sharing?.accountIds ?? []).length > 0 ? [{ path: ['recipes', index, 'sharing', 'accountIds'], message }] : [])),
  ];
};

/**
 * A copy is always encrypted, with its own `kmsKeyArn` or its region's aws/ebs key, which cannot be shared: a recipe
 * (or the defaults) sharing snapshots must give each of its copies a key. The same check prepare-build makes per
 * execution (functions/prepare-build.ts), here at synth.
 */
const sharedCopyKeyProblems = (settings: {
  sharing?: { accountIds?: string[] | undefined } | undefined;
  copies?: readonly { region: string; kmsKeyArn?: string | undefined }[] | undefined;
  recipes: readonly { sharing?: { accountIds?: string[] | undefined } | undefined; copies?: readonly { region: string; kmsKeyArn?: string | undefined }[] | undefined }[];
}): { path: (string | number)[]; message: string }[] => {
  const problem = (path: (string | number)[], sharing: { accountIds?: string[] | undefined } | undefined, copies: readonly { region: string; kmsKeyArn?: string | undefined }[] | undefined) => {
    const keyless = (sharing?.accountIds ?? []).length > 0 ? (copies ?? []).filter((copy) => !copy.kmsKeyArn).map((copy) => copy.region) : [];
    return keyless.length === 0
      ? []
      : [{ path, message: `shares snapshots but the copies in ${keyless.join(', ')} have no kmsKeyArn: a copy under its region's default aws/ebs key cannot be shared; give each a customer managed key in its region (docs/lifecycle.md, "Sharing")` }];
  };
  return [
    ...problem(['copies'], settings.sharing, settings.copies),
    ...settings.recipes.flatMap((recipe, index) => problem(['recipes', index, 'copies'], recipe.sharing ?? settings.sharing, recipe.copies ?? settings.copies)),
  ];
};

/** Every account any setting shares snapshots with: the deploy-time setting's and each recipe's. */
export const shareAccountIdsOf = (settings: { sharing?: { accountIds?: string[] | undefined } | undefined; recipes: readonly { sharing?: { accountIds?: string[] | undefined } | undefined }[] }): string[] =>
  [...new Set([...(settings.sharing?.accountIds ?? []), ...settings.recipes.flatMap((r) => r.sharing?.accountIds ?? [])])].sort();

/** Every copy region and copy key the settings name (deploy-time `copies` and each recipe's), for the IAM scopes. */
export const copiesOf = (settings: {
  copies?: readonly { region: string; kmsKeyArn?: string | undefined }[] | undefined;
  recipes: readonly { copies?: readonly { region: string; kmsKeyArn?: string | undefined }[] | undefined }[];
}): { regions: string[]; kmsKeyArns: string[] } => {
  const all = [...(settings.copies ?? []), ...settings.recipes.flatMap((r) => r.copies ?? [])];
  return {
    regions: [...new Set(all.map((c) => c.region))].sort(),
    kmsKeyArns: [...new Set(all.flatMap((c) => (c.kmsKeyArn ? [c.kmsKeyArn] : [])))].sort(),
  };
};

/**
 * What builds one snapshot per architecture for more than one architecture: the deployed defaults (executions
 * naming no architectures) and each such recipe. A recipe's own architectures and layout always win over its overrides.
 */
const multiArchitectureBuilders = (settings: {
  architectures: readonly string[];
  layout: string;
  recipes: readonly { name: string; architectures: readonly string[]; layout: string }[];
}): string[] => {
  const multi = (architectures: readonly string[], layout: string) => layout === 'per-architecture' && new Set(architectures).size > 1;
  return [
    ...(multi(settings.architectures, settings.layout) ? [`the default settings (architectures ${settings.architectures.join(', ')})`] : []),
    ...settings.recipes.filter((r) => multi(r.architectures, r.layout)).map((r) => `recipe "${r.name}"`),
  ];
};

type WaitLimits = { ssmOnlineSeconds: number; pullSeconds?: number | undefined; stopSeconds: number; snapshotSeconds: number };

/** The wait limits of one build as the check stages apply them (pullSeconds defaulting to the command timeout + margin). */
const waitLimits = (limits: WaitLimits, pull: { commandTimeoutSeconds: number }) => ({
  ssmOnlineSeconds: limits.ssmOnlineSeconds,
  pullSeconds: limits.pullSeconds ?? pull.commandTimeoutSeconds + PULL_LIMIT_MARGIN_SECONDS,
  stopSeconds: limits.stopSeconds,
  snapshotSeconds: limits.snapshotSeconds,
});

/** Seconds the workflow may spend waiting in one build: SSM online + pull + stop + snapshot. */
export const waitSeconds = (limits: WaitLimits, pull: { commandTimeoutSeconds: number }): number => {
  const waits = waitLimits(limits, pull);
  return waits.ssmOnlineSeconds + waits.pullSeconds + waits.stopSeconds + waits.snapshotSeconds;
};

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
 * The raw settings held by the context key `key`, as an object for {@link parseSettings}.
 *
 * cdk.json gives the context value as JSON already; the CDK CLI's `-c key=value` gives every value as a string
 * (aws-cdk CLI `parseStringContextListToObject`), so a string is parsed as JSON here.
 *
 * @param value the context value (`app.node.tryGetContext(key)`); undefined means no settings
 * @param key the context key, named in errors
 * @returns the settings object and where it came from, for error messages
 * @throws InvalidSettingsError when a string is not valid JSON, the value is not a JSON object, or it names a
 *   construct-only prop (`settingsSource`, `definitionFile`)
 * @example settingsFromContext('{"dataVolume":{"sizeGiB":200}}').settings // { dataVolume: { sizeGiB: 200 } }
 */
export const settingsFromContext = (value: unknown, key: string = CONTEXT_KEY): { settings: Record<string, unknown>; source: string } => {
  if (value === undefined) return { settings: {}, source: `cdk.json context "${key}"` };
  const fromString = typeof value === 'string';
  const source = fromString ? `context "${key}" (a JSON string, as the CDK CLI's -c gives it)` : `cdk.json context "${key}"`;
  const example = `-c ${key}='{"dataVolume":{"sizeGiB":200}}'`;
  let parsed: unknown = value;
  if (fromString) {
    try {
      parsed = JSON.parse(value);
    } catch (error) {
      throw new InvalidSettingsError(
        `Invalid snapshot factory settings in ${source}: not valid JSON (${(error as Error).message}) in ${describeText(value)}; expected a JSON object such as ${example}`,
      );
    }
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    const kind = parsed === null ? 'null' : Array.isArray(parsed) ? 'an array' : `a ${typeof parsed}`;
    throw new InvalidSettingsError(
      `Invalid snapshot factory settings in ${source}: expected a JSON object of settings, received ${kind} (${describeText(JSON.stringify(parsed) ?? String(parsed))}); for example ${example}`,
    );
  }
  // The construct's own props (not settings) would otherwise pass through the app unchecked.
  const propsOnly = ['settingsSource', 'definitionFile'].filter((name) => name in parsed);
  if (propsOnly.length > 0) {
    throw new InvalidSettingsError(
      `Invalid snapshot factory settings in ${source}:\n- unknown setting(s) ${propsOnly.map((name) => `"${name}"`).join(', ')}: a prop of the SnapshotFactory construct, not a setting; see docs/configuration.md for the accepted settings`,
    );
  }
  return { settings: parsed as Record<string, unknown>, source };
};

/** A value quoted for an error message, cut to a readable length. */
const describeText = (text: string): string => JSON.stringify(text.length > 200 ? `${text.slice(0, 200)}...` : text);

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
    return `- setting "${key}" = ${describe(valueAt(raw, issue.path))}: ${issue.message}`;
  });
  throw new InvalidSettingsError(`Invalid snapshot factory settings in ${source}:\n${lines.join('\n')}`);
};
