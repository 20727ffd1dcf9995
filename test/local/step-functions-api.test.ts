/**
 * The local endpoint's Step Functions operations against a stand-in backend that records what it is asked to run:
 * validation, errors, idempotency, pagination and shapes, as botocore's stepfunctions model
 * (data/stepfunctions/2016-11-23/service-2.json) gives them.
 */
import { describe, expect, it } from 'vitest';
import type { SimulatedExecution } from '../../simulation/aws/sfn';
import type { HistoryEvent } from '../../simulation/execution-history';
import { LocalStepFunctionsApi, StepFunctionsApiError, type ExecutionBackend } from '../../cli/local/step-functions-api';
import { toWireTimestamps } from '../../cli/local/json-protocol';

const MACHINE = 'arn:aws:states:us-west-2:111122223333:stateMachine:Factory';
const EXECUTION = (name: string) => `arn:aws:states:us-west-2:111122223333:execution:Factory:${name}`;

const event = (id: number, type: HistoryEvent['type'], extra: Partial<HistoryEvent> = {}): HistoryEvent => ({ id, previousEventId: id - 1, timestamp: 1_000_000 + id, type, ...extra });

/** Records starts and stops; every execution has the same three-event history. */
const standIn = () => {
  const started: string[] = [];
  const stopped: string[] = [];
  const backend: ExecutionBackend = {
    stateMachine: { stateMachineArn: MACHINE, name: 'Factory', definition: '{"StartAt":"A","States":{"A":{"Type":"Succeed"}}}', roleArn: 'arn:aws:iam::111122223333:role/r', creationDate: 1_000 },
    executions: new Map<string, SimulatedExecution>(),
    start: (execution) => started.push(execution.name),
    stop: (execution) => stopped.push(execution.name),
    history: () => [
      event(1, 'ExecutionStarted', { executionStartedEventDetails: { input: '{"images":[]}', inputDetails: { truncated: false }, roleArn: 'r' } }),
      event(2, 'PassStateEntered', { stateEnteredEventDetails: { name: 'A', input: '{}', inputDetails: { truncated: false } } }),
      event(3, 'ExecutionSucceeded', { executionSucceededEventDetails: { output: '{}', outputDetails: { truncated: false } } }),
    ],
  };
  return { api: new LocalStepFunctionsApi(backend), backend, started, stopped };
};

const errorOf = (work: () => unknown): StepFunctionsApiError => {
  try {
    work();
  } catch (error) {
    if (error instanceof StepFunctionsApiError) return error;
    throw error;
  }
  throw new Error('expected a StepFunctionsApiError, nothing was thrown');
};

describe('StartExecution', () => {
  it('records a RUNNING execution, hands it to the backend and answers its ARN and start date', () => {
    // Prepare
    const { api, backend, started } = standIn();

    // Act
    const answer = api.handle('StartExecution', { stateMachineArn: MACHINE, name: 'one', input: '{"images":["nginx:1.27"]}' });

    // Assess
    expect(answer).toEqual({ executionArn: EXECUTION('one'), startDate: expect.any(Number) });
    expect(backend.executions.get(EXECUTION('one'))).toMatchObject({ status: 'RUNNING', input: '{"images":["nginx:1.27"]}' });
    expect(started).toEqual(['one']);
  });

  it('names an execution without a name with a UUID and gives it the input {}', () => {
    // Prepare
    const { api, backend } = standIn();

    // Act
    const answer = api.handle('StartExecution', { stateMachineArn: MACHINE });

    // Assess
    expect(answer.executionArn).toMatch(/:execution:Factory:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(backend.executions.get(answer.executionArn as string)!.input).toBe('{}');
  });

  it('answers the same response for the same name and input while the execution runs, and starts nothing more', () => {
    // Prepare
    const { api, started } = standIn();
    const request = { stateMachineArn: MACHINE, name: 'same', input: '{"a":1}' };
    const first = api.handle('StartExecution', request);

    // Act
    const second = api.handle('StartExecution', request);

    // Assess
    expect(second).toEqual(first);
    expect(started).toEqual(['same']);
  });

  it('fails when the name is reused with another input, or after the execution closed, with ExecutionAlreadyExists', () => {
    // Prepare
    const { api, backend } = standIn();
    api.handle('StartExecution', { stateMachineArn: MACHINE, name: 'taken', input: '{"a":1}' });

    // Act
    const otherInput = errorOf(() => api.handle('StartExecution', { stateMachineArn: MACHINE, name: 'taken', input: '{"a":2}' }));
    backend.executions.get(EXECUTION('taken'))!.status = 'SUCCEEDED';
    const closed = errorOf(() => api.handle('StartExecution', { stateMachineArn: MACHINE, name: 'taken', input: '{"a":1}' }));

    // Assess
    expect(otherInput.code).toBe('ExecutionAlreadyExists');
    expect(closed.code).toBe('ExecutionAlreadyExists');
    expect(closed.message).toContain(EXECUTION('taken'));
  });

  it.each(['with space', 'a/b', 'a:b', 'star*', 'brace{', 'tab\tname', 'semi;colon'])('fails when the name %j holds a forbidden character, with InvalidName', (name) => {
    // Act
    const error = errorOf(() => standIn().api.handle('StartExecution', { stateMachineArn: MACHINE, name }));

    // Assess
    expect(error.code).toBe('InvalidName');
    expect(error.message).toContain(name);
  });

  it('fails when the name is longer than 80 characters, with ValidationException naming the member', () => {
    // Act
    const error = errorOf(() => standIn().api.handle('StartExecution', { stateMachineArn: MACHINE, name: 'n'.repeat(81) }));

    // Assess
    expect(error.code).toBe('ValidationException');
    expect(error.message).toBe(`1 validation error detected: Value '${'n'.repeat(81)}' at 'name' failed to satisfy constraint: Member must have length less than or equal to 80`);
  });

  it('fails when the input is not JSON, with InvalidExecutionInput', () => {
    // Act
    const error = errorOf(() => standIn().api.handle('StartExecution', { stateMachineArn: MACHINE, input: '{images:' }));

    // Assess
    expect(error.code).toBe('InvalidExecutionInput');
  });

  it('fails when the input is over 262,144 bytes of UTF-8, with ValidationException that does not echo it', () => {
    // Prepare: 131,070 two-byte characters and 8 bytes of JSON are 262,148 bytes, 131,078 characters.
    const input = JSON.stringify({ a: 'é'.repeat(131_070) });

    // Act
    const error = errorOf(() => standIn().api.handle('StartExecution', { stateMachineArn: MACHINE, input }));

    // Assess
    expect(error.code).toBe('ValidationException');
    expect(error.message).toBe("1 validation error detected: Value at 'input' failed to satisfy constraint: Member must have length less than or equal to 262144");
  });

  it('fails when stateMachineArn is missing, malformed or another machine, each with its own error', () => {
    // Prepare
    const { api } = standIn();

    // Act
    const missing = errorOf(() => api.handle('StartExecution', {}));
    const malformed = errorOf(() => api.handle('StartExecution', { stateMachineArn: 'arn:aws:states:us-west-2:111122223333:activity:x' }));
    const other = errorOf(() => api.handle('StartExecution', { stateMachineArn: `${MACHINE}Other` }));
    const version = errorOf(() => api.handle('StartExecution', { stateMachineArn: `${MACHINE}:1` }));

    // Assess
    expect(missing.code).toBe('ValidationException');
    expect(missing.message).toContain("Value null at 'stateMachineArn'");
    expect(malformed.code).toBe('InvalidArn');
    expect(other.code).toBe('StateMachineDoesNotExist');
    expect(version.code).toBe('StateMachineDoesNotExist');
  });

  it('fails when a member has the wrong JSON type, with SerializationException', () => {
    // Act
    const error = errorOf(() => standIn().api.handle('StartExecution', { stateMachineArn: MACHINE, input: { images: [] } }));

    // Assess
    expect(error.code).toBe('SerializationException');
  });
});

describe('DescribeExecution and StopExecution', () => {
  it('describes an execution with its input; METADATA_ONLY leaves the data out', () => {
    // Prepare
    const { api } = standIn();
    api.handle('StartExecution', { stateMachineArn: MACHINE, name: 'd', input: '{"a":1}' });

    // Act
    const all = api.handle('DescribeExecution', { executionArn: EXECUTION('d') });
    const metadata = api.handle('DescribeExecution', { executionArn: EXECUTION('d'), includedData: 'METADATA_ONLY' });

    // Assess
    expect(all).toMatchObject({ executionArn: EXECUTION('d'), stateMachineArn: MACHINE, name: 'd', status: 'RUNNING', input: '{"a":1}', inputDetails: { included: true }, redriveCount: 0 });
    expect(all).not.toHaveProperty('error');
    expect(metadata).not.toHaveProperty('input');
  });

  it('stops a running execution: ABORTED at once with the error and cause, the backend told to stop it', () => {
    // Prepare
    const { api, stopped } = standIn();
    api.handle('StartExecution', { stateMachineArn: MACHINE, name: 's' });

    // Act
    const answer = api.handle('StopExecution', { executionArn: EXECUTION('s'), error: 'Manual', cause: 'probe' });
    const described = api.handle('DescribeExecution', { executionArn: EXECUTION('s') });

    // Assess
    expect(answer.stopDate).toEqual(expect.any(Number));
    expect(described).toMatchObject({ status: 'ABORTED', error: 'Manual', cause: 'probe', stopDate: answer.stopDate });
    expect(stopped).toEqual(['s']);
  });

  it('stops an execution without a reason leaving error and cause out', () => {
    // Prepare
    const { api } = standIn();
    api.handle('StartExecution', { stateMachineArn: MACHINE, name: 'quiet' });

    // Act
    api.handle('StopExecution', { executionArn: EXECUTION('quiet') });
    const described = api.handle('DescribeExecution', { executionArn: EXECUTION('quiet') });

    // Assess
    expect(described.status).toBe('ABORTED');
    expect(described).not.toHaveProperty('error');
    expect(described).not.toHaveProperty('cause');
  });

  it('fails when the execution ARN is unknown, malformed or of another resource type', () => {
    // Prepare
    const { api } = standIn();

    // Act
    const unknown = errorOf(() => api.handle('DescribeExecution', { executionArn: EXECUTION('nope') }));
    const malformed = errorOf(() => api.handle('StopExecution', { executionArn: 'arn:aws:states:us-west-2:111122223333:execution:Factory' }));
    const machine = errorOf(() => api.handle('DescribeExecution', { executionArn: MACHINE }));

    // Assess
    expect(unknown.code).toBe('ExecutionDoesNotExist');
    expect(malformed.code).toBe('InvalidArn');
    expect(machine.code).toBe('InvalidArn');
  });

  it('fails when the stop cause is over 32,768 characters, with ValidationException', () => {
    // Prepare
    const { api } = standIn();
    api.handle('StartExecution', { stateMachineArn: MACHINE, name: 'long' });

    // Act
    const error = errorOf(() => api.handle('StopExecution', { executionArn: EXECUTION('long'), cause: 'c'.repeat(32_769) }));

    // Assess
    expect(error.code).toBe('ValidationException');
    expect(error.message).toContain("at 'cause'");
  });
});

describe('ListExecutions and GetExecutionHistory', () => {
  it('lists the most recent first, pages with nextToken, filters by status', () => {
    // Prepare
    const { api, backend } = standIn();
    for (const name of ['a', 'b', 'c']) api.handle('StartExecution', { stateMachineArn: MACHINE, name });
    backend.executions.get(EXECUTION('b'))!.status = 'FAILED';

    // Act
    const first = api.handle('ListExecutions', { stateMachineArn: MACHINE, maxResults: 2 });
    const second = api.handle('ListExecutions', { stateMachineArn: MACHINE, maxResults: 2, nextToken: first.nextToken });
    const failed = api.handle('ListExecutions', { stateMachineArn: MACHINE, statusFilter: 'FAILED' });

    // Assess
    const names = (page: Record<string, unknown>) => (page.executions as { name: string }[]).map((e) => e.name);
    expect(names(first)).toEqual(['c', 'b']);
    expect(typeof first.nextToken).toBe('string');
    expect(names(second)).toEqual(['a']);
    expect(second).not.toHaveProperty('nextToken');
    expect(names(failed)).toEqual(['b']);
  });

  it('fails when a token is made up or reused with other arguments, with InvalidToken', () => {
    // Prepare
    const { api } = standIn();
    for (const name of ['a', 'b']) api.handle('StartExecution', { stateMachineArn: MACHINE, name });
    const { nextToken } = api.handle('ListExecutions', { stateMachineArn: MACHINE, maxResults: 1 });

    // Act
    const madeUp = errorOf(() => api.handle('ListExecutions', { stateMachineArn: MACHINE, nextToken: '1' }));
    const otherArguments = errorOf(() => api.handle('ListExecutions', { stateMachineArn: MACHINE, statusFilter: 'RUNNING', nextToken }));

    // Assess
    expect(madeUp.code).toBe('InvalidToken');
    expect(otherArguments.code).toBe('InvalidToken');
  });

  it.each([
    [1001, 'Member must have value less than or equal to 1000'],
    [-1, 'Member must have value greater than or equal to 0'],
  ])('fails when maxResults is %d, with ValidationException', (maxResults, constraint) => {
    // Act
    const error = errorOf(() => standIn().api.handle('ListExecutions', { stateMachineArn: MACHINE, maxResults }));

    // Assess
    expect(error.code).toBe('ValidationException');
    expect(error.message).toContain(constraint);
  });

  it('fails when statusFilter is not an execution status, with ValidationException', () => {
    // Act
    const error = errorOf(() => standIn().api.handle('ListExecutions', { stateMachineArn: MACHINE, statusFilter: 'DONE' }));

    // Assess
    expect(error.code).toBe('ValidationException');
    expect(error.message).toContain('Member must satisfy enum value set');
  });

  it('lists the history in order, reversed, paged, and without execution data when asked', () => {
    // Prepare
    const { api } = standIn();
    api.handle('StartExecution', { stateMachineArn: MACHINE, name: 'h' });
    const executionArn = EXECUTION('h');

    // Act
    const all = api.handle('GetExecutionHistory', { executionArn });
    const reversed = api.handle('GetExecutionHistory', { executionArn, reverseOrder: true, maxResults: 2 });
    const rest = api.handle('GetExecutionHistory', { executionArn, reverseOrder: true, maxResults: 2, nextToken: reversed.nextToken });
    const bare = api.handle('GetExecutionHistory', { executionArn, includeExecutionData: false });

    // Assess
    const ids = (page: Record<string, unknown>) => (page.events as HistoryEvent[]).map((e) => e.id);
    expect(ids(all)).toEqual([1, 2, 3]);
    expect(ids(reversed)).toEqual([3, 2]);
    expect(ids(rest)).toEqual([1]);
    const [started, entered] = bare.events as HistoryEvent[];
    expect(started!.executionStartedEventDetails).toEqual({ inputDetails: { truncated: false }, roleArn: 'r' });
    expect(entered!.stateEnteredEventDetails).toEqual({ name: 'A', inputDetails: { truncated: false } });
  });
});

describe('the wire', () => {
  it('writes every Timestamp member as epoch seconds and leaves absent members out', () => {
    // Act
    const wire = toWireTimestamps({ startDate: 1_700_000_000_123, stopDate: undefined, events: [{ timestamp: 1_700_000_001_000, id: 1 }], input: '{"startDate":5}' });

    // Assess
    expect(wire).toEqual({ startDate: 1_700_000_000.123, events: [{ timestamp: 1_700_000_001, id: 1 }], input: '{"startDate":5}' });
  });
});
