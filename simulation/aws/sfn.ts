/**
 * Simulated Step Functions (Standard workflow) for the triggers: StartExecution with AWS's name rules —
 * a name is 1-80 characters of letters, digits, `-` and `_` (`InvalidName`), and is unique per state machine:
 * the same name with the same input while the execution runs returns the existing execution (idempotent);
 * a closed execution or a different input -> `ExecutionAlreadyExists`. DescribeExecution and
 * ListExecutions read them back.
 *
 * By default an execution just stays RUNNING; pass `runner` to run it (e.g. the local state machine
 * harness) — its result closes the execution as SUCCEEDED or FAILED.
 */
import { AwsServiceError, type SimulatedAwsCore } from './core';

export interface SimulatedExecution {
  executionArn: string;
  stateMachineArn: string;
  name: string;
  input: string;
  /** DescribeExecution's statuses (Step Functions API reference, DescribeExecution); PENDING_REDRIVE is not modelled. */
  status: 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';
  startDate: Date;
  stopDate?: Date;
  output?: string;
  error?: string;
  cause?: string;
  /** Settles when a runner has finished the execution. */
  done?: Promise<void>;
}

export type ExecutionRunner = (execution: SimulatedExecution) => Promise<unknown>;

const NAME_PATTERN = /^[A-Za-z0-9_-]{1,80}$/;

export class SimulatedStepFunctions {
  readonly executions = new Map<string, SimulatedExecution>();
  runner?: ExecutionRunner;

  constructor(private readonly core: SimulatedAwsCore) {
    core.register('sfn', {
      StartExecution: (input: { stateMachineArn: string; name?: string; input?: string }) => this.start(input),
      DescribeExecution: (input: { executionArn: string }) => {
        const { done: _done, ...execution } = this.get(input.executionArn);
        return execution;
      },
      ListExecutions: (input: { stateMachineArn: string; statusFilter?: string }) => ({
        executions: [...this.executions.values()]
          .filter((e) => e.stateMachineArn === input.stateMachineArn && (!input.statusFilter || e.status === input.statusFilter))
          .map(({ executionArn, stateMachineArn, name, status, startDate, stopDate }) => ({ executionArn, stateMachineArn, name, status, startDate, stopDate })),
      }),
    });
  }

  /** Closes a RUNNING execution by hand (when no runner is set). */
  finish(executionArn: string, outcome: { output?: unknown; error?: string; cause?: string }): void {
    const execution = this.get(executionArn);
    execution.status = outcome.error ? 'FAILED' : 'SUCCEEDED';
    execution.stopDate = new Date(Date.now());
    execution.output = outcome.output === undefined ? undefined : JSON.stringify(outcome.output);
    execution.error = outcome.error;
    execution.cause = outcome.cause;
  }

  private get(executionArn: string): SimulatedExecution {
    const execution = this.executions.get(executionArn);
    if (!execution) throw new AwsServiceError('ExecutionDoesNotExist', `Execution Does Not Exist: '${executionArn}'`);
    return execution;
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
