/**
 * Freezes the payloads of aws-local-stepfunctions' events at the moment it logs them.
 *
 * The runner's events hold references to live state objects, and the runner mutates some of them after logging:
 * its `States.JsonMerge` is `Object.assign(first, second)` (aws-local-stepfunctions 3.0.0,
 * src/stateMachine/intrinsicFunctions/StatesJsonMerge.ts), so the Map's ItemSelector adds the images to the plan's
 * build object that the Map state's StateEntered event still shows. Step Functions records each payload as the JSON
 * text of that instant; the harness reads the events a little later (the log is an async iterator), so without a
 * copy taken at dispatch it would measure and record what the runner changed since. The state itself is not
 * affected: the runner computes each state's result from a copy of its input.
 */
import { StateMachine } from 'aws-local-stepfunctions';

type LoggedEvent = { state?: { input?: unknown; output?: unknown }; input?: unknown; output?: unknown };
type EventLoggerLike = { dispatch: (event: LoggedEvent) => void };

const copy = (value: unknown): unknown => (value === undefined ? undefined : structuredClone(value));
const patched = new WeakSet<object>();

/** Patches the runner's EventLogger class (shared by the nested machines of Map iterations) once. */
const freezePayloadsOnDispatch = (logger: EventLoggerLike): void => {
  const prototype = Object.getPrototypeOf(logger) as EventLoggerLike;
  if (patched.has(prototype)) return;
  patched.add(prototype);
  const dispatch = prototype.dispatch;
  prototype.dispatch = function (this: EventLoggerLike, event: LoggedEvent) {
    // Forwarded iteration events are already copies, and copying them again would be wasted work.
    if (!patched.has(event)) {
      if (event.state) event.state = { ...event.state, input: copy(event.state.input), output: copy(event.state.output) };
      if ('input' in event) event.input = copy(event.input);
      if ('output' in event) event.output = copy(event.output);
      patched.add(event);
    }
    dispatch.call(this, event);
  };
};

/** A StateMachine whose event log keeps each payload as it was when the event happened. */
export class SnapshottingStateMachine extends StateMachine {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  constructor(...args: ConstructorParameters<typeof StateMachine>) {
    super(...args);
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const self = this as any;
    const execute = self.execute as (input: unknown, options: { eventLogger: EventLoggerLike }, cleanup: () => void) => Promise<unknown>;
    self.execute = function (input: unknown, options: { eventLogger: EventLoggerLike }, cleanup: () => void) {
      freezePayloadsOnDispatch(options.eventLogger);
      return execute.call(this, input, options, cleanup);
    };
  }
}
