/**
 * Which of the factory's snapshots must never be deleted by cleanup or the reaper: a snapshot that is current
 * (its ID is the value of a `/snapshot-factory/<recipe>/<architecture>/snapshot-id` parameter), one that was
 * published once (tag `snapshot-factory:published-at`: superseded snapshots belong to the lifecycle, not to
 * cleanup), and one an operator retained (tag `snapshot-factory:retain = true`).
 */
import { GetParametersCommand, type SSMClient } from '@aws-sdk/client-ssm';
import type { Snapshot } from '@aws-sdk/client-ec2';
import { ssm } from './clients/ssm';
import { TAG_PUBLISHED_AT, snapshotIdParameterName } from './current-snapshot';
import { callAws } from './errors';
import { TAG_ARCHITECTURE, TAG_RECIPE } from './tags';

/** Tag an operator sets (value `true`) on a factory snapshot that cleanup and the reaper must keep. */
export const TAG_RETAIN = 'snapshot-factory:retain';
/** GetParameters takes at most 10 names per call (SSM API reference, GetParameters, "Names"). */
const GET_PARAMETERS_MAX_NAMES = 10;

/** The value of tag `key` on a snapshot, if any. */
export const tagOf = (snapshot: Pick<Snapshot, 'Tags'>, key: string): string | undefined => snapshot.Tags?.find((t) => t.Key === key)?.Value;

/** The snapshot-id parameter naming the current snapshot of this snapshot's recipe and architecture, if tagged. */
export const currentParameterOf = (snapshot: Pick<Snapshot, 'Tags'>): string | undefined => {
  const recipe = tagOf(snapshot, TAG_RECIPE);
  const architecture = tagOf(snapshot, TAG_ARCHITECTURE);
  if (!recipe || (architecture !== 'x86_64' && architecture !== 'arm64')) return undefined;
  return snapshotIdParameterName(recipe, architecture);
};

/**
 * The snapshot IDs the given snapshot-id parameters hold now. Throws the translated AWS error (the caller decides
 * whether to skip): without this answer nothing completed may be deleted.
 */
export const currentSnapshotIds = async (parameterNames: Iterable<string>, client: SSMClient = ssm): Promise<Set<string>> => {
  const names = [...new Set(parameterNames)];
  const ids = new Set<string>();
  for (let start = 0; start < names.length; start += GET_PARAMETERS_MAX_NAMES) {
    const batch = names.slice(start, start + GET_PARAMETERS_MAX_NAMES);
    const out = await callAws(`ssm:GetParameters ${batch.join(', ')}`, () => client.send(new GetParametersCommand({ Names: batch })));
    for (const parameter of out.Parameters ?? []) if (parameter.Value) ids.add(parameter.Value);
  }
  return ids;
};

/** Why a snapshot must be kept, or undefined when it may be deleted. */
export const keepReason = (snapshot: Pick<Snapshot, 'SnapshotId' | 'Tags'>, current: ReadonlySet<string>): string | undefined => {
  if (snapshot.SnapshotId && current.has(snapshot.SnapshotId)) return 'current';
  if (tagOf(snapshot, TAG_RETAIN) === 'true') return 'retained';
  if (tagOf(snapshot, TAG_PUBLISHED_AT)) return 'published';
  return undefined;
};
