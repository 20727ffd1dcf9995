/**
 * Simulated Step Functions (Standard workflow) for the triggers, from the AWS Step Functions API Reference:
 *
 * - StartExecution (API_StartExecution.html): a name is 1-80 characters of letters, digits, `-` and `_`
 *   (`InvalidName`; AWS allows more characters, the factory uses only these). A name is unique per state machine for
 *   90 days: the same name with the same input while that execution is RUNNING is idempotent and returns the
 *   existing execution's ARN and start date; a different input, or any input once it is closed, answers
 *   `ExecutionAlreadyExists`. Ninety days after an execution closed, its name can be used again.
 * - DescribeExecution (API_DescribeExecution.html): `status` is RUNNING, SUCCEEDED, FAILED, TIMED_OUT or ABORTED;
 *   an unknown ARN, or an execution closed more than 90 days ago (Step Functions keeps closed executions' records
 *   for 90 days, "Quotas related to executions"), answers `ExecutionDoesNotExist`.
 * - ListExecutions (API_ListExecutions.html): the state machine's executions, most recent start first, filtered by
 *   `statusFilter`, at most `maxResults` (1-1000, default 100) per page with a `nextToken`.
 *
 * Left out: PENDING_REDRIVE and redrives, versions and aliases, ListExecutions' eventual consistency (an execution
 * shows at once here), Express workflows (which are not idempotent).
 *
 * By default an execution just stays RUNNING; pass `runner` to run it (e.g. the local state machine
 * harness) — its result closes the execution as SUCCEEDED or FAILED. `finish` closes one by hand, with any status.
 */
import type { HistoryEvent } from '../execution-history';
import { AwsServiceError, type SimulatedAwsCore } from './core';

export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';

export interface SimulatedExecution {
  executionArn: string;
  stateMachineArn: string;
  name: string;
  input: string;
  /** DescribeExecution's statuses (Step Functions API reference, DescribeExecution); PENDING_REDRIVE is not modelled. */
  status: ExecutionStatus;
  startDate: Date;
  stopDate?: Date;
  output?: string;
  error?: string;
  cause?: string;
  /** Settles when a runner has finished the execution. */
  done?: Promise<void>;
  /** The execution's history, when the harness ran it (answered by GetExecutionHistory, simulation/aws/sfn-history.ts). */
  history?: readonly HistoryEvent[];
}

export type ExecutionRunner = (execution: SimulatedExecution) => Promise<unknown>;

const NAME_PATTERN = /^[A-Za-z0-9_-]{1,80}$/;
/** How long Step Functions keeps a closed execution (and so its name) after it closed. */
export const EXECUTION_RETENTION_MS = 90 * 24 * 3600 * 1000;
const LIST_MAX_RESULTS = 1000;
const LIST_DEFAULT_RESULTS = 100;

export class SimulatedStepFunctions {
  readonly executions = new Map<string, SimulatedExecution>();
  runner?: ExecutionRunner;

  constructor(private readonly core: SimulatedAwsCore) {
    core.register('sfn', {
      StartExecution: (input: { stateMachineArn: string; name?: string; input?: string }) => this.start(input),
      DescribeExecution: (input: { executionArn: string }) => {
        const { done: _done, history: _history, ...execution } = this.get(input.executionArn);
        return execution;
      },
      ListExecutions: (input: { stateMachineArn: string; statusFilter?: string; maxResults?: number; nextToken?: string }) => this.list(input),
    });
  }

  /** Closes a RUNNING execution by hand (when no runner is set): SUCCEEDED, or FAILED when `error` is given, unless `status` says otherwise. */
  finish(executionArn: string, outcome: { output?: unknown; error?: string; cause?: string; status?: Exclude<ExecutionStatus, 'RUNNING'> }): void {
    const execution = this.get(executionArn);
    execution.status = outcome.status ?? (outcome.error ? 'FAILED' : 'SUCCEEDED');
    execution.stopDate = new Date(Date.now());
    execution.output = outcome.output === undefined ? undefined : JSON.stringify(outcome.output);
    execution.error = outcome.error;
    execution.cause = outcome.cause;
  }

  /** Executions Step Functions still knows: closed ones are forgotten 90 days after they closed. */
  private live(): SimulatedExecution[] {
    const now = Date.now();
    for (const [arn, execution] of this.executions) {
      if (execution.stopDate && now - execution.stopDate.getTime() > EXECUTION_RETENTION_MS) this.executions.delete(arn);
    }
    return [...this.executions.values()];
  }

  /** The execution, or Step Functions' ExecutionDoesNotExist (unknown, or closed more than 90 days ago). */
  get(executionArn: string): SimulatedExecution {
    this.live();
    const execution = this.executions.get(executionArn);
    if (!execution) throw new AwsServiceError('ExecutionDoesNotExist', `Execution Does Not Exist: '${executionArn}'`);
    return execution;
  }

  private list(input: { stateMachineArn: string; statusFilter?: string; maxResults?: number; nextToken?: string }) {
    const maxResults = input.maxResults || LIST_DEFAULT_RESULTS;
    if (!Number.isInteger(maxResults) || maxResults < 0 || maxResults > LIST_MAX_RESULTS) {
      throw new AwsServiceError('ValidationException', `1 validation error detected: Value '${maxResults}' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to ${LIST_MAX_RESULTS}`);
    }
    const start = input.nextToken ? Number(input.nextToken) : 0;
    if (!Number.isInteger(start) || start < 0) throw new AwsServiceError('InvalidToken', `Invalid Token: '${input.nextToken}'`);
    const matching = this.live()
      .filter((e) => e.stateMachineArn === input.stateMachineArn && (!input.statusFilter || e.status === input.statusFilter))
      // Most recent first; executions started in the same millisecond keep the order they were started in, newest first.
      .map((e, order) => ({ e, order }))
      .sort((a, b) => b.e.startDate.getTime() - a.e.startDate.getTime() || b.order - a.order)
      .map(({ e }) => e);
    const page = matching.slice(start, start + maxResults);
    return {
      executions: page.map(({ executionArn, stateMachineArn, name, status, startDate, stopDate }) => ({ executionArn, stateMachineArn, name, status, startDate, stopDate })),
      ...(start + maxResults < matching.length ? { nextToken: String(start + maxResults) } : {}),
    };
  }

  private start(request: { stateMachineArn: string; name?: string; input?: string }) {
    const match = /^arn:aws:states:([^:]+):(\d{12}):stateMachine:(.+)$/.exec(request.stateMachineArn ?? '');
    if (!match) throw new AwsServiceError('InvalidArn', `Invalid Arn: '${request.stateMachineArn}'`);
    const name = request.name ?? `sim-${this.executions.size + 1}`;
    if (!NAME_PATTERN.test(name)) throw new AwsServiceError('InvalidName', `Invalid Name: '${name}'`);
    const input = request.input ?? '{}';
    if (Buffer.byteLength(input) > 256 * 1024) throw new AwsServiceError('InvalidExecutionInput', 'Execution input exceeds 256 KB.');
    try {
      JSON.parse(input);
    } catch {
      throw new AwsServiceError('InvalidExecutionInput', 'Invalid execution input: not JSON.');
    }
    const executionArn = `arn:aws:states:${match[1]}:${match[2]}:execution:${match[3]}:${name}`;
    this.live();
    const existing = this.executions.get(executionArn);
    if (existing) {
      if (existing.status === 'RUNNING' && existing.input === input) return { executionArn, startDate: existing.startDate };
      throw new AwsServiceError('ExecutionAlreadyExists', `Execution Already Exists: '${executionArn}'`);
    }
    const execution: SimulatedExecution = { executionArn, stateMachineArn: request.stateMachineArn, name, input, status: 'RUNNING', startDate: new Date(Date.now()) };
    this.executions.set(executionArn, execution);
    if (this.runner) {
      execution.done = this.runner(execution).then(
        (output) => this.finish(executionArn, { output }),
        (error: Error) => this.finish(executionArn, { error: error.name, cause: error.message }),
      );
    }
    return { executionArn, startDate: execution.startDate };
  }
}
