/**
 * Scheduled reaper (not a state of the state machine; the stack runs it hourly): owns whatever an ended execution
 * of the factory left behind.
 * - Instances tagged `snapshot-factory:managed=true`, launched more than `MAX_BUILDER_AGE_HOURS` ago (default 6),
 *   whose execution (tag `snapshot-factory:execution`, under `STATE_MACHINE_ARN`) is not RUNNING or does not
 *   exist: terminated.
 * - Snapshots tagged `snapshot-factory:managed=true` and with an execution tag, started more than
 *   `SNAPSHOT_GRACE_HOURS` ago (default 24), whose execution is not RUNNING or does not exist: deleted when
 *   `pending` or `error`, and when `completed` unless current (named by a snapshot-id parameter), published
 *   once, or retained (tag `snapshot-factory:retain=true`); see functions/lib/snapshot-ownership.ts.
 * A resource whose execution cannot be checked right now is skipped, never reaped on a guess.
 *
 * Every resource is tried whatever failed before. It logs what it did (`reaper done`) and emits the CloudWatch
 * metrics `ReapedInstances`, `ReapedSnapshots`, `ReaperFailures` (namespace `SnapshotFactory`, EMF).
 *
 * Snapshots are reaped in the home region and in every region of `COPY_REGIONS` (the deployment's copy regions):
 * a copy carries its source's tags, so the same rules apply to it there.
 *
 * Environment: `STATE_MACHINE_ARN` (required), `MAX_BUILDER_AGE_HOURS`, `SNAPSHOT_GRACE_HOURS`, `COPY_REGIONS` (optional). The
 * event may carry `maxAgeHours`, `snapshotGraceHours` and `dryRun`, which win over the environment.
 *
 * Throws `InvalidInputError` (STATE_MACHINE_ARN missing or not a state machine ARN, a bad number of hours),
 * `TransientAwsError` after trying everything when a step failed transiently (Lambda retries the invocation), and
 * the listing's own error (`AccessDeniedError`, `AwsRequestError`) when it could not list instances or snapshots.
 * Other terminal failures are reported in `failures` and the metric.
 */
import { DeleteSnapshotCommand, TerminateInstancesCommand, paginateDescribeInstances, paginateDescribeSnapshots, type Instance, type Snapshot } from '@aws-sdk/client-ec2';
import { DescribeExecutionCommand } from '@aws-sdk/client-sfn';
import * as z from './lib/zod-mini';
import { ec2 } from './lib/clients/ec2';
import { sfn } from './lib/clients/sfn';
import { InvalidInputError, TransientAwsError, awsErrorCode, callAws } from './lib/errors';
import { logger } from './lib/logger';
import { homeRegion } from './lib/regional-clients';
import { ec2In } from './lib/regional/ec2';
import { ssmIn } from './lib/regional/ssm';
import { COPY_REGIONS_ENV, deploymentRegions } from './lib/snapshot-copies';
export { COPY_REGIONS_ENV };
import { emitCounts } from './lib/metrics';
import { currentParameterOf, currentSnapshotIds, keepReason, tagOf } from './lib/snapshot-ownership';
import { defineStage } from './lib/stage';
import { TAG_EXECUTION, TAG_MANAGED } from './lib/tags';

/** The home region, then each copy region of the deployment: copies an ended execution left are reaped there too. */
const reapedRegions = (): string[] => deploymentRegions();
const inRegion = (region: string): string => (region === homeRegion() ? '' : ` in ${region}`);

export const DEFAULT_MAX_BUILDER_AGE_HOURS = 6;
export const DEFAULT_SNAPSHOT_GRACE_HOURS = 24;
const GONE = new Set(['InvalidInstanceID.NotFound', 'InvalidSnapshot.NotFound', 'IncorrectInstanceState']);

const inputSchema = z.looseObject({
  maxAgeHours: z.optional(z.number().check(z.positive())),
  snapshotGraceHours: z.optional(z.number().check(z.positive())),
  dryRun: z.optional(z.boolean()),
});
type Input = z.infer<typeof inputSchema>;

export interface ReapOutput {
  /** Builders terminated (or, with dryRun, that would be). */
  terminatedInstanceIds: string[];
  /** Snapshots deleted (or, with dryRun, that would be). */
  deletedSnapshotIds: string[];
  /** Managed instances left alone, with the reason. */
  skipped: { instanceId: string; reason: string }[];
  /** Managed snapshots left alone, with the reason. */
  skippedSnapshots: { snapshotId: string; reason: string }[];
  /** Steps that failed (the resource, the action, why). */
  failures: { resource: string; action: string; reason: string }[];
  maxAgeHours: number;
  snapshotGraceHours: number;
  dryRun: boolean;
}

/** `arn:aws:states:<region>:<account>:stateMachine:<name>` -> `...:execution:<name>:<executionName>`. */
export const executionArn = (stateMachineArn: string, executionName: string): string => {
  const match = /^(arn:[^:]+:states:[^:]*:[^:]*):stateMachine:([^:]+)$/.exec(stateMachineArn);
  if (!match) throw new InvalidInputError(`STATE_MACHINE_ARN '${stateMachineArn}' is not a state machine ARN.`);
  return `${match[1]}:execution:${match[2]}:${executionName}`;
};

const hoursFrom = (explicit: number | undefined, variable: string, fallback: number): number => {
  if (explicit !== undefined) return explicit;
  const raw = process.env[variable];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new InvalidInputError(`${variable} '${raw}' is not a positive number of hours.`);
  return value;
};

/** RUNNING, another status, `missing`, or undefined when it cannot be told now; asked once per execution. */
const executionStatuses = (stateMachineArn: string) => {
  const known = new Map<string, Promise<string | undefined>>();
  const ask = async (name: string): Promise<string | undefined> => {
    const arn = executionArn(stateMachineArn, name);
    try {
      const out = await callAws(`states:DescribeExecution ${arn}`, () => sfn.send(new DescribeExecutionCommand({ executionArn: arn })));
      return out.status ?? 'UNKNOWN';
    } catch (error) {
      if (awsErrorCode((error as Error).cause) === 'ExecutionDoesNotExist') return 'missing';
      logger.warn('cannot check execution; its resources are left alone', { arn, error: (error as Error).message });
      return undefined;
    }
  };
  return (name: string) => {
    if (!known.has(name)) known.set(name, ask(name));
    return known.get(name)!;
  };
};

/** Why a resource of `executionName` must stay, or undefined when its execution has ended. */
const whyKeep = async (statusOf: (name: string) => Promise<string | undefined>, executionName: string): Promise<string | undefined> => {
  const status = await statusOf(executionName);
  if (status === undefined) return `execution ${executionName} could not be checked`;
  if (status === 'RUNNING') return `execution ${executionName} is RUNNING`;
  return undefined;
};

const managedInstances = async (): Promise<Instance[]> => {
  const instances: Instance[] = [];
  const filters = [
    { Name: `tag:${TAG_MANAGED}`, Values: ['true'] },
    { Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped'] },
  ];
  await callAws('ec2:DescribeInstances managed builders', async () => {
    for await (const page of paginateDescribeInstances({ client: ec2, pageSize: 1000 }, { Filters: filters })) {
      instances.push(...(page.Reservations ?? []).flatMap((r) => r.Instances ?? []));
    }
  });
  return instances;
};

const managedSnapshots = async (region: string): Promise<Snapshot[]> => {
  const snapshots: Snapshot[] = [];
  await callAws(`ec2:DescribeSnapshots managed snapshots${inRegion(region)}`, async () => {
    for await (const page of paginateDescribeSnapshots({ client: ec2In(region), pageSize: 1000 }, { OwnerIds: ['self'], Filters: [{ Name: `tag:${TAG_MANAGED}`, Values: ['true'] }] })) {
      snapshots.push(...(page.Snapshots ?? []));
    }
  });
  return snapshots;
};

type Step = { failures: ReapOutput['failures']; transient: boolean; listingError?: Error };
/** Runs one step; "already gone" counts as done, any other failure is recorded and the reaper goes on. */
const attempt = async <T>(step: Step, action: string, resource: string, call: () => Promise<T>, listing = false): Promise<T | 'gone' | undefined> => {
  try {
    return await call();
  } catch (error) {
    if (GONE.has(awsErrorCode((error as Error).cause))) return 'gone';
    if (listing) step.listingError ??= error as Error;
    step.failures.push({ resource, action, reason: `${(error as Error).name}: ${(error as Error).message}` });
    if (error instanceof TransientAwsError) step.transient = true;
    return undefined;
  }
};

const reapInstances = async (out: ReapOutput, step: Step, statusOf: (name: string) => Promise<string | undefined>): Promise<void> => {
  const cutoff = Date.now() - out.maxAgeHours * 3_600_000;
  const instances = await attempt(step, 'ec2:DescribeInstances', 'managed instances', managedInstances, true);
  for (const instance of instances && instances !== 'gone' ? instances : []) {
    const instanceId = instance.InstanceId;
    if (!instanceId) continue;
    if ((instance.LaunchTime?.getTime() ?? Date.now()) > cutoff) {
      out.skipped.push({ instanceId, reason: `younger than ${out.maxAgeHours} h` });
      continue;
    }
    const executionName = instance.Tags?.find((t) => t.Key === TAG_EXECUTION)?.Value;
    const reason = executionName ? await whyKeep(statusOf, executionName) : undefined;
    if (reason) {
      out.skipped.push({ instanceId, reason });
      continue;
    }
    // One call per instance: TerminateInstances fails as a whole when any one ID is unknown.
    const done = out.dryRun || (await attempt(step, 'ec2:TerminateInstances', instanceId, () => callAws(`ec2:TerminateInstances ${instanceId}`, () => ec2.send(new TerminateInstancesCommand({ InstanceIds: [instanceId] })))));
    if (done) out.terminatedInstanceIds.push(instanceId);
  }
};

const reapSnapshots = async (out: ReapOutput, step: Step, statusOf: (name: string) => Promise<string | undefined>, region: string): Promise<void> => {
  const cutoff = Date.now() - out.snapshotGraceHours * 3_600_000;
  const listed = await attempt(step, 'ec2:DescribeSnapshots', `managed snapshots${inRegion(region)}`, () => managedSnapshots(region), true);
  const candidates: Snapshot[] = [];
  for (const snapshot of listed && listed !== 'gone' ? listed : []) {
    const snapshotId = snapshot.SnapshotId;
    if (!snapshotId) continue;
    const executionName = tagOf(snapshot, TAG_EXECUTION);
    let reason: string | undefined;
    if (!executionName) reason = 'no execution tag';
    else if ((snapshot.StartTime?.getTime() ?? Date.now()) > cutoff) reason = `younger than ${out.snapshotGraceHours} h`;
    else reason = await whyKeep(statusOf, executionName);
    if (reason) out.skippedSnapshots.push({ snapshotId, reason });
    else candidates.push(snapshot);
  }
  const completed = candidates.filter((s) => s.State === 'completed');
  let current: Set<string> | undefined = new Set();
  if (completed.length) {
    const names = completed.map(currentParameterOf).filter((name): name is string => name !== undefined);
    const found = await attempt(step, 'ssm:GetParameters', `current snapshot IDs${inRegion(region)}`, () => currentSnapshotIds(names, ssmIn(region)));
    current = found && found !== 'gone' ? found : undefined;
  }
  for (const snapshot of candidates) {
    const snapshotId = snapshot.SnapshotId!;
    if (snapshot.State === 'completed') {
      const reason = current ? keepReason(snapshot, current) : 'could not tell whether it is current';
      if (reason) {
        out.skippedSnapshots.push({ snapshotId, reason });
        continue;
      }
    }
    const done = out.dryRun || (await attempt(step, 'ec2:DeleteSnapshot', snapshotId, () => callAws(`ec2:DeleteSnapshot ${snapshotId}${inRegion(region)}`, () => ec2In(region).send(new DeleteSnapshotCommand({ SnapshotId: snapshotId })))));
    if (done) out.deletedSnapshotIds.push(snapshotId);
  }
};

const run = async (input: Input): Promise<ReapOutput> => {
  const stateMachineArn = process.env.STATE_MACHINE_ARN;
  if (!stateMachineArn) throw new InvalidInputError('STATE_MACHINE_ARN is not set; the reaper needs it to check executions.');
  executionArn(stateMachineArn, 'check');
  const out: ReapOutput = {
    terminatedInstanceIds: [],
    deletedSnapshotIds: [],
    skipped: [],
    skippedSnapshots: [],
    failures: [],
    maxAgeHours: hoursFrom(input.maxAgeHours, 'MAX_BUILDER_AGE_HOURS', DEFAULT_MAX_BUILDER_AGE_HOURS),
    snapshotGraceHours: hoursFrom(input.snapshotGraceHours, 'SNAPSHOT_GRACE_HOURS', DEFAULT_SNAPSHOT_GRACE_HOURS),
    dryRun: input.dryRun ?? false,
  };
  const step: Step = { failures: out.failures, transient: false };
  const statusOf = executionStatuses(stateMachineArn);
  await reapInstances(out, step, statusOf);
  for (const region of reapedRegions()) await reapSnapshots(out, step, statusOf, region);

  logger.info('reaper done', {
    terminatedInstanceIds: out.terminatedInstanceIds,
    deletedSnapshotIds: out.deletedSnapshotIds,
    skipped: out.skipped.length + out.skippedSnapshots.length,
    failures: out.failures,
    dryRun: out.dryRun,
  });
  if (!out.dryRun) {
    emitCounts('reap-builders', { ReapedInstances: out.terminatedInstanceIds.length, ReapedSnapshots: out.deletedSnapshotIds.length, ReaperFailures: out.failures.length });
  }
  if (step.transient) {
    throw new TransientAwsError(`reaper incomplete, to be retried: ${out.failures.map((f) => `${f.action} ${f.resource} (${f.reason})`).join('; ')}`);
  }
  // A reaper that cannot even list what it owns must fail loudly (Lambda's Errors metric), not report success.
  if (step.listingError) throw step.listingError;
  return out;
};

/** Handler of the scheduled reaper. */
export const handler = defineStage('reap-builders', inputSchema, run);
