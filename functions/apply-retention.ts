/**
 * State `ApplyRetention`: after `PublishSnapshot` (on the build and the republish path), whose output it receives
 * with the plan's `lifecycle` (retention and sharing as PrepareBuild resolved them). In every region of
 * `regions` (the home region when none is given), keeps, per architecture of the recipe, the current snapshot and
 * the `lifecycle.retention.keepSuperseded` most recently published superseded ones, and deletes the older
 * ones the factory published (tags `snapshot-factory:managed = true`, `snapshot-factory:recipe = <recipe>`,
 * `snapshot-factory:published-at`). Never deleted: a snapshot a `snapshot-id` parameter of the recipe names in that
 * region (either architecture: a combined-layout snapshot serves both), one this execution just published, one in
 * `retention.pinnedSnapshotIds`, one tagged `snapshot-factory:retain = true`, and one EC2 refuses to delete because
 * an AMI uses it (`InvalidSnapshot.InUse`, reported as kept). Pinned and retained snapshots do not count towards
 * `keepSuperseded`. Snapshots never published belong to cleanup and the reaper, not to retention.
 *
 * Then it withdraws, from every snapshot it keeps, the `createVolumePermission` of accounts no longer in
 * `lifecycle.sharing.accountIds` (sharing removed from a recipe ends with the next publish); deleting a
 * snapshot ends its permissions with it.
 *
 * With `retention.dryRun` nothing is deleted or withdrawn: the output lists what would be.
 *
 * Returns the publish output it received (the execution's output) with `retention`: per region what was deleted
 * (or would be), what was kept and why, and the steps that failed. A snapshot that could not be deleted is
 * reported and left for the next run; the state fails only when it cannot tell what is current or list the
 * snapshots (nothing may be deleted on a guess).
 *
 * Throws TransientAwsError (retryable: throttling, a 5xx), AccessDeniedError, AwsRequestError (reading the parameters
 * or listing snapshots), InvalidInputError.
 */
import { DeleteSnapshotCommand, DescribeSnapshotAttributeCommand, ModifySnapshotAttributeCommand, paginateDescribeSnapshots, type EC2Client, type Snapshot } from '@aws-sdk/client-ec2';
import * as z from './lib/zod-mini';
import { TAG_PUBLISHED_AT, snapshotIdParameterName } from './lib/current-snapshot';
import { TransientAwsError, awsErrorCode, callAws } from './lib/errors';
import { DEFAULT_PLAN_LIFECYCLE, planLifecycleSchema, type Retention } from './lib/lifecycle-settings';
import { logger } from './lib/logger';
import { homeRegion } from './lib/regional-clients';
import { ec2In } from './lib/regional/ec2';
import { ssmIn } from './lib/regional/ssm';
import { ARCHITECTURES } from './lib/schemas';
import { TAG_RETAIN, currentSnapshotIds, tagOf } from './lib/snapshot-ownership';
import { defineStage } from './lib/stage';
import { TAG_ARCHITECTURE, TAG_MANAGED, TAG_RECIPE } from './lib/tags';

const inputSchema = z.object({
  /**
   * PublishSnapshot's output, with the plan's `lifecycle`: returned as the execution's output, `retention` added and
   * `lifecycle` left out (only PublishSnapshot's output travels on, not the plan and its image list).
   */
  published: z.looseObject({
    recipe: z.string().check(z.minLength(1)),
    snapshots: z.array(z.looseObject({ snapshotId: z.string().check(z.startsWith('snap-')) })),
    lifecycle: z._default(planLifecycleSchema, DEFAULT_PLAN_LIFECYCLE),
  }),
  /** Regions whose copies of the recipe's snapshots retention applies to; default: the function's own region. */
  regions: z.optional(z.array(z.string().check(z.regex(/^[a-z]{2}(-[a-z]+)+-\d+$|^home$/, 'expected a region name such as us-west-2'))).check(z.minLength(1))),
});
type Input = z.infer<typeof inputSchema>;

/** Why a snapshot is kept. */
export type KeepReason = 'current' | 'published-now' | 'pinned' | 'retained' | 'recent' | 'in-use';

export interface RegionRetention {
  region: string;
  /** Deleted (or, with dryRun, that would be), oldest first within each architecture. */
  deletedSnapshotIds: string[];
  kept: { snapshotId: string; architecture: string; reason: KeepReason }[];
  /** Accounts whose createVolumePermission was withdrawn (or would be) from a kept snapshot. */
  revoked: { snapshotId: string; accountIds: string[] }[];
  failures: { snapshotId: string; action: string; reason: string }[];
}

export interface RetentionReport {
  keepSuperseded: number;
  dryRun: boolean;
  regions: RegionRetention[];
}

const run = async (input: Input) => {
  const { lifecycle, ...published } = input.published;
  const { retention, sharing } = lifecycle;
  const recipe = published.recipe;
  const regions = input.regions ?? [homeRegion()];
  const justPublished = new Set(published.snapshots.map((s) => s.snapshotId));
  const report: RetentionReport = { keepSuperseded: retention.keepSuperseded, dryRun: retention.dryRun, regions: [] };
  for (const region of regions) {
    report.regions.push(await applyInRegion(region, recipe, retention, sharing.accountIds, justPublished));
  }
  const failures = report.regions.flatMap((r) => r.failures);
  logger.info(retention.dryRun ? 'retention dry run' : 'retention applied', {
    recipe,
    deleted: report.regions.flatMap((r) => r.deletedSnapshotIds),
    failures: failures.length,
  });
  // A transient failure is worth the state's retries; a terminal one is reported and left for the next publish.
  if (failures.some((f) => f.reason.startsWith('TransientAwsError'))) {
    throw new TransientAwsError(`retention of recipe ${recipe}: ${failures.map((f) => `${f.action} ${f.snapshotId}: ${f.reason}`).join('; ')}`);
  }
  return { ...published, retention: report };
};

const applyInRegion = async (region: string, recipe: string, retention: Retention, sharedWith: string[], justPublished: Set<string>): Promise<RegionRetention> => {
  const ec2 = ec2In(region);
  const out: RegionRetention = { region, deletedSnapshotIds: [], kept: [], revoked: [], failures: [] };
  // Without knowing what is current nothing may be deleted: this throws (the state retries or fails).
  const current = await currentSnapshotIds(ARCHITECTURES.map((architecture) => snapshotIdParameterName(recipe, architecture)), ssmIn(region));
  const published = await publishedSnapshots(ec2, recipe);
  const byArchitecture = new Map<string, Snapshot[]>();
  for (const snapshot of published) {
    const architecture = tagOf(snapshot, TAG_ARCHITECTURE) ?? 'unknown';
    byArchitecture.set(architecture, [...(byArchitecture.get(architecture) ?? []), snapshot]);
  }
  for (const [architecture, snapshots] of [...byArchitecture].sort(([a], [b]) => a.localeCompare(b))) {
    // Newest publish first; the tag is an ISO-8601 timestamp, so text order is time order.
    const newestFirst = [...snapshots].sort((a, b) => (tagOf(b, TAG_PUBLISHED_AT) ?? '').localeCompare(tagOf(a, TAG_PUBLISHED_AT) ?? ''));
    let recent = 0;
    const doomed: Snapshot[] = [];
    for (const snapshot of newestFirst) {
      const id = snapshot.SnapshotId!;
      const reason = protectedReason(snapshot, current, justPublished, retention);
      if (reason) out.kept.push({ snapshotId: id, architecture, reason });
      else if (recent < retention.keepSuperseded) {
        recent += 1;
        out.kept.push({ snapshotId: id, architecture, reason: 'recent' });
      } else doomed.push(snapshot);
    }
    for (const snapshot of doomed.reverse()) {
      const id = snapshot.SnapshotId!;
      if (retention.dryRun) {
        out.deletedSnapshotIds.push(id);
        continue;
      }
      const outcome = await deleteSnapshot(ec2, id);
      if (outcome === 'deleted' || outcome === 'gone') out.deletedSnapshotIds.push(id);
      else if (outcome === 'in-use') out.kept.push({ snapshotId: id, architecture, reason: 'in-use' });
      else out.failures.push({ snapshotId: id, action: 'ec2:DeleteSnapshot', reason: outcome.failure });
    }
  }
  for (const { snapshotId } of out.kept) await withdrawStaleShares(ec2, snapshotId, sharedWith, retention.dryRun, out);
  return out;
};

const protectedReason = (snapshot: Snapshot, current: ReadonlySet<string>, justPublished: ReadonlySet<string>, retention: Retention): KeepReason | undefined => {
  const id = snapshot.SnapshotId!;
  if (current.has(id)) return 'current';
  if (justPublished.has(id)) return 'published-now';
  if (retention.pinnedSnapshotIds.includes(id)) return 'pinned';
  if (tagOf(snapshot, TAG_RETAIN) === 'true') return 'retained';
  return undefined;
};

/** The recipe's snapshots the factory published in this region (own account, completed, publish-time tag). */
const publishedSnapshots = async (ec2: EC2Client, recipe: string): Promise<Snapshot[]> => {
  const found: Snapshot[] = [];
  const pages = paginateDescribeSnapshots(
    { client: ec2, pageSize: 1000 },
    {
      OwnerIds: ['self'],
      Filters: [
        { Name: `tag:${TAG_MANAGED}`, Values: ['true'] },
        { Name: `tag:${TAG_RECIPE}`, Values: [recipe] },
        { Name: 'status', Values: ['completed'] },
      ],
    },
  );
  await callAws(`ec2:DescribeSnapshots of recipe ${recipe}`, async () => {
    for await (const page of pages) found.push(...(page.Snapshots ?? []));
  });
  return found.filter((snapshot) => snapshot.SnapshotId && tagOf(snapshot, TAG_PUBLISHED_AT));
};

type DeleteOutcome = 'deleted' | 'gone' | 'in-use' | { failure: string };

/**
 * DeleteSnapshot's answers (EC2 API reference, DeleteSnapshot and "Error codes"): `InvalidSnapshot.InUse` when a
 * registered AMI uses the snapshot (deregister the AMI first), `InvalidSnapshot.NotFound` when it is already gone.
 */
const deleteSnapshot = async (ec2: EC2Client, snapshotId: string): Promise<DeleteOutcome> => {
  try {
    await callAws(`ec2:DeleteSnapshot ${snapshotId}`, () => ec2.send(new DeleteSnapshotCommand({ SnapshotId: snapshotId })));
    return 'deleted';
  } catch (error) {
    const code = awsErrorCode((error as Error).cause);
    if (code === 'InvalidSnapshot.NotFound') return 'gone';
    if (code === 'InvalidSnapshot.InUse') return 'in-use';
    return { failure: `${(error as Error).name}: ${(error as Error).message}` };
  }
};

/** Withdraws createVolumePermission from accounts no longer configured; a public (`all`) grant is never the factory's, so it is left as it is. */
const withdrawStaleShares = async (ec2: EC2Client, snapshotId: string, sharedWith: string[], dryRun: boolean, out: RegionRetention): Promise<void> => {
  try {
    const attribute = await callAws(`ec2:DescribeSnapshotAttribute ${snapshotId}`, () =>
      ec2.send(new DescribeSnapshotAttributeCommand({ SnapshotId: snapshotId, Attribute: 'createVolumePermission' })),
    );
    const stale = (attribute.CreateVolumePermissions ?? []).flatMap((p) => (p.UserId && !sharedWith.includes(p.UserId) ? [p.UserId] : []));
    if (stale.length === 0) return;
    if (!dryRun) {
      for (const account of stale) {
        // One account per call: ec2:Remove/userId is single-valued, so IAM checks each account on its own.
        await callAws(`ec2:ModifySnapshotAttribute ${snapshotId} remove ${account}`, () =>
          ec2.send(new ModifySnapshotAttributeCommand({ SnapshotId: snapshotId, Attribute: 'createVolumePermission', CreateVolumePermission: { Remove: [{ UserId: account }] } })),
        );
      }
    }
    out.revoked.push({ snapshotId, accountIds: stale });
  } catch (error) {
    out.failures.push({ snapshotId, action: 'withdraw createVolumePermission', reason: `${(error as Error).name}: ${(error as Error).message}` });
  }
};

export const handler = defineStage('apply-retention', inputSchema, run);
