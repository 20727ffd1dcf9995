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
 * Returns `{ accountIds, granted }`: the accounts and, per snapshot, the accounts added by this invocation.
 *
 * Throws TransientAwsError (retryable), AccessDeniedError, AwsRequestError (e.g. `InvalidParameterValue` for an account
 * ID EC2 does not accept), InvalidInputError.
 */
import { DescribeSnapshotAttributeCommand, ModifySnapshotAttributeCommand } from '@aws-sdk/client-ec2';
import * as z from 'zod';
import { ec2 } from './lib/clients/ec2';
import { callAws } from './lib/errors';
import { planLifecycleSchema } from './lib/lifecycle-settings';
import { logger } from './lib/logger';
import { defineStage } from './lib/stage';

const inputSchema = z.object({
  plan: z
    .object({
      recipe: z.string().min(1),
      lifecycle: planLifecycleSchema,
      republish: z.array(z.object({ snapshotId: z.string().startsWith('snap-') }).passthrough()).default([]),
    })
    .passthrough(),
  /** The Map's results; `[]` on the republish path, where the snapshots are `plan.republish`. */
  builds: z.array(z.object({ snapshotId: z.string().startsWith('snap-') }).passthrough()).default([]),
});
type Input = z.infer<typeof inputSchema>;

export interface ShareOutput {
  accountIds: string[];
  granted: { snapshotId: string; accountIds: string[] }[];
}

const run = async ({ plan, builds }: Input): Promise<ShareOutput> => {
  const { accountIds } = plan.lifecycle.sharing;
  const snapshotIds = [...new Set([...builds, ...plan.republish].map((b) => b.snapshotId))];
  const granted: ShareOutput['granted'] = [];
  if (accountIds.length === 0) return { accountIds, granted };
  for (const snapshotId of snapshotIds) {
    const attribute = await callAws(`ec2:DescribeSnapshotAttribute ${snapshotId}`, () =>
      ec2.send(new DescribeSnapshotAttributeCommand({ SnapshotId: snapshotId, Attribute: 'createVolumePermission' })),
    );
    const has = new Set((attribute.CreateVolumePermissions ?? []).map((p) => p.UserId));
    const missing = accountIds.filter((account) => !has.has(account));
    for (const account of missing) {
      await callAws(`ec2:ModifySnapshotAttribute ${snapshotId} add ${account}`, () =>
        ec2.send(new ModifySnapshotAttributeCommand({ SnapshotId: snapshotId, Attribute: 'createVolumePermission', CreateVolumePermission: { Add: [{ UserId: account }] } })),
      );
    }
    granted.push({ snapshotId, accountIds: missing });
  }
  logger.info('snapshots shared', { recipe: plan.recipe, accountIds, granted });
  return { accountIds, granted };
};

export const handler = defineStage('share-snapshots', inputSchema, run);
