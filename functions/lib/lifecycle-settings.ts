/**
 * The lifecycle settings of a recipe's snapshots after they are built: how many superseded ones to keep
 * (`retention`) and which accounts may create volumes from them (`sharing`). One name everywhere: the deploy-time
 * setting (cdk.json `snapshotFactory.retention` / `.sharing`), a recipe's own (`recipes[].retention` / `.sharing`),
 * and the execution input (`retention` / `sharing`), the most explicit winning. docs/configuration.md describes them.
 *
 * Kept in a module without side effects (unlike build-defaults.ts, which parses FACTORY_DEFAULTS at import).
 */
import * as z from './zod-mini';

/** At most this many superseded snapshots are kept per recipe and architecture (each costs EBS snapshot storage). */
export const MAX_KEEP_SUPERSEDED = 100;
export const DEFAULT_KEEP_SUPERSEDED = 2;
/** At most this many pinned snapshot IDs: the list travels in the execution input and the plan. */
export const MAX_PINNED_SNAPSHOTS = 100;
/**
 * At most this many accounts: the factory sends one ModifySnapshotAttribute per account and snapshot (so IAM can
 * check each account with `ec2:Add/userId`, a single-valued key), and the list travels in the plan.
 */
export const MAX_SHARED_ACCOUNTS = 50;

const snapshotId = z.string().check(z.regex(/^snap-[0-9a-f]{8,17}$/, 'expected a snapshot ID such as snap-0123456789abcdef0'));
/**
 * A 12-digit AWS account ID: what `createVolumePermission` takes. EBS snapshots are shared with account IDs only:
 * CreateVolumePermission has `UserId` and `Group` (`all`), no organization or OU ARN (EC2 API reference,
 * CreateVolumePermission; an AMI's LaunchPermission has OrganizationArn, a snapshot's does not), so an organization
 * ARN is refused saying what to do instead.
 */
export const accountIdSchema = z.string().check(
  z.superRefine((value, ctx) => {
    if (/^\d{12}$/.test(value)) return;
    ctx.addIssue({
      code: 'custom',
      message: /^arn:aws[a-z-]*:organizations::/.test(value)
        ? `"${value.slice(0, 100)}" is an organization ARN, but EBS snapshots cannot be shared with an organization or organizational unit (createVolumePermission takes account IDs only, unlike AMI launch permissions): list the 12-digit IDs of its accounts`
        : `"${value.slice(0, 100)}" is not a 12-digit AWS account ID`,
    });
  }),
);

/** The retention values as written (every field optional). */
export const retentionInputSchema = z.strictObject({
  /** Superseded snapshots kept per recipe and architecture, next to the current one. */
  keepSuperseded: z.optional(z.integer(z.gte(0), z.lte(MAX_KEEP_SUPERSEDED))),
  /** Report what would be deleted; delete nothing. */
  dryRun: z.optional(z.boolean()),
  /** Snapshots never deleted by retention, whatever their age. */
  pinnedSnapshotIds: z.optional(z.array(snapshotId).check(z.maxLength(MAX_PINNED_SNAPSHOTS))),
});
export type RetentionInput = z.infer<typeof retentionInputSchema>;

/** Retention with its defaults filled. */
export interface Retention {
  keepSuperseded: number;
  dryRun: boolean;
  pinnedSnapshotIds: string[];
}

export const DEFAULT_RETENTION: Retention = { keepSuperseded: DEFAULT_KEEP_SUPERSEDED, dryRun: false, pinnedSnapshotIds: [] };

/** The sharing values as written. */
export const sharingInputSchema = z.strictObject({
  /** Accounts granted `createVolumePermission` on every published snapshot. Empty: shared with nobody. */
  accountIds: z.optional(z.array(accountIdSchema).check(z.maxLength(MAX_SHARED_ACCOUNTS))),
});
export type SharingInput = z.infer<typeof sharingInputSchema>;

export interface Sharing {
  accountIds: string[];
}

export const DEFAULT_SHARING: Sharing = { accountIds: [] };

/**
 * The effective retention: each layer's fields over the one below. `pinnedSnapshotIds` add up across layers (a
 * snapshot pinned at deploy time stays pinned when a recipe pins another one).
 *
 * @example resolveRetention({ keepSuperseded: 3 }, { dryRun: true }) // { keepSuperseded: 3, dryRun: true, pinnedSnapshotIds: [] }
 */
export const resolveRetention = (...layers: (RetentionInput | undefined)[]): Retention => {
  const result: Retention = structuredClone(DEFAULT_RETENTION);
  for (const layer of layers) {
    if (!layer) continue;
    if (layer.keepSuperseded !== undefined) result.keepSuperseded = layer.keepSuperseded;
    if (layer.dryRun !== undefined) result.dryRun = layer.dryRun;
    for (const id of layer.pinnedSnapshotIds ?? []) if (!result.pinnedSnapshotIds.includes(id)) result.pinnedSnapshotIds.push(id);
  }
  return result;
};

/** The effective sharing: the most explicit layer that names `accountIds` wins (`[]` there stops sharing). */
export const resolveSharing = (...layers: (SharingInput | undefined)[]): Sharing => {
  let accountIds: string[] = [];
  for (const layer of layers) if (layer?.accountIds !== undefined) accountIds = [...new Set(layer.accountIds)];
  return { accountIds };
};

/** What the plan carries for the states after the build (ShareSnapshots, PublishSnapshot, ApplyRetention). */
export interface PlanLifecycle {
  retention: Retention;
  sharing: Sharing;
}

export const planLifecycleSchema = z.object({
  retention: z.object({
    keepSuperseded: z.integer(z.gte(0), z.lte(MAX_KEEP_SUPERSEDED)),
    dryRun: z.boolean(),
    pinnedSnapshotIds: z.array(snapshotId).check(z.maxLength(MAX_PINNED_SNAPSHOTS * 3)),
  }),
  sharing: z.object({ accountIds: z.array(accountIdSchema).check(z.maxLength(MAX_SHARED_ACCOUNTS)) }),
});

export const DEFAULT_PLAN_LIFECYCLE: PlanLifecycle = { retention: DEFAULT_RETENTION, sharing: DEFAULT_SHARING };
