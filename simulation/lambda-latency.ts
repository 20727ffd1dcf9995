/**
 * What AWS charges in time for running the workflow, so that "time lost between an AWS event and the workflow
 * noticing it" is not flattered by a simulation where Lambda and Step Functions cost nothing.
 *
 * The harness (simulation/run-state-machine.ts) charges, on the virtual clock, for every Task invocation:
 * - a cold start when the function has no idle execution environment: {@link LambdaLatencyFigures.initMs} for that
 *   function (runtime start + the bundle's own init). Lambda keeps an environment "for a non-deterministic period of
 *   time" after an invocation and creates a new one whenever a request arrives while every existing one is busy
 *   (AWS Lambda Operator Guide, "Lambda execution environments",
 *   https://docs.aws.amazon.com/lambda/latest/operatorguide/execution-environments.html: cold starts vary "from under
 *   100 ms to over 1 second"). The idle lifetime is not documented: {@link LambdaLatencyFigures.keepWarmMs} is an
 *   assumption, on the short side so the model errs towards more cold starts;
 * - the invoke round trip ({@link LambdaLatencyFigures.invokeMs}) and the handler's run time:
 *   {@link LambdaLatencyFigures.handlerMs} after it returns, and {@link LambdaLatencyFigures.awsCallMs} per AWS request,
 *   spent when the request is sent (simulation/aws/install.ts `setFunctionRequestMs`), so a check polling inside its
 *   invocation (functions/lib/poll-inside.ts) sees each answer when a real one would;
 * - a latency per state transition ({@link LambdaLatencyFigures.transitionMs}) for the Task and the Choice and Wait
 *   around it (the runner has no per-state hook, so the Task that ends the chain pays for it). AWS publishes no
 *   per-transition latency for Standard workflows; the figure is an assumption, varied by the benchmark.
 *
 * Left out: provisioned concurrency (the factory uses none), throttling at the account's concurrency limit, Lambda's
 * retry of a failed init, and jitter in the default model (tests need a fixed clock; the benchmark varies the figures
 * with {@link varyLatency}).
 */

/** The figures of the model, in milliseconds of virtual time. */
export interface LambdaLatencyFigures {
  /** Cold start per function file (kebab-case name); {@link LambdaLatencyFigures.defaultInitMs} for others. */
  initMs: Readonly<Record<string, number>>;
  defaultInitMs: number;
  /** How long an idle execution environment stays warm (assumed; AWS does not document it). */
  keepWarmMs: number;
  /** Step Functions -> Lambda invoke and back, per invocation. */
  invokeMs: number;
  /** The handler's own work besides its AWS requests (validation, logging). */
  handlerMs: number;
  /** Each AWS API request the handler sends (in-region round trip). */
  awsCallMs: number;
  /** Each state transition. */
  transitionMs: number;
}

/**
 * Cold start per function: Lambda's Node.js runtime start ({@link RUNTIME_START_MS}) plus the CPU time `require`
 * of the function's minified bundle took on this machine (esbuild, the deployed options: CJS, node22, `@aws-sdk/*`
 * external and loaded from node_modules): `npm run bench -- bundles` (bench/bundles.bench.ts, a fresh node per
 * sample, median of 11, `process.cpuUsage()` around `require`), measured 2026-12-02 on the shared 2-core machine at
 * a load average of about 2, after issue 12's zod/mini work, for all 22 functions. Re-run the bench and update
 * these when the bundles change. Re-run when every other function's schemas moved to zod/mini too (bundles 111.7-147.0
 * KiB -> 53.0-101.0 KiB): the init did not change beyond the noise (median over the 22 functions of the CPU time,
 * 172.6 ms before, 172.3 and 185.6 ms after, back to back at a load of 1.3-1.9; the SDK clients' load dominates
 * it), so these figures stay.
 */
export const MEASURED_BUNDLE_INIT_MS: Readonly<Record<string, number>> = {
  'apply-retention': 361,
  'check-fast-snapshot-restore': 291,
  'check-instance-stopped': 312,
  'check-pull-command': 360,
  'check-snapshot': 269,
  'check-snapshot-copies': 324,
  'check-ssm-agent': 352,
  'cleanup-build': 352,
  'copy-snapshot': 288,
  'create-snapshot': 287,
  'disable-superseded-fast-snapshot-restore': 353,
  'enable-fast-snapshot-restore': 300,
  'launch-instance': 360,
  'notify-build-failure': 116,
  'prepare-build': 384,
  'publish-snapshot': 371,
  'reap-builders': 366,
  'send-pull-command': 370,
  'share-snapshots': 330,
  'start-build': 140,
  'stop-instance': 301,
  'terminate-instance': 314,
};

/**
 * The runtime's own start before the function's code loads. Assumed within the Operator Guide's "under 100 ms to over
 * 1 second" range for the whole cold start; not measured here (no Lambda).
 */
export const RUNTIME_START_MS = 150;

/** The model the simulation uses unless told otherwise: fixed figures, so tests see the same clock every run. */
export const DEFAULT_LAMBDA_LATENCY: LambdaLatencyFigures = {
  initMs: Object.fromEntries(Object.entries(MEASURED_BUNDLE_INIT_MS).map(([name, ms]) => [name, RUNTIME_START_MS + ms])),
  defaultInitMs: RUNTIME_START_MS + 500,
  keepWarmMs: 5 * 60_000,
  invokeMs: 30,
  handlerMs: 20,
  awsCallMs: 60,
  transitionMs: 50,
};

/** The model switched off: what the simulation charged before it had one. */
export const NO_LATENCY: LambdaLatencyFigures = {
  initMs: {},
  defaultInitMs: 0,
  keepWarmMs: Number.POSITIVE_INFINITY,
  invokeMs: 0,
  handlerMs: 0,
  awsCallMs: 0,
  transitionMs: 0,
};

/**
 * The figures with every duration scaled by a factor drawn from `random` in [1 - spread, 1 + spread] (one factor per
 * figure), for the benchmark's varied runs.
 */
export const varyLatency = (figures: LambdaLatencyFigures, random: () => number, spread = 0.25): LambdaLatencyFigures => {
  const vary = (ms: number) => Math.round(ms * (1 - spread + 2 * spread * random()));
  return {
    initMs: Object.fromEntries(Object.entries(figures.initMs).map(([name, ms]) => [name, vary(ms)])),
    defaultInitMs: vary(figures.defaultInitMs),
    keepWarmMs: figures.keepWarmMs,
    invokeMs: vary(figures.invokeMs),
    handlerMs: vary(figures.handlerMs),
    awsCallMs: vary(figures.awsCallMs),
    transitionMs: vary(figures.transitionMs),
  };
};

/** One invocation's charges, for reports. */
export interface ChargedInvocation {
  functionName: string;
  state: string;
  coldStart: boolean;
  /** Virtual ms before the handler started (cold start, invoke, transitions). */
  beforeMs: number;
  /** Virtual ms after the handler returned (its run time). */
  afterMs: number;
  /**
   * Virtual ms from the handler's start to the end of its charged run time: {@link afterMs} plus whatever the handler
   * itself slept (a check polling inside its invocation, functions/lib/poll-inside.ts). What Lambda bills.
   */
  handlerMs: number;
}

/**
 * The execution environments of each function, over virtual time: decides cold or warm per invocation and what it
 * costs. One instance per simulated run.
 */
export class LambdaEnvironments {
  /** Per function, each environment's end of its last invocation (epoch ms); Infinity while busy. */
  private readonly environments = new Map<string, number[]>();
  readonly charged: ChargedInvocation[] = [];

  constructor(readonly figures: LambdaLatencyFigures = DEFAULT_LAMBDA_LATENCY) {}

  /** Claims an environment at `now`: a warm idle one, else a new one (a cold start). Returns its index and the cost. */
  start(functionName: string, now: number): { environment: number; coldStart: boolean; initMs: number } {
    const pool = this.environments.get(functionName) ?? [];
    this.environments.set(functionName, pool);
    const warm = pool.findIndex((idleSince) => idleSince <= now && now - idleSince < this.figures.keepWarmMs);
    if (warm >= 0) {
      pool[warm] = Number.POSITIVE_INFINITY;
      return { environment: warm, coldStart: false, initMs: 0 };
    }
    // A reclaimed environment is as good as none: reuse its slot for the new one.
    const reclaimed = pool.findIndex((idleSince) => idleSince <= now);
    const environment = reclaimed >= 0 ? reclaimed : pool.length;
    pool[environment] = Number.POSITIVE_INFINITY;
    return { environment, coldStart: true, initMs: this.figures.initMs[functionName] ?? this.figures.defaultInitMs };
  }

  /** Frees the environment at `now`. */
  finish(functionName: string, environment: number, now: number): void {
    const pool = this.environments.get(functionName);
    if (pool) pool[environment] = now;
  }

  /** The handler's run time for `awsCalls` requests charged after it returns (the harness charges them when sent: 0). */
  runMs(awsCalls: number): number {
    return this.figures.handlerMs + awsCalls * this.figures.awsCallMs;
  }
}

/**
 * How many state transitions the harness charges to a Task: its own, the Choice it leads to, and each Wait whose
 * Next is this Task (a poll loop's Wait -> Check -> Choice).
 */
export const transitionsChargedTo = (taskName: string, states: Readonly<Record<string, { Type: string; Next?: string }>>): number => {
  const task = states[taskName];
  if (!task) return 1;
  const next = task.Next ? states[task.Next] : undefined;
  const waitsInto = Object.values(states).filter((state) => state.Type === 'Wait' && state.Next === taskName).length;
  return 1 + (next?.Type === 'Choice' ? 1 : 0) + Math.min(1, waitsInto);
};
