/**
 * The Step Functions API operations the local endpoint serves, with the request validation, errors, pagination and
 * response shapes of the real service. Source: botocore's service model of Step Functions,
 * `botocore/data/stepfunctions/2016-11-23/service-2.json` (members, `required`, `min`/`max`, enums, error shapes and
 * the operations' documentation), and its `paginators-1.json` (nextToken / maxResults). Where the model says less
 * than AWS does, the source is named at the rule.
 *
 * Timestamps leave here as epoch milliseconds; cli/local/json-protocol.ts writes them as epoch seconds, as the AWS
 * JSON 1.0 protocol does.
 *
 * Left out: versions and aliases (a qualified ARN is refused as not found), Map Runs, redrives (`redriveCount` is
 * always 0), Express workflows, KMS encryption of execution data, `ExecutionLimitExceeded` (1,000,000 open
 * executions), eventual consistency (every change shows at once), and the 24-hour expiry of pagination tokens.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { HistoryEvent } from '../../simulation/execution-history';
import type { SimulatedExecution } from '../../simulation/aws/sfn';

/** An error of the Step Functions API: `code` is the model's error shape name (the `__type` on the wire). */
export class StepFunctionsApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'StepFunctionsApiError';
  }
}

/** The state machine the endpoint serves, as DescribeStateMachine returns it. */
export interface LocalStateMachine {
  stateMachineArn: string;
  name: string;
  /** The definition as deployed: substitutions filled. */
  definition: string;
  roleArn: string;
  /** Epoch ms. */
  creationDate: number;
}

/** What runs the executions (cli/local/local-factory.ts; tests pass a stand-in). */
export interface ExecutionBackend {
  readonly stateMachine: LocalStateMachine;
  /** Every execution Step Functions knows, by ARN (the simulated account's, so the reaper's DescribeExecution sees them). */
  readonly executions: Map<string, SimulatedExecution>;
  /** Starts running an execution that has just been recorded as RUNNING. */
  start: (execution: SimulatedExecution) => void;
  /** Stops a RUNNING execution: it is already marked ABORTED with its stop date, error and cause. */
  stop: (execution: SimulatedExecution) => void;
  /** The execution's history so far, as GetExecutionHistory lists it. */
  history: (executionArn: string) => readonly HistoryEvent[];
}

type Input = Record<string, unknown>;
type Output = Record<string, unknown>;

const STATUSES = ['RUNNING', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED', 'PENDING_REDRIVE'] as const;
const INCLUDED_DATA = ['ALL_DATA', 'METADATA_ONLY'] as const;
/** PageSize: "The default is 100 and the maximum allowed page size is 1000. A value of 0 uses the default." */
const PAGE_DEFAULT = 100;
const PAGE_MAX = 1000;

/**
 * Characters a name must not contain (StartExecutionInput.name's documentation): white space, brackets `< > { } [ ]`,
 * wildcards `? *`, special characters `" # % \ ^ | ~ ` $ & , ; : /`, control characters (U+0000-001F,
 * U+007F-009F, U+FFFE-FFFF), surrogates.
 */
// eslint-disable-next-line no-control-regex
const FORBIDDEN_IN_NAME = /[\s<>{}[\]?*"#%\\^|~`$&,;:/\u0000-\u001f\u007f-\u009f\ufffe\uffff\ud800-\udfff]/;

// The validation message as Step Functions words it: "1 validation error detected: Value 'xxx' at 'name' failed to
// satisfy constraint: Member must have length less than or equal to 80" (a StartExecution quoted in
// wolfeidau/buildkite-serverless-agent#37); a missing member reads `Value null at`, and a sensitive one (input,
// error, cause) is not echoed, `Value at '<member>'` (as quoted in hashicorp/terraform-provider-aws#41023).
const invalid = (member: string, value: unknown, constraint: string, sensitive = false): StepFunctionsApiError => {
  const shown = value === undefined || value === null ? 'null ' : sensitive ? '' : `'${String(value)}' `;
  return new StepFunctionsApiError('ValidationException', `1 validation error detected: Value ${shown}at '${member}' failed to satisfy constraint: ${constraint}`);
};

const typeOf = (value: unknown) => (Array.isArray(value) ? 'array' : value === null ? 'null' : typeof value);

/** A member of the wrong JSON type is refused as the protocol layer does: SerializationException. */
const member = <T extends 'string' | 'number' | 'boolean'>(input: Input, name: string, type: T): (T extends 'string' ? string : T extends 'number' ? number : boolean) | undefined => {
  const value = input[name];
  if (value === undefined || value === null) return undefined;
  if (typeOf(value) !== type) throw new StepFunctionsApiError('SerializationException', `${name}: expected a ${type}, got ${typeOf(value)}`);
  return value as never;
};

const required = (input: Input, name: string): string => {
  const value = member(input, name, 'string');
  if (value === undefined) throw invalid(name, undefined, 'Member must not be null');
  return value;
};

const lengthWithin = (name: string, value: string | undefined, min: number, max: number, options: { sensitive?: boolean; bytes?: boolean } = {}) => {
  if (value === undefined) return;
  const length = options.bytes ? Buffer.byteLength(value, 'utf8') : value.length;
  if (length < min) throw invalid(name, value, `Member must have length greater than or equal to ${min}`, options.sensitive);
  if (length > max) throw invalid(name, value, `Member must have length less than or equal to ${max}`, options.sensitive);
};

const oneOf = (name: string, value: string | undefined, allowed: readonly string[]) => {
  if (value !== undefined && !allowed.includes(value)) throw invalid(name, value, `Member must satisfy enum value set: [${allowed.join(', ')}]`);
};

const pageSize = (input: Input): number => {
  const value = member(input, 'maxResults', 'number');
  if (value === undefined || value === 0) return PAGE_DEFAULT;
  if (!Number.isInteger(value)) throw new StepFunctionsApiError('SerializationException', `maxResults: expected an integer, got ${value}`);
  if (value < 0) throw invalid('maxResults', value, 'Member must have value greater than or equal to 0');
  if (value > PAGE_MAX) throw invalid('maxResults', value, `Member must have value less than or equal to ${PAGE_MAX}`);
  return value;
};

/**
 * An ARN of Step Functions: `arn:<partition>:states:<region>:<account>:<resourceType>:<resource...>`. Anything
 * else is `InvalidArn` ("The provided Amazon Resource Name (ARN) is not valid."); a well-formed ARN of another
 * resource is not found, not invalid.
 */
const parseArn = (name: string, arn: string, resourceType: 'stateMachine' | 'execution'): string[] => {
  lengthWithin(name, arn, 1, 256);
  const parts = arn.split(':');
  const [prefix, partition, service, region, account, type, ...resource] = parts;
  if (prefix !== 'arn' || !partition || service !== 'states' || !region || !/^\d{12}$/.test(account ?? '') || type !== resourceType || resource.length === 0 || resource.some((part) => part === '')) {
    throw new StepFunctionsApiError('InvalidArn', `Invalid Arn: 'Resource type not valid in this context: ${arn}'`);
  }
  return resource;
};

/**
 * Pagination tokens: opaque to the caller, bound to the request they continue ("Keep all other arguments unchanged";
 * another request, or a made-up token, is `InvalidToken`).
 */
const encodeToken = (scope: string, offset: number): string =>
  Buffer.from(JSON.stringify({ s: createHash('sha256').update(scope).digest('base64url').slice(0, 22), o: offset })).toString('base64url');
const decodeToken = (token: string | undefined, scope: string, max: number): number => {
  if (token === undefined) return 0;
  lengthWithin('nextToken', token, 1, max);
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { s?: unknown; o?: unknown };
    if (parsed.s === createHash('sha256').update(scope).digest('base64url').slice(0, 22) && Number.isInteger(parsed.o) && (parsed.o as number) > 0) return parsed.o as number;
  } catch {
    // falls through: not one of ours
  }
  throw new StepFunctionsApiError('InvalidToken', `Invalid Token: '${token}'`);
};

const page = <T>(items: readonly T[], offset: number, size: number, scope: string) => ({
  items: items.slice(offset, offset + size),
  nextToken: offset + size < items.length ? encodeToken(scope, offset + size) : undefined,
});

/** The ISO 8601 shape leaves as epoch ms (the protocol layer writes seconds). */
const time = (date: Date | undefined) => (date === undefined ? undefined : date.getTime());

/**
 * Serves the six operations against `backend`.
 *
 * @example
 * const api = new LocalStepFunctionsApi(backend);
 * api.handle('StartExecution', { stateMachineArn: backend.stateMachine.stateMachineArn, input: '{"images":["nginx:1.27"]}' });
 */
export class LocalStepFunctionsApi {
  /** The operations served, by their `X-Amz-Target` suffix. */
  static readonly OPERATIONS = ['StartExecution', 'DescribeExecution', 'ListExecutions', 'GetExecutionHistory', 'StopExecution', 'DescribeStateMachine'] as const;

  constructor(private readonly backend: ExecutionBackend) {}

  /** Answers one operation; throws {@link StepFunctionsApiError} as the service would. */
  handle(operation: string, input: Input): Output {
    switch (operation) {
      case 'StartExecution':
        return this.startExecution(input);
      case 'DescribeExecution':
        return this.describeExecution(input);
      case 'ListExecutions':
        return this.listExecutions(input);
      case 'GetExecutionHistory':
        return this.getExecutionHistory(input);
      case 'StopExecution':
        return this.stopExecution(input);
      case 'DescribeStateMachine':
        return this.describeStateMachine(input);
      default:
        throw new StepFunctionsApiError('UnknownOperationException', `Unknown operation: ${operation}`);
    }
  }

  private stateMachine(name: string, arn: string) {
    const resource = parseArn(name, arn, 'stateMachine');
    // Only the unqualified ARN of the served machine exists: versions (`:<n>`) and aliases are not modelled.
    if (resource.length !== 1 || arn !== this.backend.stateMachine.stateMachineArn) {
      throw new StepFunctionsApiError('StateMachineDoesNotExist', `State Machine Does Not Exist: '${arn}'`);
    }
    return this.backend.stateMachine;
  }

  private execution(input: Input): SimulatedExecution {
    const arn = required(input, 'executionArn');
    const resource = parseArn('executionArn', arn, 'execution');
    if (resource.length !== 2) throw new StepFunctionsApiError('InvalidArn', `Invalid Arn: 'Resource type not valid in this context: ${arn}'`);
    const execution = this.backend.executions.get(arn);
    if (!execution) throw new StepFunctionsApiError('ExecutionDoesNotExist', `Execution Does Not Exist: '${arn}'`);
    return execution;
  }

  /**
   * StartExecution. "StartExecution is idempotent for STANDARD workflows ... if you call StartExecution with the same
   * name and input as a running execution, the call succeeds and return the same response as the original request.
   * If the execution is closed or if the input is different, it returns a 400 ExecutionAlreadyExists error."
   * Without a name, "Step Functions automatically generates a universally unique identifier (UUID)".
   */
  private startExecution(input: Input): Output {
    const machine = this.stateMachine('stateMachineArn', required(input, 'stateMachineArn'));
    const name = member(input, 'name', 'string') ?? randomUUID();
    lengthWithin('name', name, 1, 80);
    if (FORBIDDEN_IN_NAME.test(name)) throw new StepFunctionsApiError('InvalidName', `Invalid Name: '${name}'`);
    // SensitiveData: max 262144, "expressed as bytes in UTF-8 encoding".
    const text = member(input, 'input', 'string') ?? '{}';
    lengthWithin('input', text, 0, 262_144, { sensitive: true, bytes: true });
    const traceHeader = member(input, 'traceHeader', 'string');
    lengthWithin('traceHeader', traceHeader, 0, 256);
    try {
      JSON.parse(text);
    } catch (error) {
      throw new StepFunctionsApiError('InvalidExecutionInput', `Invalid State Machine Execution Input: '${(error as Error).message}'`);
    }
    const executionArn = `${machine.stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;
    const existing = this.backend.executions.get(executionArn);
    if (existing) {
      if (existing.status === 'RUNNING' && existing.input === text) return { executionArn, startDate: time(existing.startDate) };
      throw new StepFunctionsApiError('ExecutionAlreadyExists', `Execution Already Exists: '${executionArn}'`);
    }
    const execution: SimulatedExecution = { executionArn, stateMachineArn: machine.stateMachineArn, name, input: text, status: 'RUNNING', startDate: new Date(Date.now()) };
    this.backend.executions.set(executionArn, execution);
    this.backend.start(execution);
    return { executionArn, startDate: time(execution.startDate) };
  }

  /** DescribeExecution: METADATA_ONLY leaves out input and output (IncludedData). */
  private describeExecution(input: Input): Output {
    const includedData = member(input, 'includedData', 'string');
    oneOf('includedData', includedData, INCLUDED_DATA);
    const execution = this.execution(input);
    const data = includedData !== 'METADATA_ONLY';
    return {
      executionArn: execution.executionArn,
      stateMachineArn: execution.stateMachineArn,
      name: execution.name,
      status: execution.status,
      startDate: time(execution.startDate),
      stopDate: time(execution.stopDate),
      ...(data ? { input: execution.input, inputDetails: { included: true } } : {}),
      ...(data && execution.output !== undefined ? { output: execution.output, outputDetails: { included: true } } : {}),
      // An abort without a reason has no error or cause: the keys are left out, not null (measured, floci-io/floci#2969).
      ...(execution.error !== undefined ? { error: execution.error } : {}),
      ...(execution.cause !== undefined ? { cause: execution.cause } : {}),
      redriveCount: 0,
    };
  }

  /** ListExecutions: "Results are sorted by time, with the most recent execution first." */
  private listExecutions(input: Input): Output {
    const arn = member(input, 'stateMachineArn', 'string');
    if (member(input, 'mapRunArn', 'string') !== undefined) throw new StepFunctionsApiError('ValidationException', 'Map Runs are not modelled by the local endpoint');
    if (arn === undefined) throw new StepFunctionsApiError('ValidationException', 'Must provide a StateMachine ARN or MapRun ARN');
    const machine = this.stateMachine('stateMachineArn', arn);
    const statusFilter = member(input, 'statusFilter', 'string');
    oneOf('statusFilter', statusFilter, STATUSES);
    const redriveFilter = member(input, 'redriveFilter', 'string');
    oneOf('redriveFilter', redriveFilter, ['REDRIVEN', 'NOT_REDRIVEN']);
    const size = pageSize(input);
    const scope = JSON.stringify(['ListExecutions', arn, statusFilter, redriveFilter]);
    const offset = decodeToken(member(input, 'nextToken', 'string'), scope, 3096);
    const matching = [...this.backend.executions.values()]
      .filter((e) => e.stateMachineArn === machine.stateMachineArn && (!statusFilter || e.status === statusFilter) && redriveFilter !== 'REDRIVEN')
      .map((e, order) => ({ e, order }))
      .sort((a, b) => b.e.startDate.getTime() - a.e.startDate.getTime() || b.order - a.order)
      .map(({ e }) => e);
    const { items, nextToken } = page(matching, offset, size, scope);
    return {
      executions: items.map((e) => ({
        executionArn: e.executionArn,
        stateMachineArn: e.stateMachineArn,
        name: e.name,
        status: e.status,
        startDate: time(e.startDate),
        stopDate: time(e.stopDate),
        redriveCount: 0,
      })),
      ...(nextToken ? { nextToken } : {}),
    };
  }

  /**
   * GetExecutionHistory: ascending by time unless `reverseOrder`; `includeExecutionData` ("whether execution data
   * (input or output of a history event) is returned. The default is true") false drops every `input`, `output`
   * and Task `parameters` text, keeping the events and their other fields.
   */
  private getExecutionHistory(input: Input): Output {
    const execution = this.execution(input);
    const reverseOrder = member(input, 'reverseOrder', 'boolean') ?? false;
    const includeData = member(input, 'includeExecutionData', 'boolean') ?? true;
    const size = pageSize(input);
    const scope = JSON.stringify(['GetExecutionHistory', execution.executionArn, reverseOrder, includeData]);
    const offset = decodeToken(member(input, 'nextToken', 'string'), scope, 1024);
    const events = [...this.backend.history(execution.executionArn)];
    if (reverseOrder) events.reverse();
    const { items, nextToken } = page(events, offset, size, scope);
    return { events: items.map((event) => (includeData ? { ...event } : withoutData(event))), ...(nextToken ? { nextToken } : {}) };
  }

  /**
   * StopExecution: the execution ends ABORTED at once with the caller's error and cause (kept on DescribeExecution
   * and in ExecutionAborted's details, as measured in floci-io/floci#2734); no Catch runs. Stopping an execution that
   * has already ended changes nothing and answers its stop date: no public source says what AWS answers then.
   */
  private stopExecution(input: Input): Output {
    const error = member(input, 'error', 'string');
    const cause = member(input, 'cause', 'string');
    lengthWithin('error', error, 0, 256, { sensitive: true });
    lengthWithin('cause', cause, 0, 32_768, { sensitive: true });
    const execution = this.execution(input);
    if (execution.status === 'RUNNING') {
      execution.status = 'ABORTED';
      execution.stopDate = new Date(Date.now());
      execution.error = error;
      execution.cause = cause;
      this.backend.stop(execution);
    }
    return { stopDate: time(execution.stopDate) };
  }

  private describeStateMachine(input: Input): Output {
    const includedData = member(input, 'includedData', 'string');
    oneOf('includedData', includedData, INCLUDED_DATA);
    const machine = this.stateMachine('stateMachineArn', required(input, 'stateMachineArn'));
    return {
      stateMachineArn: machine.stateMachineArn,
      name: machine.name,
      status: 'ACTIVE',
      definition: machine.definition,
      roleArn: machine.roleArn,
      type: 'STANDARD',
      creationDate: machine.creationDate,
      // As infra/snapshot-factory.ts configures the state machine: logs at level ALL without execution data, X-Ray on.
      loggingConfiguration: { level: 'ALL', includeExecutionData: false },
      tracingConfiguration: { enabled: true },
    };
  }
}

/** A history event without its execution data (the input, output and parameters texts). */
const withoutData = (event: HistoryEvent): Record<string, unknown> =>
  Object.fromEntries(
    Object.entries(event).map(([key, value]) => {
      if (!key.endsWith('EventDetails') || typeof value !== 'object' || value === null) return [key, value];
      const { input: _input, output: _output, parameters: _parameters, ...rest } = value as Record<string, unknown>;
      return [key, rest];
    }),
  );
