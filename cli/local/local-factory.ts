/**
 * The factory as the local endpoint runs it: one simulated account (EC2, SSM, ECR, EventBridge, IAM evaluated
 * against the deployed policies) in which every execution started through the endpoint runs concurrently, each
 * with the real ASL and handlers (simulation/run-state-machine.ts, `shared` mode), on a clock that follows the wall
 * clock at `speed` (cli/local/live-clock.ts). What the deployed account does after an execution ends happens here
 * too, on that clock: Step Functions' status-change event reaches the factory's rules one second later (cleanup-build
 * for FAILED, TIMED_OUT, ABORTED), and the reaper runs every hour as its schedule does.
 *
 * Runs in the engine process only (cli/local/engine-process.ts): it fakes this process's timers.
 */
import { join } from 'node:path';
import { useRegistryLookup } from '../../functions/lib/digests';
import { createSimulatedAccount, type SimulatedAccount } from '../../simulation/aws/account';
import { matchesEventPattern } from '../../simulation/aws/events';
import { installSimulatedAws } from '../../simulation/aws/install';
import type { SimulatedExecution } from '../../simulation/aws/sfn';
import { executionStatusChangeEvent } from '../../simulation/after-execution';
import { defaultDeployment, type Deployment } from '../../simulation/deploy/deployment';
import type { HistoryEvent } from '../../simulation/execution-history';
import { runAsFunction } from '../../simulation/iam/caller';
import { installSimulatedIam, useDeployedEnvironment } from '../../simulation/iam/install';
import { SimulatedRegistries } from '../../simulation/registries';
import { loadDefinition, loadHandlers, ROOT, runSimulation, substitute, taskBindings, type RunningExecution, type SharedSimulation, type SimulationReport } from '../../simulation/run-state-machine';
import { startLiveClock, type LiveClock } from './live-clock';
import type { ExecutionBackend, LocalStateMachine } from './step-functions-api';

type Handler = (event: unknown) => Promise<unknown>;

/** Lambda retries a failed asynchronous invocation twice, one then two minutes later (Lambda Developer Guide, "Asynchronous invocation"). */
const ASYNC_RETRY_DELAYS_MS = [60_000, 120_000];
/** The reaper's schedule (infra/snapshot-factory.ts: rate of one hour). */
const REAPER_PERIOD_MS = 3_600_000;
/** EventBridge delivers the status-change event within seconds; one second stands for it, as in simulation/after-execution.ts. */
const EVENT_DELIVERY_MS = 1_000;

/** One line of what happens in the account, for the endpoint's log (stderr). */
export type FactoryLog = (line: string) => void;

/**
 * The simulated account behind the endpoint, and the executions in it.
 *
 * @example
 * const factory = await LocalFactory.start({ speed: 10, log: console.error });
 * new LocalStepFunctionsApi(factory).handle('StartExecution', { stateMachineArn: factory.stateMachine.stateMachineArn, input: '{"images":["nginx:1.27"]}' });
 */
export class LocalFactory implements ExecutionBackend {
  readonly stateMachine: LocalStateMachine;
  readonly executions: Map<string, SimulatedExecution>;
  private readonly running = new Map<string, RunningExecution>();
  private readonly stopRequested = new Set<string>();
  private readonly ended = new Map<string, readonly HistoryEvent[]>();
  private readonly handlers = new Map<string, Handler>();
  private readonly reaper: ReturnType<typeof setInterval>;
  private readonly uninstall: (() => void)[];

  private constructor(
    private readonly shared: SharedSimulation,
    private readonly deployment: Deployment,
    private readonly clock: LiveClock,
    private readonly log: FactoryLog,
    uninstall: (() => void)[],
  ) {
    this.uninstall = uninstall;
    this.executions = shared.account.sfn.executions;
    const stateMachine = deployment.stateMachine;
    if (!stateMachine) throw new Error('The synthesized template holds no state machine: nothing to serve');
    const bindings = taskBindings(loadDefinition());
    const arns = Object.fromEntries(bindings.map((b) => [b.substitution, deployment.functions[b.functionName]?.arn ?? `arn:aws:lambda:${deployment.region}:${deployment.accountId}:function:${b.functionName}`]));
    this.stateMachine = {
      stateMachineArn: stateMachine.arn,
      name: stateMachine.name,
      definition: JSON.stringify(substitute(loadDefinition(), arns), null, 2),
      roleArn: (deployment.roles.find((role) => /StateMachineRole/.test(role.logicalId)) ?? deployment.roles[0])?.arn ?? '',
      creationDate: Date.now(),
    };
    this.reaper = setInterval(() => void this.runReaper(), REAPER_PERIOD_MS);
  }

  /** Deploys the factory into a fresh simulated account, loads the handlers and starts the clock. */
  static async start(options: { speed: number; log: FactoryLog }): Promise<LocalFactory> {
    // Deployed before the clock is faked: synthesis may wait on another process's lock with timers.
    const account: SimulatedAccount = createSimulatedAccount();
    const deployment = defaultDeployment({ accountId: account.core.accountId, region: account.core.region });
    useDeployedEnvironment(deployment);
    // Imported now, as Lambda's cold starts happened long before: the first execution would otherwise lose
    // seconds of simulated time to module loading.
    await loadHandlers(taskBindings(loadDefinition()));
    const clock = startLiveClock({ speed: options.speed });
    const registries = new SimulatedRegistries();
    const uninstallAws = installSimulatedAws(account.core);
    const { iam, uninstall: uninstallIam } = installSimulatedIam(account, deployment);
    const restoreLookup = useRegistryLookup(registries.lookup);
    return new LocalFactory({ account, registries, iam }, deployment, clock, options.log, [restoreLookup, uninstallIam, uninstallAws]);
  }

  /** Runs a RUNNING execution to its end in the shared account. */
  start(execution: SimulatedExecution): void {
    const arn = execution.executionArn;
    this.log(`${execution.name}: started`);
    execution.done = runSimulation({
      input: JSON.parse(execution.input),
      executionName: execution.name,
      shared: this.shared,
      onStart: (running) => {
        this.running.set(arn, running);
        if (this.stopRequested.has(arn)) running.abort();
      },
    })
      .then(
        (report) => this.close(execution, report),
        (error: unknown) => this.close(execution, { status: 'FAILED', error: (error as Error).name, cause: (error as Error).message }),
      )
      .catch((error: unknown) => this.log(`${execution.name}: ${(error as Error).stack ?? String(error)}`));
  }

  /** StopExecution: the execution is already ABORTED in its record; the run stops where it is. */
  stop(execution: SimulatedExecution): void {
    this.stopRequested.add(execution.executionArn);
    this.running.get(execution.executionArn)?.abort();
    this.log(`${execution.name}: stopped`);
  }

  history(executionArn: string): readonly HistoryEvent[] {
    const events = this.ended.get(executionArn) ?? this.running.get(executionArn)?.history.events ?? [];
    // StopExecution's error and cause are the ExecutionAborted event's details (the runner logs the event without them).
    const last = events.at(-1);
    const execution = this.executions.get(executionArn);
    if (last?.type === 'ExecutionAborted' && execution?.status === 'ABORTED') {
      last.executionAbortedEventDetails = { ...(execution.error !== undefined ? { error: execution.error } : {}), ...(execution.cause !== undefined ? { cause: execution.cause } : {}) };
    }
    return events;
  }

  /** Stops the clock and the reaper and removes the simulated AWS from the SDK clients. */
  shutdown(): void {
    clearInterval(this.reaper);
    for (const uninstall of this.uninstall) uninstall();
    this.clock.stop();
  }

  private close(execution: SimulatedExecution, report: Pick<SimulationReport, 'status' | 'output' | 'error' | 'cause'> & { history?: HistoryEvent[] }): void {
    const arn = execution.executionArn;
    const history = report.history ?? this.running.get(arn)?.history.events ?? [];
    this.running.delete(arn);
    if (execution.status === 'RUNNING') {
      execution.status = report.status;
      execution.stopDate = new Date(Date.now());
      execution.output = report.output === undefined ? undefined : JSON.stringify(report.output);
      execution.error = report.error;
      execution.cause = report.cause;
    }
    this.ended.set(arn, history);
    this.log(`${execution.name}: ${execution.status}${execution.error ? ` ${execution.error}` : ''}${execution.cause ? `: ${execution.cause.split('\n')[0]}` : ''}`);
    setTimeout(() => void this.deliverStatusChange(execution), EVENT_DELIVERY_MS);
  }

  /** Step Functions' status-change event to every rule whose pattern matches it, each target invoked asynchronously. */
  private async deliverStatusChange(execution: SimulatedExecution): Promise<void> {
    const { done: _done, ...record } = execution;
    const event = executionStatusChangeEvent(record, this.deployment.region, this.deployment.accountId);
    for (const rule of this.deployment.eventRules) {
      if (!matchesEventPattern(rule.eventPattern, event)) continue;
      for (const name of rule.functionTargets) await this.invokeAsync(name, event, `${rule.logicalId} (${execution.name} ${execution.status})`);
    }
  }

  private async runReaper(): Promise<void> {
    // The reaper's deployed environment (age limits, state machine ARN); set for the process, as only it reads them.
    const environment = this.deployment.functions['reap-builders']?.environment ?? {};
    for (const [key, value] of Object.entries(environment)) process.env[key] ??= value;
    await this.invokeAsync('reap-builders', { source: 'aws.events', 'detail-type': 'Scheduled Event', detail: {} }, 'ReaperSchedule');
  }

  private async invokeAsync(name: string, event: unknown, trigger: string): Promise<void> {
    const handler = await this.handler(name);
    for (let attempt = 0; ; attempt += 1) {
      try {
        const output = await runAsFunction(name, () => handler(event));
        this.log(`${name} ran (${trigger}): ${JSON.stringify(output)}`);
        return;
      } catch (error) {
        this.log(`${name} failed (${trigger}): ${(error as Error).name}: ${(error as Error).message}`);
        const delay = ASYNC_RETRY_DELAYS_MS[attempt];
        if (delay === undefined) return;
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  private async handler(name: string): Promise<Handler> {
    let handler = this.handlers.get(name);
    if (!handler) {
      const module = (await import(join(ROOT, 'functions', `${name}.ts`))) as { handler?: Handler };
      if (typeof module.handler !== 'function') throw new Error(`functions/${name}.ts exports no handler`);
      handler = module.handler;
      this.handlers.set(name, handler);
    }
    return handler;
  }
}
