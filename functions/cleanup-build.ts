/**
 * Cleanup of a failed, timed-out or aborted execution. Runs as the states `CleanupAfterFailure` and
 * `CleanupAfterFailureFinal` (one architecture, the Catch target of every per-architecture state after prepare),
 * `CleanupExecution`, `CleanupExecutionFinal` and `SweepExecution` (the whole execution, after the Map failed), and
 * as the target of the EventBridge rule on Step Functions' own "Step Functions Execution Status Change" events
 * (TIMED_OUT, ABORTED, FAILED), where no Catch runs.
 *
 * It tries every resource of the execution, whatever failed before, each one independently:
 * - instances tagged with the execution (and architecture), in any live state including `pending`, plus the
 *   recorded instance ID (tag filters are eventually consistent): terminated;
 * - snapshots tagged with the execution (and architecture), plus the recorded snapshot ID: `pending` and `error`
 *   ones deleted, and `completed` ones too unless current, published or retained (functions/lib/snapshot-ownership.ts):
 *   a failed execution publishes nothing, so its completed snapshots are orphans (docs/architecture.md, "Cleanup").
 *
 * - Fast Snapshot Restore on a snapshot about to be deleted: turned off first, in every zone where it is on.
 *
 * It turns the caught error into `{ error, cause }` for the Fail state; the cause ends with what cleanup
 * terminated, deleted, kept and could not clean (with why), see docs/errors.md.
 *
 * Idempotent; resources already gone are not errors. Throws `TransientAwsError` only after having tried every
 * resource, when a step failed transiently and `finalAttempt` is not set (the state machine retries it, then runs
 * the `...Final` state, which reports instead of throwing). Throws `InvalidInputError` on a bad input.
 */
import {
  DeleteSnapshotCommand,
  DescribeFastSnapshotRestoresCommand,
  DescribeInstancesCommand,
  DisableFastSnapshotRestoresCommand,
  DescribeSnapshotsCommand,
  TerminateInstancesCommand,
  paginateDescribeInstances,
  paginateDescribeSnapshots,
  type Snapshot,
} from '@aws-sdk/client-ec2';
import * as z from './lib/zod-mini';
import { ec2 } from './lib/clients/ec2';
import { homeRegion } from './lib/regional-clients';
import { deploymentRegions } from './lib/snapshot-copies';
import { ec2In } from './lib/regional/ec2';
import { ssmIn } from './lib/regional/ssm';
import { TransientAwsError, awsErrorCode, callAws } from './lib/errors';
import { FSR_ON_STATES } from './lib/fast-snapshot-restore';
import { logger } from './lib/logger';
import { architectureSchema } from './lib/schemas';
import { currentParameterOf, currentSnapshotIds, keepReason } from './lib/snapshot-ownership';
import { defineStage } from './lib/stage';
import { TAG_ARCHITECTURE, TAG_EXECUTION, fitText } from './lib/tags';

/** What one cleanup did; a later sweep of the same execution adds to it (`previous`). */
export const reportSchema = z.object({
  terminatedInstanceIds: z._default(z.array(z.string()), []),
  deletedSnapshotIds: z._default(z.array(z.string()), []),
  /** `<snapshot> in <zone>`: Fast Snapshot Restore turned off on a snapshot before it was deleted (it bills per zone and hour). */
  disabledFastSnapshotRestores: z._default(z.array(z.string()), []),
  keptSnapshots: z._default(z.array(z.object({ snapshotId: z.string(), reason: z.string() })), []),
  /** Recorded resources already terminated or deleted when cleanup looked (by an earlier attempt, or by the build). */
  alreadyGone: z._default(z.array(z.string()), []),
  /** Each resource cleanup could not clean, and why. */
  failures: z._default(z.array(z.object({ resource: z.string(), action: z.string(), reason: z.string(), transient: z.boolean() })), []),
});
export type CleanupReport = z.infer<typeof reportSchema>;

const recordedSchema = z.looseObject({
  instance: z.nullish(z.looseObject({ instanceId: z.optional(z.string()) })),
  snapshot: z.nullish(z.looseObject({ snapshotId: z.optional(z.string()) })),
  /** The build, for the regions its snapshot was being copied to (`build.copies`): cleanup deletes the copies there. */
  build: z.nullish(z.looseObject({ copies: z.optional(z.array(z.looseObject({ region: z.string().check(z.minLength(1)) }))) })),
});

const stageInputSchema = z.object({
  executionName: z.string().check(z.minLength(1)),
  architecture: z.optional(architectureSchema),
  instance: recordedSchema.shape.instance,
  snapshot: recordedSchema.shape.snapshot,
  /** The iteration's whole state, where `instance` and `snapshot` are when they exist (the ASL cannot pass a missing path). */
  state: z.nullish(recordedSchema),
  error: z.nullish(z.looseObject({ Error: z.optional(z.string()), Cause: z.optional(z.string()) })),
  /** Report instead of throwing when a step failed transiently: the last attempt. */
  finalAttempt: z.optional(z.boolean()),
  /** What an earlier cleanup of this execution did, to report it together. */
  previous: z.nullish(reportSchema),
});

/**
 * Step Functions' status-change event, as EventBridge delivers it ("Step Functions Execution Status Change",
 * AWS Step Functions Developer Guide, https://docs.aws.amazon.com/step-functions/latest/dg/cw-events.html).
 */
const statusChangeSchema = z.object({
  source: z.literal('aws.states'),
  'detail-type': z.literal('Step Functions Execution Status Change'),
  detail: z.looseObject({
    name: z.string().check(z.minLength(1)),
    status: z.string(),
    error: z.nullish(z.string()),
    cause: z.nullish(z.string()),
  }),
});

/** The error name a closed execution's cleanup reports when the event carries none. */
const STATUS_ERRORS: Record<string, string> = { TIMED_OUT: 'States.Timeout', ABORTED: 'States.Aborted' };

const fromStatusChange = z.pipe(
  statusChangeSchema,
  z.transform(({ detail }) => ({
    executionName: detail.name,
    error: { Error: detail.error || STATUS_ERRORS[detail.status] || `States.${detail.status}`, Cause: detail.cause || `The execution ended ${detail.status}.` },
    trigger: 'status-change' as const,
  })),
);
const fromState = z.pipe(stageInputSchema, z.transform((input) => ({ ...input, trigger: 'state' as const })));
/** An event from EventBridge carries `detail-type`; anything else is a state's payload, validated as such. */
const inputSchema = z.pipe(
  z.custom<unknown>(),
  z.transform((raw: unknown, ctx) => {
    const parsed = (raw && typeof raw === 'object' && 'detail-type' in raw ? fromStatusChange : fromState).safeParse(raw);
    if (parsed.success) return parsed.data;
    // zod/mini's transform context has no addIssue: the issue goes in as classic's addIssue put it (the input and
    // schema it added are dropped when the error is finalized), so the messages are the same.
    for (const issue of parsed.error.issues) ctx.issues.push({ ...issue, code: 'custom' } as never);
    return z.NEVER;
  }),
);
type Input = z.infer<typeof inputSchema>;

export interface CleanupOutput extends CleanupReport {
  /** Name of the error that failed the build (`States.Runtime` when none was caught). */
  error: string;
  /** Which stage failed and why, then what cleanup did (docs/errors.md, "Cause format"). */
  cause: string;
  /** Completed snapshots kept (current, published or retained). */
  keptSnapshotIds: string[];
  /** Everything cleanup did, this run and the earlier ones passed as `previous`. */
  report: CleanupReport;
  /** True when nothing was left that cleanup could not clean. */
  complete: boolean;
}

const GONE = new Set(['InvalidInstanceID.NotFound', 'InvalidSnapshot.NotFound', 'IncorrectInstanceState']);
/** Every state of an instance not yet terminated (EC2 API reference, InstanceState). */
const LIVE_STATES = ['pending', 'running', 'stopping', 'stopped', 'shutting-down'];
/** Each list in cleanup's summary stays readable and the cause well under Step Functions' 32,768-character limit. */
const LIST_MAX = 2000;
const REASON_MAX = 300;

/** As many whole items as fit in {@link LIST_MAX}, then `(+N more)`. */
const listOf = (items: readonly string[]): string => {
  let text = '';
  for (const [index, item] of items.entries()) {
    const next = text ? `${text}, ${item}` : item;
    if (next.length > LIST_MAX) return `${text || fitText(item, LIST_MAX)} (+${items.length - index - (text ? 0 : 1)} more)`;
    text = next;
  }
  return text;
};

/**
 * Step Functions passes a Lambda error's Cause as the JSON `{"errorMessage","errorType",...}`; other errors
 * (States.Timeout, States.TaskFailed) carry plain text or nothing. A cause that already names its stage (an
 * iteration's, through the Map) is kept as it is.
 */
export const describeFailure = (caught: { Error?: string; Cause?: string } | null | undefined): { error: string; cause: string } => {
  const error = caught?.Error || 'States.Runtime';
  let message = caught?.Cause ?? '';
  try {
    const parsed = JSON.parse(message) as { errorMessage?: unknown };
    if (parsed && typeof parsed.errorMessage === 'string') message = parsed.errorMessage;
  } catch {
    // not JSON: keep the text as it is
  }
  if (/^[a-z][a-z0-9-]* failed with /.test(message)) return { error, cause: message };
  const staged = /^([a-z][a-z0-9-]*): ([\s\S]*)$/.exec(message);
  if (staged) return { error, cause: `${staged[1]} failed with ${error}: ${staged[2]}` };
  return { error, cause: message ? `${error}: ${message}` : `${error} (no cause given)` };
};

/** `[cleanup: terminated ...; deleted ...; kept ...; could not: ...]`, each list shortened to fit. */
export const summarizeCleanup = (report: CleanupReport, label = 'cleanup'): string => {
  const parts: string[] = [];
  const list = listOf;
  if (report.terminatedInstanceIds.length) parts.push(`terminated ${list(report.terminatedInstanceIds)}`);
  if (report.disabledFastSnapshotRestores.length) parts.push(`fast snapshot restore off on ${list(report.disabledFastSnapshotRestores)}`);
  if (report.deletedSnapshotIds.length) parts.push(`deleted ${list(report.deletedSnapshotIds)}`);
  if (report.alreadyGone.length) parts.push(`already gone ${list(report.alreadyGone)}`);
  if (report.keptSnapshots.length) parts.push(`kept ${list(report.keptSnapshots.map((k) => `${k.snapshotId} (${k.reason})`))}`);
  if (report.failures.length) parts.push(`could not: ${list(report.failures.map((f) => `${f.action} ${f.resource} (${f.reason})`))}`);
  return `[${label}: ${parts.length ? parts.join('; ') : 'nothing left to clean'}]`;
};

const tagFilters = (input: Input) => [
  { Name: `tag:${TAG_EXECUTION}`, Values: [input.executionName] },
  ...('architecture' in input && input.architecture ? [{ Name: `tag:${TAG_ARCHITECTURE}`, Values: [input.architecture] }] : []),
];

type Failures = CleanupReport['failures'];

/** Runs one cleanup step: "already gone" is success; any other failure is recorded with its resource and reason. */
const attempt = async <T>(failures: Failures, action: string, resource: string, step: () => Promise<T>): Promise<T | 'gone' | undefined> => {
  try {
    return await step();
  } catch (error) {
    if (GONE.has(awsErrorCode((error as Error).cause))) return 'gone';
    const reason = fitText(`${(error as Error).name}: ${(error as Error).message}`, REASON_MAX);
    failures.push({ resource, action, reason, transient: error instanceof TransientAwsError });
    logger.error('cleanup step failed', { action, resource, error: reason });
    return undefined;
  }
};

const recordedIds = (input: Input) => {
  if (input.trigger !== 'state') return {};
  return {
    instanceId: input.instance?.instanceId ?? input.state?.instance?.instanceId,
    snapshotId: input.snapshot?.snapshotId ?? input.state?.snapshot?.snapshotId,
  };
};

const findInstances = async (input: Input, report: CleanupReport): Promise<string[]> => {
  const { failures } = report;
  const ids = new Set<string>();
  await attempt(failures, 'ec2:DescribeInstances', `tagged ${input.executionName}`, () =>
    callAws(`ec2:DescribeInstances tagged ${input.executionName}`, async () => {
      const filters = [...tagFilters(input), { Name: 'instance-state-name', Values: LIVE_STATES }];
      for await (const page of paginateDescribeInstances({ client: ec2, pageSize: 1000 }, { Filters: filters })) {
        for (const instance of (page.Reservations ?? []).flatMap((r) => r.Instances ?? [])) if (instance.InstanceId) ids.add(instance.InstanceId);
      }
    }),
  );
  const { instanceId } = recordedIds(input);
  if (instanceId && !ids.has(instanceId)) {
    const out = await attempt(failures, 'ec2:DescribeInstances', instanceId, () =>
      callAws(`ec2:DescribeInstances ${instanceId}`, () => ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }))),
    );
    const state = out && out !== 'gone' ? out.Reservations?.[0]?.Instances?.[0]?.State?.Name : undefined;
    if (out === 'gone' || state === 'terminated' || (out && !state)) report.alreadyGone.push(instanceId);
    // Unknown state (the lookup failed): try to terminate anyway; terminating a terminated instance is harmless.
    if (out === undefined || (state && LIVE_STATES.includes(state))) ids.add(instanceId);
  }
  return [...ids];
};

const terminateAll = async (instanceIds: string[], report: CleanupReport): Promise<void> => {
  // One call per instance: TerminateInstances fails as a whole when any one ID is unknown.
  for (const instanceId of instanceIds) {
    const done = await attempt(report.failures, 'ec2:TerminateInstances', instanceId, async () => {
      await callAws(`ec2:TerminateInstances ${instanceId}`, () => ec2.send(new TerminateInstancesCommand({ InstanceIds: [instanceId] })));
      return true;
    });
    if (done === true) report.terminatedInstanceIds.push(instanceId);
  }
};

const findSnapshots = async (input: Input, report: CleanupReport, region: string): Promise<Map<string, Snapshot>> => {
  const { failures } = report;
  const found = new Map<string, Snapshot>();
  const where = region === homeRegion() ? '' : ` in ${region}`;
  await attempt(failures, 'ec2:DescribeSnapshots', `tagged ${input.executionName}${where}`, () =>
    callAws(`ec2:DescribeSnapshots tagged ${input.executionName}${where}`, async () => {
      for await (const page of paginateDescribeSnapshots({ client: ec2In(region), pageSize: 1000 }, { OwnerIds: ['self'], Filters: tagFilters(input) })) {
        for (const s of page.Snapshots ?? []) if (s.SnapshotId) found.set(s.SnapshotId, s);
      }
    }),
  );
  const { snapshotId } = recordedIds(input);
  // The recorded snapshot is the home region's; a copy is found by its tags only.
  if (region === homeRegion() && snapshotId && !found.has(snapshotId)) {
    const out = await attempt(failures, 'ec2:DescribeSnapshots', snapshotId, () =>
      callAws(`ec2:DescribeSnapshots ${snapshotId}`, () => ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [snapshotId] }))),
    );
    const snapshot = out && out !== 'gone' ? out.Snapshots?.[0] : undefined;
    if (snapshot) found.set(snapshotId, snapshot);
    else if (out) report.alreadyGone.push(snapshotId);
  }
  return found;
};

/**
 * The home region, then every region the build's snapshot was being copied to (from the iteration's state) and every
 * copy region of the deployment (env COPY_REGIONS): a status-change cleanup of a timed-out or aborted execution has
 * no state to read, and its copies are found there by the execution tag.
 */
const regionsOf = (input: Input): string[] => {
  const copies = input.trigger === 'state' ? (input.state?.build?.copies ?? []) : [];
  return [...new Set([...deploymentRegions(), ...copies.map((c) => c.region)])];
};

const cleanSnapshots = async (input: Input, report: CleanupReport, region: string): Promise<void> => {
  const ec2 = ec2In(region);
  const found = await findSnapshots(input, report, region);
  const completed = [...found.values()].filter((s) => s.State === 'completed');
  let current: Set<string> | undefined = new Set();
  if (completed.length) {
    const names = completed.map(currentParameterOf).filter((name): name is string => name !== undefined);
    const out = await attempt(report.failures, 'ssm:GetParameters', 'current snapshot IDs', () => currentSnapshotIds(names, ssmIn(region)));
    current = out && out !== 'gone' ? out : undefined;
  }
  const deletable: string[] = [];
  for (const [snapshotId, snapshot] of found) {
    if (snapshot.State === 'completed') {
      if (!current) {
        report.failures.push({ resource: snapshotId, action: 'ec2:DeleteSnapshot', reason: 'kept: could not tell whether it is current', transient: true });
        continue;
      }
      const reason = keepReason(snapshot, current);
      if (reason) {
        report.keptSnapshots.push({ snapshotId, reason });
        continue;
      }
    }
    deletable.push(snapshotId);
  }
  // Only a completed snapshot can have Fast Snapshot Restore, and only the home one does (copies never get it).
  if (region === homeRegion()) await disableFastSnapshotRestores(deletable.filter((id) => found.get(id)?.State === 'completed'), report);
  for (const snapshotId of deletable) {
    const done = await attempt(report.failures, 'ec2:DeleteSnapshot', snapshotId, async () => {
      await callAws(`ec2:DeleteSnapshot ${snapshotId}`, () => ec2.send(new DeleteSnapshotCommand({ SnapshotId: snapshotId })));
      return true;
    });
    if (done === true) report.deletedSnapshotIds.push(snapshotId);
  }
};

/**
 * Turns Fast Snapshot Restore off on snapshots about to be deleted. EC2 turns it off itself when a snapshot is deleted
 * ("Configure fast snapshot restore", Amazon EBS User Guide), but a deletion that fails would leave it billing per zone
 * and hour; off first, the deletion's fate does not matter.
 */
const disableFastSnapshotRestores = async (snapshotIds: string[], report: CleanupReport): Promise<void> => {
  if (snapshotIds.length === 0) return;
  const zones = new Map<string, string[]>();
  const listed = await attempt(report.failures, 'ec2:DescribeFastSnapshotRestores', snapshotIds.join(', '), () =>
    callAws(`ec2:DescribeFastSnapshotRestores ${snapshotIds.join(', ')}`, async () => {
      let nextToken: string | undefined;
      do {
        const out = await ec2.send(
          new DescribeFastSnapshotRestoresCommand({
            Filters: [
              { Name: 'snapshot-id', Values: snapshotIds },
              { Name: 'state', Values: [...FSR_ON_STATES] },
            ],
            NextToken: nextToken,
          }),
        );
        for (const item of out?.FastSnapshotRestores ?? []) {
          if (item.SnapshotId && item.AvailabilityZone) zones.set(item.SnapshotId, [...(zones.get(item.SnapshotId) ?? []), item.AvailabilityZone]);
        }
        nextToken = out?.NextToken;
      } while (nextToken);
      return true;
    }),
  );
  if (listed !== true) return;
  for (const [snapshotId, availabilityZones] of zones) {
    const out = await attempt(report.failures, 'ec2:DisableFastSnapshotRestores', snapshotId, () =>
      callAws(`ec2:DisableFastSnapshotRestores ${snapshotId}`, () =>
        ec2.send(new DisableFastSnapshotRestoresCommand({ SourceSnapshotIds: [snapshotId], AvailabilityZones: availabilityZones })),
      ),
    );
    if (!out || out === 'gone') continue;
    for (const item of out.Successful ?? []) if (item.AvailabilityZone) report.disabledFastSnapshotRestores.push(`${snapshotId} in ${item.AvailabilityZone}`);
    for (const item of out.Unsuccessful ?? []) {
      for (const e of item.FastSnapshotRestoreStateErrors ?? []) {
        report.failures.push({
          resource: `${snapshotId} in ${e.AvailabilityZone ?? '(zone not given)'}`,
          action: 'ec2:DisableFastSnapshotRestores',
          reason: fitText(`${e.Error?.Code ?? 'no code'}: ${e.Error?.Message ?? 'no message'}`, REASON_MAX),
          transient: false,
        });
      }
    }
  }
};

const merge = (earlier: CleanupReport | null | undefined, now: CleanupReport): CleanupReport => {
  if (!earlier) return now;
  const union = (a: string[], b: string[]) => [...new Set([...a, ...b])];
  const cleaned = new Set([...now.terminatedInstanceIds, ...now.deletedSnapshotIds]);
  return {
    terminatedInstanceIds: union(earlier.terminatedInstanceIds, now.terminatedInstanceIds),
    deletedSnapshotIds: union(earlier.deletedSnapshotIds, now.deletedSnapshotIds),
    disabledFastSnapshotRestores: union(earlier.disabledFastSnapshotRestores, now.disabledFastSnapshotRestores),
    keptSnapshots: [...new Map([...earlier.keptSnapshots, ...now.keptSnapshots].map((k) => [k.snapshotId, k])).values()],
    alreadyGone: union(earlier.alreadyGone, now.alreadyGone).filter((id) => !earlier.terminatedInstanceIds.includes(id) && !earlier.deletedSnapshotIds.includes(id)),
    // An earlier failure that this sweep fixed is no longer a failure.
    failures: [...earlier.failures.filter((f) => !cleaned.has(f.resource)), ...now.failures],
  };
};

const run = async (input: Input): Promise<CleanupOutput> => {
  const failure = describeFailure(input.error);
  const now: CleanupReport = { terminatedInstanceIds: [], deletedSnapshotIds: [], disabledFastSnapshotRestores: [], keptSnapshots: [], alreadyGone: [], failures: [] };
  // Every step runs whatever the previous ones did: a builder that cannot be terminated does not keep its
  // snapshots from being deleted.
  await terminateAll(await findInstances(input, now), now);
  for (const region of regionsOf(input)) await cleanSnapshots(input, now, region);
  const report = merge(input.trigger === 'state' ? input.previous : undefined, now);
  logger.info('cleanup done', { executionName: input.executionName, trigger: input.trigger, ...report });

  const finalAttempt = input.trigger === 'state' ? input.finalAttempt === true : false;
  if (!finalAttempt && now.failures.some((f) => f.transient)) {
    throw new TransientAwsError(`cleanup incomplete, to be retried: ${summarizeCleanup(now)}`);
  }
  const label = input.trigger === 'state' && !input.architecture ? 'execution cleanup' : 'cleanup';
  return {
    error: failure.error,
    cause: `${failure.cause} ${summarizeCleanup(report, label)}`,
    ...report,
    keptSnapshotIds: report.keptSnapshots.map((k) => k.snapshotId),
    report,
    complete: report.failures.length === 0,
  };
};

/** Handler of the cleanup states and of the execution status-change rule. */
export const handler = defineStage('cleanup-build', inputSchema, run);
