/**
 * Points the factory's SDK clients (one module per service in `functions/lib/clients/`) at a simulated account by
 * adding a middleware that answers each command in-process, under the client's own retry middleware (below). The
 * handlers run unchanged. The middleware signs each
 * request with the principal the harness runs the code as (simulation/iam/caller.ts), for the simulated IAM.
 * test/simulation/install-clients.test.ts fails when a client module of that folder is missing here: a client the
 * simulation did not intercept would send its requests to real AWS.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { ec2 } from '../../functions/lib/clients/ec2';
import { ecr } from '../../functions/lib/clients/ecr';
import { eventBridge } from '../../functions/lib/clients/eventbridge';
import { sfn } from '../../functions/lib/clients/sfn';
import { ssm } from '../../functions/lib/clients/ssm';
import { onRegionalClient } from '../../functions/lib/regional-clients';
import { currentPrincipal } from '../iam/caller';
import { SERVICE_OF_CLIENT, type SimulatedAwsCore } from './core';

const MIDDLEWARE_NAME = 'snapshotFactorySimulatedAws';

type Handler = (args: { input: unknown }) => Promise<{ output: unknown; response: unknown }>;
type Middleware = (next: Handler, context: unknown) => Handler;

interface MiddlewareStack {
  add: (middleware: unknown, options: { step: 'initialize'; name: string; override?: boolean }) => void;
  remove: (name: string) => boolean;
  /** Adds every entry of this stack to `to` (MiddlewareStack's Pluggable side: how `use(stack)` copies one). */
  applyToStack: (to: { add: (middleware: Middleware, options?: { name?: string }) => void; addRelativeTo: (middleware: Middleware, options?: { name?: string }) => void }) => void;
}

interface StackClient {
  middlewareStack: MiddlewareStack;
}

/** Every SDK client the factory's functions create. */
export const FACTORY_CLIENTS: readonly object[] = [ec2, ecr, eventBridge, sfn, ssm];

/** The name of the middleware that answers from the simulated account (to check a client is intercepted). */
export const SIMULATED_AWS_MIDDLEWARE = MIDDLEWARE_NAME;

/** Virtual ms each request of a factory function takes before AWS answers it (simulation/lambda-latency.ts awsCallMs). */
let functionRequestMs = 0;

/**
 * Sets the round trip of every request a factory function sends, spent on the (virtual) clock at the request, as a
 * handler would wait for it; returns the previous figure. 0 (the default) answers at once.
 */
export const setFunctionRequestMs = (ms: number): number => {
  const previous = functionRequestMs;
  functionRequestMs = ms;
  return previous;
};

/** The name under which the SDK v3 clients add their retry middleware (@smithy/core retry: retryMiddlewareOptions). */
const RETRY_MIDDLEWARE = 'retryMiddleware';

/**
 * The client's own retry middleware: the one `getRetryPlugin(this.config)` added when the client was built, with the
 * client's retry strategy (SDK_CLIENT_CONFIG: standard, 3 attempts) and its retry quota. The simulated answer comes
 * from `initialize`, before the steps that serialize, sign and send (they would need an endpoint and credentials),
 * so without this the SDK's retries would never run here.
 */
const retryMiddlewareOf = (client: StackClient): Middleware => {
  let found: Middleware | undefined;
  const pick = (middleware: Middleware, options?: { name?: string }) => {
    if (options?.name === RETRY_MIDDLEWARE) found = middleware;
  };
  client.middlewareStack.applyToStack({ add: pick, addRelativeTo: pick });
  if (!found) throw new Error(`The SDK client has no ${RETRY_MIDDLEWARE}: simulation/aws/install.ts cannot retry as the SDK does`);
  return found;
};

/** The Lambda execution environment the running handler is in (the harness names it: simulation/run-state-machine.ts). */
const environments = new AsyncLocalStorage<{ key: string; cold: boolean }>();

/**
 * Runs `work` as in the Lambda execution environment `key` (function and environment): each environment is a
 * container with its own SDK clients, so its own retry strategy and retry quota (the standard strategy's 500 tokens,
 * spent by retries, refilled by successes). `cold` is a new container: its clients start afresh. Outside any
 * environment (a unit test calling a handler) the client's own strategy serves every call.
 */
export const inLambdaEnvironment = <T>(key: string, cold: boolean, work: () => T): T => environments.run({ key, cold }, work);

interface RetryConfig {
  retryStrategy: () => Promise<unknown>;
  maxAttempts: () => Promise<number>;
}

/** Each environment's retry strategy per client: a new instance of the client's own strategy class and attempts. */
const strategies = new WeakMap<object, Map<string, Promise<unknown>>>();
const freshStrategies = new WeakSet<object>();

const strategyOf = (config: RetryConfig, environment: { key: string; cold: boolean }, own: () => Promise<unknown>): Promise<unknown> => {
  const perEnvironment = strategies.get(config) ?? new Map<string, Promise<unknown>>();
  strategies.set(config, perEnvironment);
  const marker = environment as object;
  let strategy = perEnvironment.get(environment.key);
  if (!strategy || (environment.cold && !freshStrategies.has(marker))) {
    freshStrategies.add(marker);
    strategy = own().then((base) => new (base as { constructor: new (maxAttempts: () => Promise<number>) => unknown }).constructor(config.maxAttempts));
    perEnvironment.set(environment.key, strategy);
  }
  return strategy;
};

const sleep = (ms: number): Promise<void> => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Answers each command from the simulated account as Lambda's SDK would get it from AWS: the request's round trip
 * (`functionRequestMs`) on the virtual clock, then an injected fault (once per call: it stands for a failure that
 * outlasts the SDK's retries, simulation/aws/core.ts `failIfFaulted`), then up to `maxAttempts` attempts under the
 * client's own retry middleware, each a request the account throttles, authorizes and answers
 * (`SimulatedAwsCore.handle`), each retry after the SDK's backoff (a `setTimeout`, so on the virtual clock) and its
 * own round trip. What still fails reaches the handler, whose `callAws` makes it `TransientAwsError` for a throttle.
 */
const intercept = (client: StackClient, core: () => SimulatedAwsCore): void => {
  const retry = retryMiddlewareOf(client);
  client.middlewareStack.add(
    (_next: unknown, context: { clientName: string; commandName: string }) => async (args: { input: unknown }) => {
      const service = SERVICE_OF_CLIENT[context.clientName];
      if (!service) throw new Error(`No simulated service for ${context.clientName}`);
      const operation = context.commandName.replace(/Command$/, '');
      const principal = currentPrincipal();
      const roundTrip = async () => {
        if (functionRequestMs > 0 && principal?.kind === 'function') await sleep(functionRequestMs);
      };
      await roundTrip();
      const account = core();
      account.failIfFaulted(service, operation, args.input, principal);
      let attempts = 0;
      const attempt: Handler = async ({ input }) => {
        attempts += 1;
        if (attempts > 1) await roundTrip();
        const output = (await account.handle(service, operation, input, principal, { faults: false })) ?? {};
        return { output: { $metadata: { httpStatusCode: 200 }, ...(output as object) }, response: {} };
      };
      // The retry middleware reads `options.retryStrategy()` (the client's config) synchronously as it starts: for
      // that instant it gives this environment's strategy, so concurrent environments never share one quota.
      const environment = environments.getStore();
      const config = (client as unknown as { config: RetryConfig }).config;
      if (!environment) return retry(attempt, context)(args);
      const own = config.retryStrategy;
      config.retryStrategy = () => strategyOf(config, environment, own);
      try {
        return retry(attempt, context)(args);
      } finally {
        config.retryStrategy = own;
      }
    },
    { step: 'initialize', name: MIDDLEWARE_NAME, override: true },
  );
};

/**
 * Routes every factory SDK client to `account`, and every client of another region
 * (functions/lib/regional-clients.ts) to `regions(region)` (simulation/aws/regions.ts gives one); returns a
 * function that restores them. Without `regions`, a request to another region fails naming it: it must never reach AWS.
 */
export const installSimulatedAws = (account: SimulatedAwsCore, regions?: (region: string) => SimulatedAwsCore): (() => void) => {
  const all = FACTORY_CLIENTS as unknown as StackClient[];
  for (const client of all) intercept(client, () => account);
  const regional: StackClient[] = [];
  const stopListening = onRegionalClient(({ region, client }) => {
    regional.push(client as unknown as StackClient);
    intercept(client as unknown as StackClient, () => {
      if (!regions) throw new Error(`A request to region ${region} was sent, but this simulated account has only ${account.region}: pass installSimulatedAws its regions`);
      return regions(region);
    });
  });
  return () => {
    stopListening();
    for (const client of [...all, ...regional]) client.middlewareStack.remove(MIDDLEWARE_NAME);
  };
};
