/**
 * State `DisableSupersededFastSnapshotRestore`, after `PublishSnapshot`: turns Fast Snapshot Restore off on the
 * recipe's snapshots that are no longer current, once the new ones are. FSR bills per zone and hour for as long as it
 * is on (Amazon EBS pricing), and a superseded snapshot's FSR serves no consumer: the snapshot-id parameters name the
 * new snapshot now.
 *
 * Which snapshots: every snapshot DescribeFastSnapshotRestores lists in `enabling`, `optimizing` or `enabled` that is
 * tagged as this factory's (`snapshot-factory:managed = true`) and this recipe's (`snapshot-factory:recipe`), is not
 * one this execution published, and is not named by any of the recipe's snapshot-id parameters (read after the
 * publish: an architecture this execution did not rebuild keeps its current snapshot's FSR). Each is disabled in
 * exactly the zones where it is on. Idempotent: a retry finds what is still on.
 *
 * Returns what it disabled and what it kept. Throws `FastSnapshotRestoreFailedError` (DisableFastSnapshotRestores'
 * `Unsuccessful` list named a zone; after trying every snapshot), `TransientAwsError` (retryable),
 * `AccessDeniedError`, `AwsRequestError`, `InvalidInputError`.
 */
import { DescribeFastSnapshotRestoresCommand, DisableFastSnapshotRestoresCommand, paginateDescribeSnapshots } from '@aws-sdk/client-ec2';
import * as z from './lib/zod-mini';
import { ec2 } from './lib/clients/ec2';
import { snapshotIdParameterName } from './lib/current-snapshot';
import { FastSnapshotRestoreFailedError, callAws } from './lib/errors';
import { FSR_ON_STATES } from './lib/fast-snapshot-restore';
import { logger } from './lib/logger';
import { ARCHITECTURES } from './lib/schemas';
import { currentSnapshotIds } from './lib/snapshot-ownership';
import { defineStage } from './lib/stage';
import { TAG_MANAGED, TAG_RECIPE } from './lib/tags';

/** DescribeSnapshots accepts at most 200 values per filter (EC2 API reference, "Filtering"; 200 per filter). */
const FILTER_VALUES_MAX = 200;

/** The publish output (PublishSnapshot's OutputPath): the recipe and the snapshots now current. */
const inputSchema = z.looseObject({
  recipe: z.string().check(z.minLength(1)),
  snapshots: z._default(z.array(z.looseObject({ snapshotId: z.string().check(z.startsWith('snap-')) })), []),
});
type Input = z.infer<typeof inputSchema>;

export interface DisableSupersededOutput {
  /** Each superseded snapshot whose FSR was turned off, with the zones. */
  disabled: { snapshotId: string; availabilityZones: string[] }[];
  /** Snapshots with FSR on that were left alone, and why. */
  kept: { snapshotId: string; reason: string }[];
}

/** Zones in which FSR is being turned on or is on, per snapshot (every owner's listing; the caller filters by tag). */
const zonesWithFsr = async (): Promise<Map<string, string[]>> => {
  const zones = new Map<string, string[]>();
  let nextToken: string | undefined;
  do {
    const out = await callAws('ec2:DescribeFastSnapshotRestores', () =>
      ec2.send(new DescribeFastSnapshotRestoresCommand({ Filters: [{ Name: 'state', Values: [...FSR_ON_STATES] }], NextToken: nextToken })),
    );
    for (const item of out.FastSnapshotRestores ?? []) {
      if (!item.SnapshotId || !item.AvailabilityZone) continue;
      zones.set(item.SnapshotId, [...(zones.get(item.SnapshotId) ?? []), item.AvailabilityZone]);
    }
    nextToken = out.NextToken;
  } while (nextToken);
  return zones;
};

/** Which of `ids` are this factory's snapshots of `recipe`. */
const ofRecipe = async (ids: string[], recipe: string): Promise<Set<string>> => {
  const found = new Set<string>();
  for (let start = 0; start < ids.length; start += FILTER_VALUES_MAX) {
    const batch = ids.slice(start, start + FILTER_VALUES_MAX);
    await callAws(`ec2:DescribeSnapshots of recipe ${recipe}`, async () => {
      const filters = [
        { Name: 'snapshot-id', Values: batch },
        { Name: `tag:${TAG_MANAGED}`, Values: ['true'] },
        { Name: `tag:${TAG_RECIPE}`, Values: [recipe] },
      ];
      for await (const page of paginateDescribeSnapshots({ client: ec2 }, { OwnerIds: ['self'], Filters: filters })) {
        for (const snapshot of page.Snapshots ?? []) if (snapshot.SnapshotId) found.add(snapshot.SnapshotId);
      }
    });
  }
  return found;
};

const run = async (input: Input): Promise<DisableSupersededOutput> => {
  const published = new Set(input.snapshots.map((s) => s.snapshotId));
  const withFsr = await zonesWithFsr();
  const candidates = [...withFsr.keys()].filter((id) => !published.has(id));
  const output: DisableSupersededOutput = { disabled: [], kept: [] };
  if (candidates.length === 0) return output;
  const mine = await ofRecipe(candidates, input.recipe);
  const current = await currentSnapshotIds(ARCHITECTURES.map((architecture) => snapshotIdParameterName(input.recipe, architecture)));
  const refused: string[] = [];
  for (const snapshotId of candidates) {
    if (!mine.has(snapshotId)) continue; // another recipe's or not the factory's: not this execution's business
    if (current.has(snapshotId)) {
      output.kept.push({ snapshotId, reason: 'current' });
      continue;
    }
    const availabilityZones = withFsr.get(snapshotId)!;
    const out = await callAws(`ec2:DisableFastSnapshotRestores ${snapshotId} in ${availabilityZones.join(', ')}`, () =>
      ec2.send(new DisableFastSnapshotRestoresCommand({ SourceSnapshotIds: [snapshotId], AvailabilityZones: availabilityZones })),
    );
    const errors = (out.Unsuccessful ?? []).flatMap((item) =>
      (item.FastSnapshotRestoreStateErrors ?? []).map((e) => `${snapshotId} in ${e.AvailabilityZone ?? '(zone not given)'}: ${e.Error?.Code ?? 'no code'}: ${e.Error?.Message ?? 'no message'}`),
    );
    refused.push(...errors);
    const accepted = (out.Successful ?? []).map((item) => item.AvailabilityZone).filter((zone): zone is string => zone !== undefined);
    if (accepted.length > 0) output.disabled.push({ snapshotId, availabilityZones: accepted });
  }
  logger.info('fast snapshot restore of superseded snapshots', { recipe: input.recipe, ...output, refused });
  if (refused.length > 0) {
    throw new FastSnapshotRestoreFailedError(
      `EC2 refused to disable Fast Snapshot Restore on superseded snapshots (they keep billing per zone and hour): ${refused.join('; ')}; disabled: ${output.disabled.map((d) => `${d.snapshotId} in ${d.availabilityZones.join(', ')}`).join('; ') || 'none'}.`,
    );
  }
  return output;
};

/** Handler of the `DisableSupersededFastSnapshotRestore` state. */
export const handler = defineStage('disable-superseded-fast-snapshot-restore', inputSchema, run);
