/**
 * State `CleanupBuild`: the Catch target of every per-architecture state after prepare. Terminates every builder this
 * execution (and architecture) started, found by tag even when no instance ID was ever recorded, deletes this build's
 * snapshots left `error` or still `pending` (a failed build never publishes them), and turns the caught error into
 * `{ error, cause }` for the Fail state.
 *
 * Idempotent; resources already gone are not errors. Throws only `TransientAwsError` (retryable), so the state
 * machine retries it; a terminal AWS failure (e.g. access denied) is reported in `cleanupProblems` and the `cause`
 * instead, because failing here would hide the original error (the reaper catches what is left).
 */
import {
  DeleteSnapshotCommand,
  DescribeInstancesCommand,
  DescribeSnapshotsCommand,
  TerminateInstancesCommand,
  paginateDescribeInstances,
  paginateDescribeSnapshots,
} from '@aws-sdk/client-ec2';
import { z } from 'zod';
import { ec2 } from './lib/clients';
import { TransientAwsError, awsErrorCode, callAws } from './lib/errors';
import { logger } from './lib/logger';
import { architectureSchema } from './lib/schemas';
import { defineStage } from './lib/stage';
import { TAG_ARCHITECTURE, TAG_EXECUTION } from './lib/tags';

const inputSchema = z.object({
  executionName: z.string().min(1),
  architecture: architectureSchema.optional(),
  instance: z.object({ instanceId: z.string() }).partial().passthrough().nullish(),
  snapshot: z.object({ snapshotId: z.string() }).partial().passthrough().nullish(),
  error: z.object({ Error: z.string().optional(), Cause: z.string().optional() }).passthrough().nullish(),
});
type Input = z.infer<typeof inputSchema>;

export interface CleanupOutput {
  /** Name of the error that failed the build (`States.Runtime` when none was caught). */
  error: string;
  /** Which stage failed and why, readable. */
  cause: string;
  terminatedInstanceIds: string[];
  deletedSnapshotIds: string[];
  /** Completed snapshots of this build, kept: a finished snapshot is not garbage, and deleting data is not undoable. */
  keptSnapshotIds: string[];
  /** Cleanup steps that failed for a reason other than "already gone". */
  cleanupProblems: string[];
}

const GONE = new Set(['InvalidInstanceID.NotFound', 'InvalidSnapshot.NotFound', 'IncorrectInstanceState']);
const LIVE_STATES = ['pending', 'running', 'stopping', 'stopped'];

/**
 * Step Functions passes a Lambda error's Cause as the JSON `{"errorMessage","errorType",...}`; other errors
 * (States.Timeout, States.TaskFailed) carry plain text or nothing.
 */
export const describeFailure = (caught: Input['error']): { error: string; cause: string } => {
  const error = caught?.Error || 'States.Runtime';
  let message = caught?.Cause ?? '';
  try {
    const parsed = JSON.parse(message) as { errorMessage?: unknown };
    if (parsed && typeof parsed.errorMessage === 'string') message = parsed.errorMessage;
  } catch {
    // not JSON: keep the text as it is
  }
  const staged = /^([a-z][a-z0-9-]*): ([\s\S]*)$/.exec(message);
  if (staged) return { error, cause: `${staged[1]} failed with ${error}: ${staged[2]}` };
  return { error, cause: message ? `${error}: ${message}` : `${error} (no cause given)` };
};

const tagFilters = (input: Input) => [
  { Name: `tag:${TAG_EXECUTION}`, Values: [input.executionName] },
  ...(input.architecture ? [{ Name: `tag:${TAG_ARCHITECTURE}`, Values: [input.architecture] }] : []),
];

/** Runs one cleanup step: transient failures propagate (retry), "already gone" is success, anything else is noted. */
const attempt = async <T>(problems: string[], step: () => Promise<T>): Promise<T | undefined> => {
  try {
    return await step();
  } catch (error) {
    if (error instanceof TransientAwsError) throw error;
    if (GONE.has(awsErrorCode((error as Error).cause))) return undefined;
    problems.push((error as Error).message);
    logger.error('cleanup step failed', { error: (error as Error).message });
    return undefined;
  }
};

const findBuilders = async (input: Input, problems: string[]): Promise<string[]> => {
  const ids = new Set<string>();
  await attempt(problems, () =>
    callAws(`ec2:DescribeInstances tagged ${input.executionName}`, async () => {
      const filters = [...tagFilters(input), { Name: 'instance-state-name', Values: LIVE_STATES }];
      for await (const page of paginateDescribeInstances({ client: ec2, pageSize: 1000 }, { Filters: filters })) {
        for (const instance of (page.Reservations ?? []).flatMap((r) => r.Instances ?? [])) {
          if (instance.InstanceId) ids.add(instance.InstanceId);
        }
      }
    }),
  );
  // Tag filters are eventually consistent: also look up the recorded ID directly.
  const recorded = input.instance?.instanceId;
  if (recorded && !ids.has(recorded)) {
    const out = await attempt(problems, () =>
      callAws(`ec2:DescribeInstances ${recorded}`, () => ec2.send(new DescribeInstancesCommand({ InstanceIds: [recorded] }))),
    );
    const state = out?.Reservations?.[0]?.Instances?.[0]?.State?.Name;
    if (state && LIVE_STATES.includes(state)) ids.add(recorded);
  }
  return [...ids];
};

const terminate = async (instanceIds: string[], problems: string[]): Promise<string[]> => {
  const terminated: string[] = [];
  // One call per instance: TerminateInstances fails as a whole when any one ID is unknown.
  for (const instanceId of instanceIds) {
    const ok = await attempt(problems, async () => {
      await callAws(`ec2:TerminateInstances ${instanceId}`, () => ec2.send(new TerminateInstancesCommand({ InstanceIds: [instanceId] })));
      return true;
    });
    if (ok) terminated.push(instanceId);
  }
  return terminated;
};

const cleanSnapshots = async (input: Input, problems: string[]) => {
  const found = new Map<string, string>();
  await attempt(problems, () =>
    callAws(`ec2:DescribeSnapshots tagged ${input.executionName}`, async () => {
      for await (const page of paginateDescribeSnapshots({ client: ec2, pageSize: 1000 }, { OwnerIds: ['self'], Filters: tagFilters(input) })) {
        for (const s of page.Snapshots ?? []) if (s.SnapshotId) found.set(s.SnapshotId, s.State ?? 'unknown');
      }
    }),
  );
  const recorded = input.snapshot?.snapshotId;
  if (recorded && !found.has(recorded)) {
    const out = await attempt(problems, () =>
      callAws(`ec2:DescribeSnapshots ${recorded}`, () => ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [recorded] }))),
    );
    const state = out?.Snapshots?.[0]?.State;
    if (state) found.set(recorded, state);
  }
  const deleted: string[] = [];
  const kept: string[] = [];
  for (const [snapshotId, state] of found) {
    if (state === 'completed') {
      kept.push(snapshotId);
      continue;
    }
    const ok = await attempt(problems, async () => {
      await callAws(`ec2:DeleteSnapshot ${snapshotId}`, () => ec2.send(new DeleteSnapshotCommand({ SnapshotId: snapshotId })));
      return true;
    });
    if (ok) deleted.push(snapshotId);
  }
  return { deleted, kept };
};

const run = async (input: Input): Promise<CleanupOutput> => {
  const failure = describeFailure(input.error);
  const cleanupProblems: string[] = [];
  const terminatedInstanceIds = await terminate(await findBuilders(input, cleanupProblems), cleanupProblems);
  const { deleted, kept } = await cleanSnapshots(input, cleanupProblems);
  logger.info('cleanup done', { terminatedInstanceIds, deletedSnapshotIds: deleted, keptSnapshotIds: kept });
  const cause = cleanupProblems.length
    ? `${failure.cause} (cleanup incomplete: ${cleanupProblems.join('; ')})`
    : failure.cause;
  return { error: failure.error, cause, terminatedInstanceIds, deletedSnapshotIds: deleted, keptSnapshotIds: kept, cleanupProblems };
};

/** Handler of the `CleanupBuild` state. */
export const handler = defineStage('cleanup-build', inputSchema, run);
