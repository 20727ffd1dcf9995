/**
 * The execution history as Step Functions' GetExecutionHistory returns it, built from aws-local-stepfunctions'
 * event log while the run goes on, and the history quota that goes with it.
 *
 * Sources:
 * - Event types and their details: HistoryEvent and the *EventDetails shapes of the Step Functions API reference
 *   (https://docs.aws.amazon.com/step-functions/latest/apireference/API_HistoryEvent.html,
 *   API_StateEnteredEventDetails.html, API_TaskScheduledEventDetails.html, API_MapStateStartedEventDetails.html,
 *   API_MapIterationEventDetails.html).
 * - A `lambda:invoke` Task (an optimized service integration, not a `Resource: <function ARN>` Task, which logs
 *   `LambdaFunction*` events instead): TaskStateEntered, then per attempt TaskScheduled, TaskStarted and
 *   TaskSucceeded / TaskFailed / TaskTimedOut, then TaskStateExited (also after a caught failure). A Retry is a new
 *   TaskScheduled after the interval; there is no "retried" event.
 * - The quota: "Avoid reaching the history quota" (https://docs.aws.amazon.com/step-functions/latest/dg/bp-history-limit.html):
 *   25,000 events; when event 25,000 is not ExecutionSucceeded it is ExecutionFailed. Its error and cause are not in
 *   the docs; as AWS reports them in practice (floci-io/floci issue #2734, with the last two events of such a
 *   history; loads/ardere issue #86): error `States.Runtime`, cause
 *   "The execution reached the maximum number of history events (25000).".
 *
 * `previousEventId` links each event to the one before it in the same thread of control (the execution, or one Map
 * iteration): a Map iteration's first event follows MapStateStarted, MapStateSucceeded follows the last iteration's
 * end. Left out: Parallel states (the definition has none), activity and callback tasks, `inputDetails.truncated`
 * (always false: the payload quota keeps every payload under the size at which AWS would truncate), redrives, and
 * the order of events two Map iterations produce in the same virtual millisecond (the runner's order is kept).
 */

/** AWS's hard quota of events in one execution's history. */
export const HISTORY_EVENT_LIMIT = 25_000;

/** A history event's `type` (API_HistoryEvent), for the state types and Task kind the definition uses. */
export type HistoryEventType =
  | 'ExecutionStarted'
  | 'ExecutionSucceeded'
  | 'ExecutionFailed'
  | 'ExecutionAborted'
  | 'ExecutionTimedOut'
  | 'TaskStateEntered'
  | 'TaskScheduled'
  | 'TaskStarted'
  | 'TaskSucceeded'
  | 'TaskFailed'
  | 'TaskTimedOut'
  | 'TaskStateExited'
  | 'ChoiceStateEntered'
  | 'ChoiceStateExited'
  | 'WaitStateEntered'
  | 'WaitStateExited'
  | 'PassStateEntered'
  | 'PassStateExited'
  | 'SucceedStateEntered'
  | 'SucceedStateExited'
  | 'FailStateEntered'
  | 'MapStateEntered'
  | 'MapStateStarted'
  | 'MapIterationStarted'
  | 'MapIterationSucceeded'
  | 'MapIterationFailed'
  | 'MapIterationAborted'
  | 'MapStateSucceeded'
  | 'MapStateFailed'
  | 'MapStateExited';

/** One event, shaped like GetExecutionHistory's (`timestamp` in epoch milliseconds of the virtual clock). */
export interface HistoryEvent {
  id: number;
  previousEventId: number;
  timestamp: number;
  type: HistoryEventType;
  executionStartedEventDetails?: { input: string; inputDetails: { truncated: boolean }; roleArn: string };
  executionSucceededEventDetails?: { output: string; outputDetails: { truncated: boolean } };
  executionFailedEventDetails?: { error?: string; cause?: string };
  executionAbortedEventDetails?: { error?: string; cause?: string };
  executionTimedOutEventDetails?: { error?: string; cause?: string };
  stateEnteredEventDetails?: { name: string; input: string; inputDetails: { truncated: boolean } };
  stateExitedEventDetails?: { name: string; output: string; outputDetails: { truncated: boolean } };
  taskScheduledEventDetails?: { resourceType: string; resource: string; region: string; parameters: string; timeoutInSeconds?: number };
  taskStartedEventDetails?: { resourceType: string; resource: string };
  taskSucceededEventDetails?: { resourceType: string; resource: string; output: string; outputDetails: { truncated: boolean } };
  taskFailedEventDetails?: { resourceType: string; resource: string; error?: string; cause?: string };
  taskTimedOutEventDetails?: { resourceType: string; resource: string; error?: string; cause?: string };
  mapStateStartedEventDetails?: { length: number };
  mapIterationStartedEventDetails?: { name: string; index: number };
  mapIterationSucceededEventDetails?: { name: string; index: number };
  mapIterationFailedEventDetails?: { name: string; index: number };
  mapIterationAbortedEventDetails?: { name: string; index: number };
}

/** An event of aws-local-stepfunctions' log, the fields read here (its type is not exported). */
export interface RunnerEvent {
  type: string;
  timestamp: number;
  state?: { name: string; type: string; input?: unknown; output?: unknown };
  parentState?: { name: string; type: string };
  index?: number;
  input?: unknown;
  output?: unknown;
  Error?: string;
  Cause?: unknown;
}

/** A Task invocation as the harness saw it: the parameters Step Functions sent and the result it got back. */
export interface TaskInvocation {
  state: string;
  parameters: unknown;
  result?: unknown;
  claimed?: boolean;
}

export interface ExecutionHistoryOptions {
  /** Events allowed before the execution fails; AWS's is {@link HISTORY_EVENT_LIMIT}. Tests lower it. */
  limit?: number;
  region?: string;
  roleArn?: string;
  /** The Task states' `TimeoutSeconds` and their resource, by state name. */
  tasks?: ReadonlyMap<string, { resource: string; timeoutSeconds?: number }>;
}

const json = (value: unknown): string => JSON.stringify(value ?? null);
const ROOT = 'execution';

/**
 * `details` with `key` as the JSON text of `value`, computed when read: the runner's frozen payloads are already
 * held by the report's events, and a history of a large build would otherwise hold every payload again as text
 * (hundreds of MB at the largest input).
 */
const withJson = <T extends object>(details: T, key: string, value: unknown): T =>
  Object.defineProperty(details, key, { enumerable: true, configurable: true, get: () => json(value) });

/** `arn:aws:states:::lambda:invoke` -> `{ resourceType: 'lambda', resource: 'invoke' }`, as TaskScheduled shows it. */
export const taskResourceOf = (arn: string): { resourceType: string; resource: string } => {
  const match = /^arn:[^:]+:states:::([^:]+):(.+)$/.exec(arn);
  return match ? { resourceType: match[1]!, resource: match[2]! } : { resourceType: 'lambda', resource: arn };
};

/**
 * Builds the history one runner event at a time and fails it at the quota, as AWS does.
 *
 * @example
 * const history = new ExecutionHistory({ limit: 25_000 });
 * for await (const event of execution.eventLogs) history.append(event);
 * history.events.length; // what GetExecutionHistory would list
 */
export class ExecutionHistory {
  readonly events: HistoryEvent[] = [];
  /** Set when the last event ended the execution; later runner events are ignored. */
  closed = false;
  /** Set when the history reached its quota and AWS would fail the execution with `States.Runtime`. */
  limitReached = false;
  private readonly limit: number;
  private readonly lastInThread = new Map<string, number>();
  private readonly failedState = new Set<string>();
  private readonly openIterations = new Map<string, Set<number>>();
  private readonly lastIterationEnd = new Map<string, number>();
  private readonly invocations: TaskInvocation[] = [];
  private readonly current = new Map<string, TaskInvocation>();
  private activeMap = 'Map';

  constructor(private readonly options: ExecutionHistoryOptions = {}) {
    this.limit = options.limit ?? HISTORY_EVENT_LIMIT;
    if (!Number.isInteger(this.limit) || this.limit < 2) throw new Error(`history limit must be an integer >= 2, got ${this.limit}`);
  }

  /** Records that the harness invoked a Task's handler; {@link append} pairs it with the runner's events. */
  taskInvoked(state: string, parameters: unknown): TaskInvocation {
    const invocation: TaskInvocation = { state, parameters };
    this.invocations.push(invocation);
    return invocation;
  }

  /** Ends the history with ExecutionFailed (a quota the harness enforces failed the execution). */
  fail(error: string, cause: string, at: number): void {
    if (this.closed) return;
    this.push(ROOT, at, 'ExecutionFailed', { executionFailedEventDetails: { error, cause } });
    this.closed = true;
  }

  /** Replaces the final ExecutionFailed's error and cause (the runner's event carries a wrapped error's cause). */
  correctFailure(error: string | undefined, cause: string | undefined): void {
    const last = this.events.at(-1);
    if (last?.type === 'ExecutionFailed' && !this.limitReached) last.executionFailedEventDetails = { error, cause };
  }

  /** Translates one runner event into the history events Step Functions would log for it. */
  append(event: RunnerEvent): void {
    if (this.closed) return;
    // The runner forwards an iteration's events with its index only (MapIteration* name their Map): one level of
    // Map, as in the definition, is what this tells apart.
    const thread = event.index === undefined ? ROOT : `${event.parentState?.name ?? this.activeMap}#${event.index}`;
    const at = event.timestamp;
    const name = event.state?.name ?? '';
    const type = event.state?.type ?? '';
    switch (event.type) {
      case 'ExecutionStarted':
        this.push(ROOT, at, 'ExecutionStarted', {
          executionStartedEventDetails: withJson({ inputDetails: { truncated: false }, roleArn: this.options.roleArn ?? '' }, 'input', event.input) as never,
        });
        return;
      case 'StateEntered':
        this.failedState.delete(thread);
        if (type === 'Task') {
          this.push(thread, at, 'TaskStateEntered', this.entered(event));
          this.scheduleTask(thread, name, at);
        } else if (type === 'Map') {
          this.push(thread, at, 'MapStateEntered', this.entered(event));
          this.activeMap = name;
          this.push(thread, at, 'MapStateStarted', { mapStateStartedEventDetails: { length: 0 } });
          this.openIterations.set(name, new Set());
          this.lastIterationEnd.delete(name);
        } else {
          this.push(thread, at, `${type}StateEntered` as HistoryEventType, this.entered(event));
        }
        return;
      case 'StateRetried':
        if (type === 'Task') this.scheduleTask(thread, name, at);
        this.failedState.delete(thread);
        return;
      case 'StateFailed':
        this.failedState.add(thread);
        if (type === 'Task') {
          const details = { ...this.resourceOf(name), error: event.Error, cause: event.Cause === undefined ? undefined : String(event.Cause) };
          if (event.Error === 'States.Timeout') this.push(thread, at, 'TaskTimedOut', { taskTimedOutEventDetails: details });
          else this.push(thread, at, 'TaskFailed', { taskFailedEventDetails: details });
        } else if (type === 'Map') {
          for (const index of this.openIterations.get(name) ?? []) {
            this.push(`${name}#${index}`, at, 'MapIterationAborted', { mapIterationAbortedEventDetails: { name, index } });
          }
          this.openIterations.get(name)?.clear();
          this.push(thread, at, 'MapStateFailed', {}, this.lastIterationEnd.get(name));
        }
        return;
      case 'StateExited': {
        const failed = this.failedState.has(thread);
        if (type === 'Task') {
          if (!failed) {
            const result = this.current.get(thread)?.result;
            this.push(thread, at, 'TaskSucceeded', {
              taskSucceededEventDetails: withJson({ ...this.resourceOf(name), outputDetails: { truncated: false } }, 'output', result) as never,
            });
          }
          this.push(thread, at, 'TaskStateExited', this.exited(event));
        } else if (type === 'Map') {
          if (!failed) this.push(thread, at, 'MapStateSucceeded', {}, this.lastIterationEnd.get(name));
          this.push(thread, at, 'MapStateExited', this.exited(event));
        } else if (type !== 'Fail') {
          this.push(thread, at, `${type}StateExited` as HistoryEventType, this.exited(event));
        }
        this.failedState.delete(thread);
        return;
      }
      case 'MapIterationStarted': {
        const map = event.parentState?.name ?? this.activeMap;
        const index = event.index ?? 0;
        const started = this.events.findLast((e) => e.type === 'MapStateStarted');
        if (started?.mapStateStartedEventDetails) started.mapStateStartedEventDetails.length += 1;
        this.openIterations.get(map)?.add(index);
        this.push(`${map}#${index}`, at, 'MapIterationStarted', { mapIterationStartedEventDetails: { name: map, index } }, started?.id);
        return;
      }
      case 'MapIterationSucceeded':
      case 'MapIterationFailed': {
        const map = event.parentState?.name ?? this.activeMap;
        const index = event.index ?? 0;
        if (!this.openIterations.get(map)?.delete(index)) return; // already aborted
        const details = { name: map, index };
        const id =
          event.type === 'MapIterationSucceeded'
            ? this.push(`${map}#${index}`, at, 'MapIterationSucceeded', { mapIterationSucceededEventDetails: details })
            : this.push(`${map}#${index}`, at, 'MapIterationFailed', { mapIterationFailedEventDetails: details });
        if (id !== undefined) this.lastIterationEnd.set(map, id);
        return;
      }
      case 'ExecutionSucceeded':
        this.push(ROOT, at, 'ExecutionSucceeded', { executionSucceededEventDetails: withJson({ outputDetails: { truncated: false } }, 'output', event.output) as never });
        this.closed = true;
        return;
      case 'ExecutionFailed':
        this.push(ROOT, at, 'ExecutionFailed', {
          executionFailedEventDetails: { error: event.Error, cause: event.Cause === undefined ? undefined : String(event.Cause) },
        });
        this.closed = true;
        return;
      case 'ExecutionTimeout':
        this.push(ROOT, at, 'ExecutionTimedOut', {
          executionTimedOutEventDetails: { error: 'States.Timeout', cause: 'The execution ran past the state machine TimeoutSeconds.' },
        });
        this.closed = true;
        return;
      case 'ExecutionAborted':
        this.push(ROOT, at, 'ExecutionAborted', { executionAbortedEventDetails: {} });
        this.closed = true;
        return;
      default:
        return; // StateCaught: the TaskStateExited / MapStateExited that follows is the history's record of it
    }
  }

  private entered(event: RunnerEvent): Partial<HistoryEvent> {
    return { stateEnteredEventDetails: withJson({ name: event.state!.name, inputDetails: { truncated: false } }, 'input', event.state!.input) as never };
  }

  private exited(event: RunnerEvent): Partial<HistoryEvent> {
    return { stateExitedEventDetails: withJson({ name: event.state!.name, outputDetails: { truncated: false } }, 'output', event.state!.output) as never };
  }

  private resourceOf(state: string): { resourceType: string; resource: string } {
    return taskResourceOf(this.options.tasks?.get(state)?.resource ?? 'arn:aws:states:::lambda:invoke');
  }

  /**
   * TaskScheduled + TaskStarted of one attempt. The runner calls a Task's handler synchronously right after it logs
   * the state's StateEntered / StateRetried, so the attempts of one state name come in the order of its invocations.
   */
  private scheduleTask(thread: string, state: string, at: number): void {
    const invocation = this.invocations.find((i) => i.state === state && !i.claimed);
    if (invocation) {
      invocation.claimed = true;
      this.current.set(thread, invocation);
    }
    const timeoutSeconds = this.options.tasks?.get(state)?.timeoutSeconds;
    this.push(thread, at, 'TaskScheduled', {
      taskScheduledEventDetails: withJson(
        { ...this.resourceOf(state), region: this.options.region ?? 'us-west-2', ...(timeoutSeconds === undefined ? {} : { timeoutInSeconds: timeoutSeconds }) },
        'parameters',
        invocation?.parameters,
      ) as never,
    });
    this.push(thread, at, 'TaskStarted', { taskStartedEventDetails: this.resourceOf(state) });
  }

  /** Appends one event; at the quota, appends ExecutionFailed instead (unless it is ExecutionSucceeded) and closes. */
  private push(thread: string, at: number, type: HistoryEventType, details: Partial<HistoryEvent>, previous?: number): number | undefined {
    if (this.closed) return undefined;
    const id = this.events.length + 1;
    // The execution's end follows whatever happened last, in any thread (floci-io/floci#2734 shows it for the quota).
    const ending = type === 'ExecutionSucceeded' || type === 'ExecutionFailed' || type === 'ExecutionTimedOut' || type === 'ExecutionAborted';
    const previousEventId = ending ? this.events.length : (previous ?? this.lastInThread.get(thread) ?? this.lastInThread.get(ROOT) ?? 0);
    if (id >= this.limit && type !== 'ExecutionSucceeded') {
      this.events.push({
        id,
        previousEventId: this.events.length,
        timestamp: at,
        type: 'ExecutionFailed',
        executionFailedEventDetails: { error: 'States.Runtime', cause: `The execution reached the maximum number of history events (${this.limit}).` },
      });
      this.closed = true;
      this.limitReached = true;
      return undefined;
    }
    this.events.push({ id, previousEventId, timestamp: at, type, ...details });
    this.lastInThread.set(thread, id);
    return id;
  }
}
