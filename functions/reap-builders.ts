/**
 * Scheduled reaper (not a state of the state machine; the stack runs it hourly): terminates builder instances left by
 * executions that were aborted, timed out or failed without cleanup. An instance is reaped when it carries
 * `snapshot-factory:managed=true`, was launched more than `MAX_BUILDER_AGE_HOURS` ago (default 6), and its execution
 * (tag `snapshot-factory:execution`, under `STATE_MACHINE_ARN`) is not RUNNING or does not exist. An instance whose
 * execution cannot be checked right now is skipped, never reaped on a guess.
 *
 * Environment: `STATE_MACHINE_ARN` (required), `MAX_BUILDER_AGE_HOURS` (optional). The event may carry
 * `maxAgeHours` and `dryRun`, which win over the environment.
 *
 * Throws `InvalidInputError` (STATE_MACHINE_ARN missing or not a state machine ARN), `TransientAwsError` (retryable),
 * `AccessDeniedError`, `AwsRequestError`.
 */
import { TerminateInstancesCommand, paginateDescribeInstances, type Instance } from '@aws-sdk/client-ec2';
import { DescribeExecutionCommand } from '@aws-sdk/client-sfn';
import { z } from 'zod';
import { ec2, sfn } from './lib/clients';
import { InvalidInputError, awsErrorCode, callAws } from './lib/errors';
import { logger } from './lib/logger';
import { defineStage } from './lib/stage';
import { TAG_EXECUTION, TAG_MANAGED } from './lib/tags';

export const DEFAULT_MAX_BUILDER_AGE_HOURS = 6;
/** IDs per TerminateInstances call, well under EC2's per-request limit. */
const TERMINATE_BATCH = 100;

const inputSchema = z
  .object({ maxAgeHours: z.number().positive().optional(), dryRun: z.boolean().optional() })
  .passthrough();
type Input = z.infer<typeof inputSchema>;

export interface ReapOutput {
  /** Builders terminated (or, with dryRun, that would be). */
  terminatedInstanceIds: string[];
  /** Managed instances left alone, with the reason. */
  skipped: { instanceId: string; reason: string }[];
  maxAgeHours: number;
  dryRun: boolean;
}

/** `arn:aws:states:<region>:<account>:stateMachine:<name>` -> `...:execution:<name>:<executionName>`. */
export const executionArn = (stateMachineArn: string, executionName: string): string => {
  const match = /^(arn:[^:]+:states:[^:]*:[^:]*):stateMachine:([^:]+)$/.exec(stateMachineArn);
  if (!match) throw new InvalidInputError(`STATE_MACHINE_ARN '${stateMachineArn}' is not a state machine ARN.`);
  return `${match[1]}:execution:${match[2]}:${executionName}`;
};

const maxAgeHoursFrom = (input: Input): number => {
  if (input.maxAgeHours !== undefined) return input.maxAgeHours;
  const raw = process.env.MAX_BUILDER_AGE_HOURS;
  if (raw === undefined || raw === '') return DEFAULT_MAX_BUILDER_AGE_HOURS;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new InvalidInputError(`MAX_BUILDER_AGE_HOURS '${raw}' is not a positive number of hours.`);
  return value;
};

/** RUNNING, another status, `missing`, or undefined when it cannot be told now. */
const executionStatus = async (arn: string): Promise<string | undefined> => {
  try {
    const out = await callAws(`states:DescribeExecution ${arn}`, () => sfn.send(new DescribeExecutionCommand({ executionArn: arn })));
    return out.status ?? 'UNKNOWN';
  } catch (error) {
    if (awsErrorCode((error as Error).cause) === 'ExecutionDoesNotExist') return 'missing';
    logger.warn('cannot check execution; builder left alone', { arn, error: (error as Error).message });
    return undefined;
  }
};

/** Every live managed instance, page by page: the reaper scans the whole account. */
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

const run = async (input: Input): Promise<ReapOutput> => {
  const stateMachineArn = process.env.STATE_MACHINE_ARN;
  if (!stateMachineArn) throw new InvalidInputError('STATE_MACHINE_ARN is not set; the reaper needs it to check executions.');
  const maxAgeHours = maxAgeHoursFrom(input);
  const dryRun = input.dryRun ?? false;
  const cutoff = Date.now() - maxAgeHours * 3_600_000;

  const reapable: string[] = [];
  const skipped: ReapOutput['skipped'] = [];
  for (const instance of await managedInstances()) {
    const instanceId = instance.InstanceId;
    if (!instanceId) continue;
    const launched = instance.LaunchTime?.getTime() ?? Date.now();
    if (launched > cutoff) {
      skipped.push({ instanceId, reason: `younger than ${maxAgeHours} h` });
      continue;
    }
    const executionName = instance.Tags?.find((t) => t.Key === TAG_EXECUTION)?.Value;
    if (executionName) {
      const status = await executionStatus(executionArn(stateMachineArn, executionName));
      if (status === undefined) {
        skipped.push({ instanceId, reason: `execution ${executionName} could not be checked` });
        continue;
      }
      if (status === 'RUNNING') {
        skipped.push({ instanceId, reason: `execution ${executionName} is RUNNING` });
        continue;
      }
    }
    reapable.push(instanceId);
  }

  if (!dryRun) {
    for (let start = 0; start < reapable.length; start += TERMINATE_BATCH) {
      const batch = reapable.slice(start, start + TERMINATE_BATCH);
      await callAws(`ec2:TerminateInstances ${batch.join(', ')}`, () => ec2.send(new TerminateInstancesCommand({ InstanceIds: batch })));
    }
  }
  logger.info('reaper done', { terminated: reapable, skipped: skipped.length, dryRun });
  return { terminatedInstanceIds: reapable, skipped, maxAgeHours, dryRun };
};

/** Handler of the scheduled reaper. */
export const handler = defineStage('reap-builders', inputSchema, run);
