/**
 * State `ShareSnapshots`: just before `PublishSnapshot`, on both paths into it (after the build, and on
 * `REPUBLISH`). Grants `createVolumePermission` on every snapshot about to be published to each account of
 * `plan.lifecycle.sharing.accountIds`, so that the `Snapshot Ready` event never names a snapshot a consumer account
 * cannot use yet. A snapshot's permission list is read first and only missing accounts are added: a retry or a
 * republish adds nothing twice. One ModifySnapshotAttribute call per account: IAM checks the added account with
 * the single-valued key `ec2:Add/userId`, so the factory's policy can name exactly the configured accounts.
 *
 * Sharing with an organization or organizational unit is not offered: EBS snapshots take only account IDs and the
 * group `all` (CreateVolumePermission has `UserId` and `Group`, unlike an AMI's LaunchPermission, which also has
 * `OrganizationArn`; EC2 API reference, CreateVolumePermission). `all` (public) is never granted.
 *
 * A build's cross-region copies (`copies`, made before this state) are shared the same way, each in its own region,
 * so a consumer account can use the copy the Snapshot Ready event of that region names.
 *
 * Returns `{ accountIds, granted }`: the accounts and, per snapshot (and its region), the accounts added by this
 * invocation.
 *
 * Throws TransientAwsError (retryable), AccessDeniedError, AwsRequestError (e.g. `InvalidParameterValue` for an account
 * ID EC2 does not accept), InvalidInputError.
 */
import { DescribeSnapshotAttributeCommand, ModifySnapshotAttributeCommand } from '@aws-sdk/client-ec2';
import * as z from './lib/zod-mini';
import { homeRegion } from './lib/regional-clients';
import { ec2In } from './lib/regional/ec2';
import { callAws } from './lib/errors';
import { planLifecycleSchema } from './lib/lifecycle-settings';
import { logger } from './lib/logger';
import { defineStage } from './lib/stage';

const inputSchema = z.object({
  plan: z.looseObject({
    recipe: z.string().check(z.minLength(1)),
    lifecycle: planLifecycleSchema,
    republish: z._default(z.array(z.looseObject({ snapshotId: z.string().check(z.startsWith('snap-')) })), []),
  }),
  /** The Map's results; `[]` on the republish path, where the snapshots are `plan.republish`. */
  builds: z._default(
    z.array(
      z.looseObject({
        snapshotId: z.string().check(z.startsWith('snap-')),
        /** The build's cross-region copies (CheckSnapshotCopies); empty without `copies`. */
        copies: z._default(z.array(z.looseObject({ region: z.string().check(z.minLength(1)), snapshotId: z.string().check(z.startsWith('snap-')) })), []),
      }),
    ),
    [],
  ),
});
type Input = z.infer<typeof inputSchema>;

export interface ShareOutput {
  accountIds: string[];
  granted: { region: string; snapshotId: string; accountIds: string[] }[];
}

const run = async ({ plan, builds }: Input): Promise<ShareOutput> => {
  const { accountIds } = plan.lifecycle.sharing;
  const home = homeRegion();
  const targets = uniqueTargets([
    ...[...builds, ...plan.republish].map((b) => ({ region: home, snapshotId: b.snapshotId })),
    ...builds.flatMap((b) => b.copies.map((c) => ({ region: c.region, snapshotId: c.snapshotId }))),
  ]);
  const granted: ShareOutput['granted'] = [];
  if (accountIds.length === 0) return { accountIds, granted };
  for (const { region, snapshotId } of targets) {
    const ec2 = ec2In(region);
    const attribute = await callAws(`ec2:DescribeSnapshotAttribute ${snapshotId} (${region})`, () =>
      ec2.send(new DescribeSnapshotAttributeCommand({ SnapshotId: snapshotId, Attribute: 'createVolumePermission' })),
    );
    const has = new Set((attribute.CreateVolumePermissions ?? []).map((p) => p.UserId));
    const missing = accountIds.filter((account) => !has.has(account));
    for (const account of missing) {
      await callAws(`ec2:ModifySnapshotAttribute ${snapshotId} (${region}) add ${account}`, () =>
        ec2.send(new ModifySnapshotAttributeCommand({ SnapshotId: snapshotId, Attribute: 'createVolumePermission', CreateVolumePermission: { Add: [{ UserId: account }] } })),
      );
    }
    granted.push({ region, snapshotId, accountIds: missing });
  }
  logger.info('snapshots shared', { recipe: plan.recipe, accountIds, granted });
  return { accountIds, granted };
};

/** Each (region, snapshot) once: a combined-layout snapshot is the result of one build but serves several. */
const uniqueTargets = (targets: { region: string; snapshotId: string }[]) =>
  targets.filter((t, i) => targets.findIndex((o) => o.region === t.region && o.snapshotId === t.snapshotId) === i);

export const handler = defineStage('share-snapshots', inputSchema, run);
