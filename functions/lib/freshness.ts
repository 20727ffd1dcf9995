/**
 * Skip when unchanged: resolves every image of a plan to its digests and compares them with the digest set
 * of the recipe's current snapshot. prepare-build calls {@link resolveAndCompare}; when it answers
 * `upToDate`, the execution launches nothing and ends with status `UP_TO_DATE` and the current snapshot IDs.
 * When the digests are unchanged but a publish did not finish (the digest-set record still lists pending
 * channels), it answers reason `REPUBLISH`: nothing is built, publish-snapshot sends what is missing.
 */
import { DescribeSnapshotsCommand, type EC2Client } from '@aws-sdk/client-ec2';
import { GetParametersCommand, type SSMClient } from '@aws-sdk/client-ssm';
import { ec2 as defaultEc2 } from './clients/ec2';
import { ssm as defaultSsm } from './clients/ssm';
import {
  decodeDigestRecord,
  digestSetHash,
  digestSetParameterName,
  snapshotIdParameterName,
  type PlatformDigest,
  type PublishChannel,
} from './current-snapshot';
import { createDigestResolver, type DigestResolver, type ResolvedImage } from './digests';
import { awsErrorCode, callAws } from './errors';
import type { Architecture, BuildTarget } from './schemas';

export interface FreshnessPlan {
  recipe: string;
  /** Rebuild even when the digests equal the current snapshot's. */
  force?: boolean;
  builds: BuildTarget[];
}

export interface CurrentSnapshot {
  architecture: Architecture;
  snapshotId: string;
  digestSet: string;
  parameterName: string;
  /** Channels a publish left unconfirmed (docs/consumers.md); present only when some are. */
  pending?: PublishChannel[];
  /** When the snapshot was published (the digest-set record's `publishedAt`); a republish keeps it. */
  publishedAt?: string;
}

export interface FreshnessResult {
  /** True when every build's digest set equals its current snapshot's and `force` is off: launch nothing. */
  upToDate: boolean;
  /**
   * Why: `UP_TO_DATE`, `FORCED` (unchanged but forced), `CHANGED` (some digest differs), `NEW` (no current snapshot)
   * or `REPUBLISH` (unchanged, but a publish left channels pending: send them, build nothing).
   */
  reason: 'UP_TO_DATE' | 'FORCED' | 'CHANGED' | 'NEW' | 'REPUBLISH';
  /** The plan's builds with each image's `digest`, `platformDigests` and `digestSet` filled in. */
  builds: BuildTarget[];
  /** The recipe's current snapshot per build architecture, where one exists and matches. */
  current: CurrentSnapshot[];
  /** Architectures whose digest set differs from (or has no) current snapshot. */
  changed: Architecture[];
}

export interface FreshnessDeps {
  resolve?: DigestResolver;
  ssm?: SSMClient;
  ec2?: EC2Client;
}

/**
 * Resolves the plan's images (each reference once, for every platform any build needs) and compares.
 *
 * @example
 * const freshness = await resolveAndCompare({ recipe: 'ml', force: false, builds });
 * if (freshness.upToDate) return { status: 'UP_TO_DATE', snapshots: freshness.current };
 */
export const resolveAndCompare = async (plan: FreshnessPlan, deps: FreshnessDeps = {}): Promise<FreshnessResult> => {
  const resolve = deps.resolve ?? createDigestResolver();
  const client = deps.ssm ?? defaultSsm;
  const ec2Client = deps.ec2 ?? defaultEc2;

  const platformsOfReference = new Map<string, Set<string>>();
  for (const build of plan.builds) {
    for (const image of build.images) {
      const set = platformsOfReference.get(image.reference) ?? new Set<string>();
      for (const platform of build.platforms) set.add(platform);
      platformsOfReference.set(image.reference, set);
    }
  }
  // Sequential on purpose: a handful of lookups per build, and registries rate-limit anonymous clients.
  const resolved = new Map<string, ResolvedImage>();
  for (const [reference, platforms] of platformsOfReference) resolved.set(reference, await resolve(reference, [...platforms].sort()));

  const builds = plan.builds.map((build): BuildTarget => {
    const platformDigests: PlatformDigest[] = build.images.flatMap((image) =>
      build.platforms.map((platform) => ({ reference: image.reference, platform, digest: resolved.get(image.reference)?.platforms[platform] as string })),
    );
    return {
      ...build,
      images: build.images.map((image) => ({ ...image, digest: resolved.get(image.reference)?.digest })),
      platformDigests,
      digestSet: digestSetHash(platformDigests),
    };
  });

  const current: CurrentSnapshot[] = [];
  const changed: Architecture[] = [];
  let anyCurrent = false;
  for (const build of builds) {
    const found = await readCurrent(client, plan.recipe, build.architecture);
    if (found) anyCurrent = true;
    // The parameters outlive the snapshot when someone deletes it: "up to date" must name a snapshot nodes can use.
    if (found && found.digestSet === build.digestSet && (await isCompletedSnapshot(ec2Client, found.snapshotId))) current.push(found);
    else changed.push(build.architecture);
  }
  const unchanged = changed.length === 0 && builds.length > 0;
  const incomplete = current.some((snapshot) => snapshot.pending);
  const reason = unchanged ? (plan.force ? 'FORCED' : incomplete ? 'REPUBLISH' : 'UP_TO_DATE') : anyCurrent ? 'CHANGED' : 'NEW';
  return { upToDate: reason === 'UP_TO_DATE', reason, builds, current, changed };
};

/**
 * The current snapshot of `recipe` for `architecture`: the one both parameters name, or the one the digest-set record
 * names while its publish has not written the `snapshot-id` parameter yet (then `pending` says so).
 */
export const readCurrent = async (client: SSMClient, recipe: string, architecture: Architecture): Promise<CurrentSnapshot | undefined> => {
  const idName = snapshotIdParameterName(recipe, architecture);
  const setName = digestSetParameterName(recipe, architecture);
  const output = await callAws(`ssm:GetParameters ${idName}`, () => client.send(new GetParametersCommand({ Names: [idName, setName] })));
  const value = (name: string) => output.Parameters?.find((p) => p.Name === name)?.Value;
  const snapshotId = value(idName);
  const record = decodeDigestRecord(value(setName));
  if (!record) return undefined;
  const pending = record.pending?.length ? { pending: record.pending } : {};
  const found = { architecture, snapshotId: record.snapshotId, digestSet: record.digestSet, parameterName: idName, publishedAt: record.publishedAt, ...pending };
  if (snapshotId === record.snapshotId) return found;
  // The publish wrote the record, then failed before the ID parameter: the record's snapshot is the one to finish.
  if (record.pending?.includes('snapshot-id')) return found;
  // Someone who points the ID parameter at another snapshot by hand breaks the link to the digests: rebuild.
  return undefined;
};

/** True when the snapshot exists and is `completed`; a deleted snapshot is not an error, only not current. */
export const isCompletedSnapshot = async (client: EC2Client, snapshotId: string): Promise<boolean> => {
  try {
    const output = await client.send(new DescribeSnapshotsCommand({ SnapshotIds: [snapshotId] }));
    return output.Snapshots?.[0]?.State === 'completed';
  } catch (error) {
    if (awsErrorCode(error) === 'InvalidSnapshot.NotFound') return false;
    return callAws(`ec2:DescribeSnapshots ${snapshotId}`, () => Promise.reject(error));
  }
};
