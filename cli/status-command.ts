/**
 * `snapshot-factory status <execution>`: where an execution is, or how it ended, read with DescribeExecution and
 * GetExecutionHistory; `--follow` waits for its end as `build` does.
 */
import { Command, Option } from 'commander';
import { parseStatesArn, regionFor } from './arns';
import type { AwsClients } from './aws-access';
import { followExecution, printResult, type FollowIo } from './follow-execution';
import { InvalidFlagError, parsePositiveInteger } from './snapshot-flags';

/** The `status` command's options. */
export interface StatusOptions {
  region?: string;
  stateMachineArn?: string;
  quiet?: boolean;
  follow?: boolean;
  pollSeconds: number;
  /** Step Functions endpoint instead of AWS's, e.g. `snapshot-factory local`'s. */
  endpointUrl?: string;
}

/**
 * The execution ARN from an ARN, or from an execution name and the state machine ARN
 * (`arn:<partition>:states:<region>:<account>:execution:<state machine name>:<execution name>`).
 */
export const executionArnOf = (execution: string, stateMachineArn: string | undefined): string => {
  if (execution.startsWith('arn:')) return execution;
  if (!stateMachineArn) {
    throw new InvalidFlagError(`"${execution}" is an execution name: give its ARN, or --state-machine-arn (or SNAPSHOT_FACTORY_STATE_MACHINE_ARN) too`);
  }
  parseStatesArn(stateMachineArn, 'stateMachine', '--state-machine-arn');
  return `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${execution}`;
};

/** The region `status` calls: `--region`, else the execution ARN's. */
export const statusRegion = (executionArn: string, region: string | undefined): string =>
  regionFor(parseStatesArn(executionArn, 'execution', '<execution>'), region);

/** Shows the execution once (or to its end with `follow`); exit code 0 when it succeeded, 2 while running, 1 otherwise. */
export const runStatus = async (executionArn: string, options: StatusOptions, clients: Pick<AwsClients, 'sfn'>, io: FollowIo): Promise<number> => {
  // Once: a single poll. Following: poll until the end.
  const final = await followExecution(executionArn, options.pollSeconds, clients.sfn, {
    ...io,
    sleep: options.follow ? io.sleep : () => Promise.reject(new StillRunning()),
  }).catch((error: unknown) => {
    if (error instanceof StillRunning) return undefined;
    throw error;
  });
  if (!final) {
    io.stderr('still RUNNING');
    return 2;
  }
  return printResult(final, options.quiet ?? false, io) ? 0 : 1;
};

class StillRunning extends Error {
  constructor() {
    super('still running');
    this.name = 'StillRunning';
  }
}

/** The `status` command's definition. */
export const statusCommand = (): Command =>
  new Command('status')
    .description('show where an execution is, or how it ended; the snapshot ID(s) on stdout when it succeeded')
    .argument('<execution>', 'execution ARN (as build prints it), or its name with --state-machine-arn')
    .addOption(new Option('--state-machine-arn <arn>', 'the factory state machine, to give the execution by name').env('SNAPSHOT_FACTORY_STATE_MACHINE_ARN'))
    .option('-r, --region <region>', "AWS region (default: the execution ARN's)")
    .option('-q, --quiet', 'only the snapshot ID(s) on stdout')
    .option('-f, --follow', 'follow the execution to its end')
    .option('--poll-seconds <n>', 'how often to poll with --follow', parsePositiveInteger('--poll-seconds'), 5)
    .option('--endpoint-url <url>', "Step Functions endpoint to use instead of AWS's, e.g. the one `snapshot-factory local` prints");
