/**
 * Step Functions' payload quota, enforced on the simulated execution as AWS enforces it.
 *
 * Sources:
 * - Step Functions service quotas, "Quotas related to task executions"
 *   (https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html, same text in express-limits.html):
 *   "Maximum input or output size for a task, state, or execution: 262,144 bytes of data as a UTF-8 encoded string.
 *   This quota affects tasks (activity, Lambda function, or integrated service), state or execution output, and
 *   input data when scheduling a task, entering a state, or starting an execution." The API reference gives every
 *   payload field (StateEnteredEventDetails.input, StateExitedEventDetails.output, TaskScheduledEventDetails.parameters,
 *   StartExecution input) "Maximum length of 262144 ... expressed as bytes in UTF-8 encoding".
 * - Error handling in Step Functions, error names (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html):
 *   `States.DataLimitExceeded` is reported when a connector's output, a state's output, or a state's input after
 *   Parameters processing is larger than the payload quota; it is a terminal error that `States.ALL` does not catch.
 *   So the execution fails (status FAILED) with that error, whatever Catch the state has; none of the definition's
 *   catches names it explicitly, so whether an explicit `ErrorEquals: ["States.DataLimitExceeded"]` would catch it is
 *   not modelled (such a Catch is refused by {@link assertNoDataLimitCatch}).
 * - Causes as AWS words them (GitHub issues quoting real executions): "The state/task '<name>' returned a result with
 *   a size exceeding the maximum number of bytes service limit." (awslabs/aws-securityhub-multiaccount-scripts#63,
 *   jogold/cloudstructs#163, aws-samples/review-and-assessment-powered-by-intelligent-documentation#58 for a Map's
 *   output) and "The state/task '<name>' provided parameters with a size exceeding the maximum number of bytes
 *   service limit." (mbc-net/mbc-cqrs-serverless#466). AWS names a Lambda Task's function ARN or the integration in
 *   some of those; the harness always names the state.
 * - A `lambda:invoke` Task's result is the Lambda response wrapped in metadata (Invoke Lambda with Step Functions,
 *   https://docs.aws.amazon.com/step-functions/latest/dg/connect-lambda.html): `{ ExecutedVersion, Payload,
 *   SdkHttpMetadata, SdkResponseMetadata, StatusCode }`. That whole object is the result the quota measures, before
 *   ResultSelector; {@link lambdaInvokeResult} builds it.
 *
 * StartExecution refuses an input over the quota (its `input` has the same length constraint): no execution starts,
 * so {@link assertExecutionInputFits} throws instead of failing an execution.
 *
 * Not modelled: the Lambda service's own payload limits (6 MB synchronous invoke), the 32,768-character `cause`.
 */
import { ExecutionHistory, type ExecutionHistoryOptions, type RunnerEvent } from './execution-history';

/** 256 KiB: the most any state input, state output, Task parameters, Task result or execution input/output may hold. */
export const PAYLOAD_LIMIT_BYTES = 262_144;
export const DATA_LIMIT_EXCEEDED = 'States.DataLimitExceeded';

/** Which payload a measurement is of. */
export type PayloadKind =
  | 'execution input'
  | 'state input'
  | 'task parameters'
  | 'task result'
  | 'state output'
  | 'map iteration input'
  | 'map iteration output'
  | 'execution output';

/** One payload measured. */
export interface PayloadMeasurement {
  kind: PayloadKind;
  /** The state it belongs to (for the execution's own input/output: the first/last state). */
  state: string;
  /** Map iteration index, for payloads inside the Map. */
  index?: number;
  bytes: number;
}

/** Why the harness failed the execution the way AWS would. */
export interface QuotaViolation {
  error: string;
  cause: string;
  /** The payload over the quota (absent for the history quota). */
  payload?: PayloadMeasurement;
}

/** The size Step Functions counts: the JSON text's UTF-8 bytes. */
export const payloadBytes = (value: unknown): number => Buffer.byteLength(JSON.stringify(value ?? null), 'utf8');

const RESULT_KINDS = new Set<PayloadKind>(['task result', 'state output', 'map iteration output', 'execution output']);

const causeOf = (measurement: PayloadMeasurement): string =>
  RESULT_KINDS.has(measurement.kind)
    ? `The state/task '${measurement.state}' returned a result with a size exceeding the maximum number of bytes service limit.`
    : `The state/task '${measurement.state}' provided parameters with a size exceeding the maximum number of bytes service limit.`;

/** Thrown by {@link assertExecutionInputFits}: StartExecution's answer to an input over the quota. */
export class ExecutionInputTooLargeError extends Error {
  constructor(bytes: number, limit: number) {
    super(`StartExecution refuses the input: it is ${bytes} bytes, more than the ${limit} bytes Step Functions accepts (API_StartExecution, input length constraint).`);
    this.name = 'ExecutionInputTooLargeError';
  }
}

/** Fails as StartExecution does when the execution input is over the quota. */
export const assertExecutionInputFits = (input: unknown, limit = PAYLOAD_LIMIT_BYTES): void => {
  const bytes = payloadBytes(input);
  if (bytes > limit) throw new ExecutionInputTooLargeError(bytes, limit);
};

/**
 * Refuses a definition whose Catch names `States.DataLimitExceeded`: the docs say only that `States.ALL` does not
 * catch it, so the harness would have to guess what such a catcher does.
 */
export const assertNoDataLimitCatch = (states: Iterable<[string, { Catch?: { ErrorEquals: string[] }[] }]>): void => {
  for (const [name, state] of states) {
    if (state.Catch?.some((c) => c.ErrorEquals.includes(DATA_LIMIT_EXCEEDED))) {
      throw new Error(`State ${name} catches ${DATA_LIMIT_EXCEEDED} explicitly; the harness does not model that (sfn-quotas.ts)`);
    }
  }
};

/**
 * The result of a `lambda:invoke` Task as Step Functions receives it (connect-lambda.html): the function's output
 * under `Payload`, with the invoke response's metadata.
 */
export const lambdaInvokeResult = (payload: unknown, requestId: string): Record<string, unknown> => ({
  ExecutedVersion: '$LATEST',
  Payload: payload,
  SdkHttpMetadata: {
    AllHttpHeaders: {
      'X-Amz-Executed-Version': ['$LATEST'],
      'x-amzn-Remapped-Content-Length': ['0'],
      Connection: ['keep-alive'],
      'x-amzn-RequestId': [requestId],
      'Content-Length': [String(payloadBytes(payload))],
      Date: [new Date(Date.now()).toUTCString()],
      'Content-Type': ['application/json'],
    },
    HttpHeaders: {
      Connection: 'keep-alive',
      'Content-Length': String(payloadBytes(payload)),
      'Content-Type': 'application/json',
      Date: new Date(Date.now()).toUTCString(),
      'X-Amz-Executed-Version': '$LATEST',
      'x-amzn-Remapped-Content-Length': '0',
      'x-amzn-RequestId': requestId,
    },
    HttpStatusCode: 200,
  },
  SdkResponseMetadata: { RequestId: requestId },
  StatusCode: 200,
});

export interface QuotaOptions {
  /** Default {@link PAYLOAD_LIMIT_BYTES}; tests lower it. */
  payloadLimitBytes?: number;
  /** Default 25,000 (execution-history.ts); tests lower it. */
  historyEventLimit?: number;
}

/**
 * Watches one execution: measures every payload, keeps its history, and halts the execution at the first quota it
 * breaks, as AWS fails it (no Catch runs, the execution ends FAILED).
 *
 * @example
 * const quotas = new ExecutionQuotas({}, () => execution.abort());
 * for await (const event of execution.eventLogs) quotas.observe(event);
 * quotas.violation; // { error: 'States.DataLimitExceeded', cause: "The state/task 'X' returned a result ..." }
 */
export class ExecutionQuotas {
  readonly history: ExecutionHistory;
  readonly payloadLimitBytes: number;
  /** The largest payload measured so far. */
  largest?: PayloadMeasurement;
  violation?: QuotaViolation;
  private lastState = '';
  private requests = 0;

  constructor(
    options: QuotaOptions & Omit<ExecutionHistoryOptions, 'limit'>,
    private readonly halt: () => void,
  ) {
    this.payloadLimitBytes = options.payloadLimitBytes ?? PAYLOAD_LIMIT_BYTES;
    this.history = new ExecutionHistory({ ...options, limit: options.historyEventLimit });
  }

  /** Measures the payloads of one runner event and appends it to the history. */
  observe(event: RunnerEvent): void {
    if (this.violation) return;
    const { state, index } = event;
    if (state?.name) this.lastState = state.name;
    switch (event.type) {
      case 'ExecutionStarted':
        this.measure('execution input', event.input, '(execution)', undefined, event.timestamp);
        break;
      case 'StateEntered':
        this.measure('state input', state?.input, state!.name, index, event.timestamp);
        break;
      case 'StateExited':
        this.measure('state output', state?.output, state!.name, index, event.timestamp);
        break;
      case 'MapIterationStarted':
        this.measure('map iteration input', event.input, event.parentState?.name ?? '(map)', index, event.timestamp);
        break;
      case 'MapIterationSucceeded':
        this.measure('map iteration output', event.output, event.parentState?.name ?? '(map)', index, event.timestamp);
        break;
      case 'ExecutionSucceeded':
        this.measure('execution output', event.output, this.lastState, undefined, event.timestamp);
        break;
      default:
        break;
    }
    if (this.violation) return;
    this.history.append(event);
    if (this.history.limitReached) {
      const failed = this.history.events.at(-1)!.executionFailedEventDetails!;
      this.stop({ error: failed.error!, cause: failed.cause! });
    }
  }

  /**
   * Runs one Task invocation under the quota: its parameters and its result (the whole `lambda:invoke` response,
   * before ResultSelector) must fit. After any violation no handler runs: the execution has ended.
   */
  async invokeTask(state: string, parameters: unknown, invoke: () => Promise<unknown>): Promise<unknown> {
    const invocation = this.history.taskInvoked(state, parameters);
    // The runner logs events synchronously but the harness reads them asynchronously: let it catch up, so a
    // violation logged just before this call stops the handler from running (AWS would never have scheduled it).
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (this.violation) return halted();
    this.measure('task parameters', parameters, state, undefined, Date.now());
    if (this.violation) return halted();
    this.requests += 1;
    const result = lambdaInvokeResult(await invoke(), `00000000-0000-4000-8000-${String(this.requests).padStart(12, '0')}`);
    if (this.violation) return halted();
    this.measure('task result', result, state, undefined, Date.now());
    if (this.violation) return halted();
    invocation.result = result;
    return result;
  }

  private measure(kind: PayloadKind, value: unknown, state: string, index: number | undefined, at: number): void {
    const measurement: PayloadMeasurement = { kind, state, ...(index === undefined ? {} : { index }), bytes: payloadBytes(value) };
    if (!this.largest || measurement.bytes > this.largest.bytes) this.largest = measurement;
    if (measurement.bytes <= this.payloadLimitBytes || this.violation) return;
    if (kind === 'execution input') return; // refused before the start (assertExecutionInputFits)
    this.history.fail(DATA_LIMIT_EXCEEDED, causeOf(measurement), at);
    this.stop({ error: DATA_LIMIT_EXCEEDED, cause: causeOf(measurement), payload: measurement });
  }

  private stop(violation: QuotaViolation): void {
    this.violation = violation;
    this.halt();
  }
}

/** A handler call that never returns: the execution it belonged to has ended. */
const halted = (): Promise<never> => new Promise<never>(() => undefined);
