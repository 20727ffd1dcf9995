/**
 * Runs the real state machine definition (statemachine/snapshot-factory.asl.json) in-process with
 * aws-local-stepfunctions, every Task bound to its real handler (`${XFunctionArn}` -> functions/x.ts),
 * against a simulated AWS account, on a virtual clock.
 *
 * Virtual time: @sinonjs/fake-timers replaces Date and the timer functions; the harness advances the clock to
 * the next timer whenever the run is idle, so a Wait of 30 s or a retry's backoff costs no real time and the
 * simulated resources (which read `Date.now()`) progress as they would in AWS. docs/simulation.md describes it.
 */
import './polyfills';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import FakeTimers from '@sinonjs/fake-timers';
import type { Context } from 'aws-lambda';
import { StateMachine } from 'aws-local-stepfunctions';
import { useRegistryLookup } from '../functions/lib/digests';
import { isEcrDomain, parseImageReference } from '../functions/lib/image-reference';
import { createSimulatedAccount, type SimulatedAccount } from './aws/account';
import { inLambdaEnvironment, installSimulatedAws, setFunctionRequestMs } from './aws/install';
import { onRegion, regionOf } from './aws/regions';
import { defaultDeployment, type Deployment } from './deploy/deployment';
import { runAsFunction } from './iam/caller';
import type { IamEvaluation, IamFigures, SimulatedIam } from './iam/evaluator';
import { installSimulatedIam, useDeployedEnvironment } from './iam/install';
import { SimulatedRegistries } from './registries';
import type { ExecutionHistory, HistoryEvent } from './execution-history';
import { SnapshottingStateMachine } from './runner-events';
import { ExecutionQuotas, assertExecutionInputFits, assertNoDataLimitCatch, type PayloadMeasurement, type QuotaOptions } from './sfn-quotas';
import { closeExecution, measureLeftovers, runReaperAfterGrace, type AfterRunInvocation, type Leftovers } from './after-execution';
import { applyFaults, missingImages, parseFaultSpec, type FaultSpec, type TaskHooks } from './scenarios/faults';
import { invokeWithTimeout } from './lambda-runtime';
import { DEFAULT_LAMBDA_LATENCY, LambdaEnvironments, transitionsChargedTo, type ChargedInvocation, type LambdaLatencyFigures } from './lambda-latency';

const here = dirname(fileURLToPath(import.meta.url));
export const ROOT = join(here, '..');
export const DEFINITION_PATH = join(ROOT, 'statemachine', 'snapshot-factory.asl.json');

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AslDefinition = { StartAt: string; States: Record<string, any>; TimeoutSeconds?: number; Comment?: string };

/** An event of aws-local-stepfunctions' log (its type is not exported). */
type EventLog = { type: string; timestamp: number };

/** The definition as the tests and the simulation load it: the file, substitutions not yet filled. */
export const loadDefinition = (path = DEFINITION_PATH): AslDefinition => JSON.parse(readFileSync(path, 'utf8')) as AslDefinition;

/** A Task state of the definition and the function it invokes. */
export interface TaskBinding {
  state: string;
  /** The substitution's name, e.g. `LaunchInstanceFunctionArn`. */
  substitution: string;
  /** The handler's file name without extension, e.g. `launch-instance`. */
  functionName: string;
}

/** `LaunchInstance` -> `launch-instance`. */
export const kebabCase = (pascal: string): string => pascal.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();

/** Every state of the definition, nested Map and Parallel states included, with the path of its parent. */
export const allStates = (definition: Pick<AslDefinition, 'States'>): [string, AslDefinition['States'][string]][] => {
  const found: [string, AslDefinition['States'][string]][] = [];
  const visit = (states: AslDefinition['States']) => {
    for (const [name, state] of Object.entries(states)) {
      found.push([name, state]);
      const nested = state.ItemProcessor ?? state.Iterator;
      if (nested) visit(nested.States);
      for (const branch of state.Branches ?? []) visit(branch.States);
    }
  };
  visit(definition.States);
  return found;
};

/** The Task states and their functions; throws when a Task names its function any other way. */
export const taskBindings = (definition: AslDefinition): TaskBinding[] =>
  allStates(definition)
    .filter(([, state]) => state.Type === 'Task')
    .map(([name, state]) => {
      const functionName = state.Parameters?.FunctionName as string | undefined;
      const match = /^\$\{([A-Za-z0-9]+)FunctionArn\}$/.exec(functionName ?? '');
      if (!match) throw new Error(`Task ${name} must name its function as \${<Name>FunctionArn}, found ${JSON.stringify(functionName)}`);
      return { state: name, substitution: `${match[1]}FunctionArn`, functionName: kebabCase(match[1]!) };
    });

/** Fills every `${Name}` substitution, as CloudFormation's DefinitionSubstitutions would. */
export const substitute = (definition: AslDefinition, values: Record<string, string>): AslDefinition =>
  JSON.parse(
    JSON.stringify(definition).replace(/\$\{([A-Za-z0-9]+)\}/g, (_, name: string) => {
      const value = values[name];
      if (value === undefined) throw new Error(`No value for the substitution \${${name}}`);
      return value;
    }),
  ) as AslDefinition;

type Handler = (event: unknown, context?: Context) => Promise<unknown>;

/** Imports the handler of every Task; fails when one is missing, so no Task can fall through to real Lambda. */
export const loadHandlers = async (bindings: readonly TaskBinding[]): Promise<Map<string, Handler>> => {
  const handlers = new Map<string, Handler>();
  const missing: string[] = [];
  for (const binding of bindings) {
    if (handlers.has(binding.functionName)) continue;
    try {
      const module = (await import(join(ROOT, 'functions', `${binding.functionName}.ts`))) as { handler?: Handler };
      if (typeof module.handler !== 'function') throw new Error('exports no handler');
      handlers.set(binding.functionName, module.handler);
    } catch (error) {
      missing.push(`${binding.state} -> functions/${binding.functionName}.ts (${(error as Error).message.split('\n')[0]})`);
    }
  }
  if (missing.length) throw new Error(`Tasks without a handler:\n  ${missing.join('\n  ')}`);
  return handlers;
};

/** One event of the run, on the virtual clock. */
export interface SimulationEvent {
  /** Virtual epoch milliseconds. */
  at: number;
  /** Milliseconds since the execution started. */
  elapsedMs: number;
  type: string;
  state?: string;
  stateType?: string;
  /** Map iteration index, for states inside the Map. */
  index?: number;
  /** Architecture of the Map iteration, when known. */
  architecture?: string;
  input?: unknown;
  output?: unknown;
  error?: string;
  cause?: string;
  attempt?: number;
}

export interface SimulationOptions {
  /** The execution input. */
  input: unknown;
  executionName?: string;
  /** Defaults to a fresh {@link createSimulatedAccount}. */
  account?: SimulatedAccount;
  /** Public registries; defaults to one holding every image of the input (unless a fault removes it). */
  registries?: SimulatedRegistries;
  /** Fault specs (docs/simulation.md) or parsed faults. */
  faults?: readonly (string | FaultSpec)[];
  /** Virtual start time, epoch ms. */
  startTime?: number;
  /** Changes the definition before the run (the benchmark tries other poll intervals). */
  transformDefinition?: (definition: AslDefinition) => AslDefinition;
  /** Called for every event as it happens. */
  onEvent?: (event: SimulationEvent) => void;
  /** Virtual time to let pass after the run (and after the reaper) so terminations complete before the invariants are read; default 5 min. */
  settleMs?: number;
  /** Run what the deployed account runs after the execution (status-change rule, reaper); default true. */
  afterRun?: boolean;
  /** Changes the deployed template's resolved policies before the run (tests plant a wrong condition). */
  transformDeployment?: (deployment: Deployment) => Deployment;
  /** Step Functions' quotas (simulation/sfn-quotas.ts); AWS's unless a test lowers them. */
  quotas?: QuotaOptions;
  /** Stops the execution (StopExecution, no error or cause) when it enters this state: it ends ABORTED. */
  abortAtState?: string;
  /**
   * What Lambda and Step Functions cost in time (simulation/lambda-latency.ts): cold starts, invoke and run time,
   * state transitions. Default {@link DEFAULT_LAMBDA_LATENCY}; `NO_LATENCY` charges nothing.
   */
  lambdaLatency?: LambdaLatencyFigures;
  /**
   * Runs the execution in an account that other executions share (the local endpoint, cli/local/): the caller has
   * installed the simulated AWS, IAM and registry lookup and moves the (already faked) clock itself, and runs what
   * follows the execution's end. The run then installs nothing, never moves the clock, and runs no after-run.
   */
  shared?: SharedSimulation;
  /** Called once the execution has started, with what StopExecution and GetExecutionHistory need of it. */
  onStart?: (execution: RunningExecution) => void;
  /**
   * `false` calls handlers without a Lambda context (the deployed Timeout is still enforced), so a check looks once
   * per invocation instead of polling inside it (functions/lib/poll-inside.ts): the benchmark's "before" row.
   */
  lambdaContext?: false;
}

/** An account, its registries and its IAM, installed once and shared by concurrent executions. */
export interface SharedSimulation {
  account: SimulatedAccount;
  registries: SimulatedRegistries;
  iam: SimulatedIam;
}

/** A started execution, as the local endpoint controls it. */
export interface RunningExecution {
  /** Stops the execution as StopExecution does: it ends `ABORTED`, no Catch runs. */
  abort: () => void;
  /** Its history so far, as GetExecutionHistory lists it. */
  history: ExecutionHistory;
}

export interface SimulationReport {
  status: 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';
  output?: unknown;
  error?: string;
  cause?: string;
  startedAt: number;
  endedAt: number;
  durationMs: number;
  events: SimulationEvent[];
  /** States entered (what Step Functions bills as state transitions). */
  stateTransitions: number;
  lambdaInvocations: number;
  invocationsByFunction: Record<string, number>;
  account: SimulatedAccount;
  registries: SimulatedRegistries;
  /**
   * What the factory left once the run settled, Step Functions' status-change event ran its cleanup, and the reaper
   * ran after its grace period (simulation/after-execution.ts): every list must be empty.
   */
  leftovers: Leftovers;
  /** The same, measured before the reaper ran: what the execution and the status-change cleanup left. */
  leftoversBeforeReaper: Leftovers;
  /** Functions the account ran after the execution ended (the status-change rule's targets, the reaper). */
  afterRun: AfterRunInvocation[];
  /** IAM checks of the run (simulation/iam/): counts, per action, and each check with its principal. */
  iam: IamFigures & { evaluations: IamEvaluation[] };
  /** The execution history as GetExecutionHistory would list it (simulation/execution-history.ts). */
  history: HistoryEvent[];
  /** Events in {@link history}: what counts against Step Functions' 25,000-event quota. */
  historyEvents: number;
  /** The largest payload (state input/output, Task parameters/result, execution input/output) of the run. */
  largestPayload?: PayloadMeasurement;
  /** Each Task invocation's charged latency (simulation/lambda-latency.ts), in order. */
  lambdaCharges: ChargedInvocation[];
}

const SFN_ROLE_ARN = 'arn:aws:iam::111122223333:role/snapshot-factory-state-machine';
/** Each Task's resource and TimeoutSeconds, as its TaskScheduled events show them. */
const taskResources = (definition: AslDefinition) =>
  new Map(allStates(definition).filter(([, s]) => s.Type === 'Task').map(([name, s]) => [name, { resource: s.Resource as string, timeoutSeconds: s.TimeoutSeconds as number | undefined }]));
const FAKE_ARN = (name: string) => `arn:aws:lambda:us-west-2:111122223333:function:snapshot-factory-${name}`;
export const DEFAULT_START = Date.parse('2026-01-05T09:00:00.000Z');

/**
 * Runs one execution to its end on the virtual clock.
 *
 * @example
 * const report = await runSimulation({ input: { images: ['public.ecr.aws/docker/library/nginx:1.27'] } });
 * report.status; // 'SUCCEEDED'
 */
export const runSimulation = async (options: SimulationOptions): Promise<SimulationReport> => {
  const raw = loadDefinition();
  const bindings = taskBindings(raw);
  const deployed = defaultDeployment({ accountId: (options.shared?.account ?? options.account)?.core.accountId, region: (options.shared?.account ?? options.account)?.core.region });
  const deployment = options.transformDeployment ? options.transformDeployment(structuredClone(deployed)) : deployed;
  useDeployedEnvironment(deployment);
  const handlers = await loadHandlers(bindings);
  const substitutions = Object.fromEntries(bindings.map((b) => [b.substitution, FAKE_ARN(b.functionName)]));
  const definition = substitute(options.transformDefinition ? options.transformDefinition(structuredClone(raw)) : raw, substitutions);
  assertNoDataLimitCatch(allStates(definition));
  assertExecutionInputFits(options.input, options.quotas?.payloadLimitBytes);

  // An account that already lived through earlier runs keeps its clock moving forward: restarting at the same
  // instant would make its resources' ages negative (a completed snapshot would look pending again).
  const lastCallAt = options.account?.core.calls.at(-1)?.at;
  const shared = options.shared;
  const startTime = shared ? Date.now() : options.startTime ?? (lastCallAt === undefined ? DEFAULT_START : Math.max(DEFAULT_START, lastCallAt + 60_000));
  const clock = shared ? undefined : FakeTimers.install({ now: startTime, toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'], shouldClearNativeTimers: true });
  const account = shared?.account ?? options.account ?? createSimulatedAccount();
  const uninstallAws = shared ? () => undefined : installSimulatedAws(account.core, (region) => regionOf(account, region).core);
  const { iam, uninstall: uninstallHomeIam } = shared ? { iam: shared.iam, uninstall: () => undefined } : installSimulatedIam(account, deployment);
  // Every other region evaluates the same deployed policies, with its own ARNs (a statement scoped to the home
  // region does not allow a copy region, as in AWS).
  const regionalIam: (() => void)[] = [];
  const stopRegions = shared ? () => undefined : onRegion(account, (regional) => regionalIam.push(installSimulatedIam(regional, deployment).uninstall));
  const uninstallIam = () => {
    stopRegions();
    for (const undo of regionalIam.splice(0)) undo();
    uninstallHomeIam();
  };
  const registries = shared?.registries ?? options.registries ?? new SimulatedRegistries();
  const restoreLookup = shared ? () => undefined : useRegistryLookup(registries.lookup);
  const faults = (options.faults ?? []).map((fault) => (typeof fault === 'string' ? parseFaultSpec(fault) : fault));
  const hooks: TaskHooks = new Map();
  const executionName = options.executionName ?? `sim-${new Date(startTime).toISOString().replace(/[^0-9]/g, '').slice(0, 14)}`;

  let restoreRequestMs = () => 0;
  try {
    if (!options.registries) publishInputImages(options.input, registries, account, missingImages(faults), Boolean(shared));
    applyFaults(faults, { account, registries, hooks });

    let halt = () => undefined as void;
    const quotas = new ExecutionQuotas({ ...options.quotas, tasks: taskResources(definition), roleArn: SFN_ROLE_ARN }, () => halt());
    const invocationsByFunction: Record<string, number> = {};
    const lambdas = new LambdaEnvironments(options.lambdaLatency ?? DEFAULT_LAMBDA_LATENCY);
    // Charged at the request, so a check polling inside its invocation sees each answer when a real one would.
    // Executions sharing an account (the local endpoint) share one latency model: the last one to end must not reset
    // the figure under another still running, so a shared run sets it and leaves it.
    const previousRequestMs = setFunctionRequestMs(lambdas.figures.awsCallMs);
    if (!shared) restoreRequestMs = () => setFunctionRequestMs(previousRequestMs);
    const containerOf = statesContaining(definition);
    const taskResourceLocalHandlers = Object.fromEntries(
      bindings.map((binding) => [
        binding.state,
        // quotas.invokeTask measures the request and wraps the result as lambda:invoke returns it ({ Payload, ... });
        // runAsFunction signs the handler's AWS requests as that function's deployed role. The latency model charges
        // the transitions, the cold start or the invoke before the handler runs, and its run time after.
        async (request: unknown) =>
          quotas.invokeTask(binding.state, request, async () => {
            const payload = (request as { Payload?: unknown }).Payload;
            invocationsByFunction[binding.functionName] = (invocationsByFunction[binding.functionName] ?? 0) + 1;
            const { figures } = lambdas;
            const transitionsMs = figures.transitionMs * transitionsChargedTo(binding.state, containerOf.get(binding.state) ?? {});
            await sleepVirtual(transitionsMs);
            const claimed = lambdas.start(binding.functionName, Date.now());
            const beforeMs = transitionsMs + claimed.initMs + figures.invokeMs;
            await sleepVirtual(claimed.initMs + figures.invokeMs);
            const handlerStartedAt = Date.now();
            const deployedFunction = deployment.functions[binding.functionName];
            try {
              for (const hook of hooks.get(binding.state) ?? []) await hook(payload);
              const handler = handlers.get(binding.functionName)!;
              // The deployed function's Timeout and a context on the virtual clock (simulation/lambda-runtime.ts).
              // Its SDK clients are those of its execution environment (their retry quota: simulation/aws/install.ts).
              const environment = `${executionName}/${binding.functionName}#${claimed.environment}`;
              const run = (context?: Context) => inLambdaEnvironment(environment, claimed.coldStart, () => runAsFunction(binding.functionName, () => handler(payload, context)));
              if (!deployedFunction) return await run();
              const withContext = options.lambdaContext !== false;
              return await invokeWithTimeout(deployedFunction, (context) => run(withContext ? context : undefined));
            } finally {
              // Each AWS request was charged when it was sent (setFunctionRequestMs): only the handler's own work is left.
              const afterMs = lambdas.runMs(0);
              await sleepVirtual(afterMs);
              lambdas.finish(binding.functionName, claimed.environment, Date.now());
              const handlerMs = Date.now() - handlerStartedAt;
              lambdas.charged.push({ functionName: binding.functionName, state: binding.state, coldStart: claimed.coldStart, beforeMs, afterMs, handlerMs });
            }
          }) as never,
      ]),
    );

    const machine = stateMachineFor(definition);
    const execution = machine.run(options.input as never, {
      overrides: { taskResourceLocalHandlers },
      context: { Execution: { Name: executionName, Id: `arn:aws:states:us-west-2:111122223333:execution:snapshot-factory:${executionName}` } } as never,
    });

    halt = () => execution.abort();
    let stopRequested = false;
    options.onStart?.({ abort: () => ((stopRequested = true), execution.abort()), history: quotas.history });
    const events: SimulationEvent[] = [];
    const architectureOf = new Map<number, string>();
    const consumed = (async () => {
      for await (const event of execution.eventLogs) {
        if (quotas.violation) continue; // AWS ended the execution there: what the runner does next never happened
        quotas.observe(event as never);
        const recorded = toSimulationEvent(event, startTime, architectureOf);
        if (options.abortAtState && recorded.type === 'StateEntered' && recorded.state === options.abortAtState) execution.abort();
        events.push(recorded);
        options.onEvent?.(recorded);
      }
    })();

    let outcome: { ok: true; output: unknown } | { ok: false; error: unknown } | undefined;
    execution.result.then(
      (output) => (outcome = { ok: true, output }),
      (error: unknown) => (outcome = { ok: false, error }),
    );
    if (!clock) await execution.result.then(() => undefined, () => undefined);
    for (;;) {
      await settleMicrotasks();
      if (outcome) break;
      if (!clock) continue;
      if (clock.countTimers() === 0) {
        execution.abort();
        throw new Error('The simulated execution is stuck: it has not ended and nothing is scheduled (a handler awaits something the simulation never resolves).');
      }
      await clock.nextAsync();
    }
    await settleMicrotasks();
    const endedAt = Date.now();
    await Promise.race([consumed, settleMicrotasks()]);

    const ending: Pick<SimulationReport, 'status' | 'output' | 'error' | 'cause'> = quotas.violation
      ? { status: 'FAILED', error: quotas.violation.error, cause: quotas.violation.cause }
      : outcome.ok
        ? { status: 'SUCCEEDED', output: outcome.output }
        : stopRequested && (outcome.error as Error)?.name === 'ExecutionAbortedError'
          ? { status: 'ABORTED' }
          : failureOf(outcome.error, events);
    if (!quotas.violation && !outcome.ok) quotas.history.correctFailure(ending.error!, ending.cause!);

    // After the end, as deployed: Step Functions' status-change event and its rule's cleanup, then the reaper.
    const afterRun: AfterRunInvocation[] = [];
    const settleMs = options.settleMs ?? 5 * 60_000;
    let leftoversBeforeReaper: Leftovers;
    if (!clock) {
      leftoversBeforeReaper = measureLeftovers(account);
    } else if (options.afterRun === false) {
      clock.tick(settleMs);
      leftoversBeforeReaper = measureLeftovers(account);
    } else {
      const functionHandler = async (name: string) => handlers.get(name) ?? (await loadFunctionHandler(name));
      await closeExecution({
        clock,
        account,
        deployment,
        handlers: functionHandler,
        execution: {
          name: executionName,
          input: JSON.stringify(options.input),
          status: ending.status,
          startDate: new Date(startTime),
          stopDate: new Date(endedAt),
          output: ending.output === undefined ? undefined : JSON.stringify(ending.output),
          error: ending.error,
          cause: ending.cause,
          history: quotas.history.events,
        },
        log: afterRun,
      });
      clock.tick(settleMs);
      leftoversBeforeReaper = measureLeftovers(account);
      await runReaperAfterGrace({ clock, deployment, handlers: functionHandler, log: afterRun });
      clock.tick(settleMs);
    }
    const leftovers = !clock || options.afterRun === false ? leftoversBeforeReaper : measureLeftovers(account);

    return {
      ...ending,
      startedAt: startTime,
      endedAt,
      durationMs: endedAt - startTime,
      events,
      stateTransitions: events.filter((e) => e.type === 'StateEntered').length,
      lambdaInvocations: Object.values(invocationsByFunction).reduce((a, b) => a + b, 0),
      invocationsByFunction,
      account,
      registries,
      leftovers,
      leftoversBeforeReaper,
      afterRun,
      iam: { ...iam.figures(), evaluations: iam.evaluations },
      history: quotas.history.events,
      historyEvents: quotas.history.events.length,
      largestPayload: quotas.largest,
      lambdaCharges: lambdas.charged,
    };
  } finally {
    restoreRequestMs();
    restoreLookup();
    uninstallIam();
    uninstallAws();
    clock?.uninstall();
  }
};

/** A handler outside the state machine (the reaper), imported as its rule or schedule would invoke it. */
const loadFunctionHandler = async (name: string): Promise<Handler> => {
  const module = (await import(join(ROOT, 'functions', `${name}.ts`))) as { handler?: Handler };
  if (typeof module.handler !== 'function') throw new Error(`functions/${name}.ts exports no handler`);
  return module.handler;
};

/** Sleeps on the virtual clock; nothing when `ms` is 0, so a run without latency keeps its old event order. */
const sleepVirtual = async (ms: number): Promise<void> => {
  if (ms > 0) await new Promise<void>((resolve) => setTimeout(resolve, ms));
};

/** Each state's name -> the `States` object holding it (the top level or a Map's ItemProcessor). */
const statesContaining = (definition: Pick<AslDefinition, 'States'>): Map<string, AslDefinition['States']> => {
  const found = new Map<string, AslDefinition['States']>();
  const visit = (states: AslDefinition['States']) => {
    for (const [name, state] of Object.entries(states)) {
      found.set(name, states);
      const nested = state.ItemProcessor ?? state.Iterator;
      if (nested) visit(nested.States);
      for (const branch of state.Branches ?? []) visit(branch.States);
    }
  };
  visit(definition.States);
  return found;
};

const machines = new Map<string, StateMachine>();
/** Constructing a StateMachine validates the definition (ajv, ~100 ms): once per distinct definition. */
const stateMachineFor = (definition: AslDefinition): StateMachine => {
  const key = JSON.stringify(definition);
  let machine = machines.get(key);
  if (!machine) {
    machine = new SnapshottingStateMachine(definition as never, { validationOptions: { checkPaths: true, checkArn: true } });
    machines.set(key, machine);
  }
  return machine;
};

/** Lets every pending promise callback run (the simulated AWS answers in microtasks). */
const settleMicrotasks = async (): Promise<void> => {
  for (let i = 0; i < 5; i += 1) await new Promise<void>((resolve) => setImmediate(resolve));
};

/**
 * The simulation's public registries hold every image of the input, as they would in the real world. Each run
 * publishes new content, unless `stable`: a shared account's registries hold the same content for a reference
 * across executions, so building the same images again is UP_TO_DATE, as it would be against AWS.
 */
const publishInputImages = (input: unknown, registries: SimulatedRegistries, account: SimulatedAccount, missing: Set<string>, stable = false): void => {
  const images = (input as { images?: unknown })?.images;
  if (!Array.isArray(images)) return;
  for (const image of images) {
    if (typeof image !== 'string' || missing.has(image)) continue;
    let parsed;
    try {
      parsed = parseImageReference(image);
    } catch {
      continue; // prepare-build reports it
    }
    if (parsed.digest) continue;
    const seed = stable ? image : undefined;
    if (isEcrDomain(parsed.domain)) account.ecr.pushImage(parsed.path, parsed.tag ?? 'latest', { seed });
    else registries.push(image, { seed });
  }
};

const toSimulationEvent = (event: EventLog, startTime: number, architectureOf: Map<number, string>): SimulationEvent => {
  const withState = event as EventLog & { state?: { name: string; type: string; input?: unknown; output?: unknown }; index?: number };
  const index = withState.index;
  const input = withState.state?.input as { build?: { architecture?: string } } | undefined;
  if (index !== undefined && input?.build?.architecture) architectureOf.set(index, input.build.architecture);
  const failed = event as { Error?: string; Cause?: unknown };
  return {
    at: event.timestamp,
    elapsedMs: event.timestamp - startTime,
    type: event.type,
    state: withState.state?.name,
    stateType: withState.state?.type,
    index,
    architecture: index !== undefined ? architectureOf.get(index) : undefined,
    input: withState.state?.input,
    output: withState.state?.output,
    error: failed.Error,
    cause: failed.Cause === undefined ? undefined : String(failed.Cause),
    attempt: (event as { retry?: { attempt: number } }).retry?.attempt,
  };
};

const failureOf = (error: unknown, events: readonly SimulationEvent[]): Pick<SimulationReport, 'status' | 'error' | 'cause'> => {
  const name = (error as Error)?.name;
  // StopExecution without an error or cause: DescribeExecution shows neither (API_StopExecution.html).
  if (name === 'ExecutionAbortedError') return { status: 'ABORTED' };
  if (name === 'ExecutionTimeoutError') return { status: 'TIMED_OUT', error: 'States.Timeout', cause: 'The execution ran past the state machine TimeoutSeconds.' };
  // The runner's ExecutionFailed event carries `error.cause ?? error.message`: for a handler's error that is the
  // SDK exception it wraps, not the message Step Functions would show. The error it rejects with keeps both.
  const failed = [...events].reverse().find((e) => e.type === 'ExecutionFailed');
  const inner = (error as { cause?: Error })?.cause;
  return { status: 'FAILED', error: inner?.name ?? failed?.error ?? name, cause: inner?.message ?? failed?.cause ?? (error as Error)?.message };
};
