/**
 * Points the factory's SDK clients (one module per service in `functions/lib/clients/`) at a simulated account by
 * adding a middleware that answers each command in-process. The handlers run unchanged. The middleware signs each
 * request with the principal the harness runs the code as (simulation/iam/caller.ts), for the simulated IAM.
 * test/simulation/install-clients.test.ts fails when a client module of that folder is missing here: a client the
 * simulation did not intercept would send its requests to real AWS.
 */
import { ec2 } from '../../functions/lib/clients/ec2';
import { ecr } from '../../functions/lib/clients/ecr';
import { eventBridge } from '../../functions/lib/clients/eventbridge';
import { sfn } from '../../functions/lib/clients/sfn';
import { ssm } from '../../functions/lib/clients/ssm';
import { onRegionalClient } from '../../functions/lib/regional-clients';
import { currentPrincipal } from '../iam/caller';
import { SERVICE_OF_CLIENT, type SimulatedAwsCore } from './core';

const MIDDLEWARE_NAME = 'snapshotFactorySimulatedAws';

interface StackClient {
  middlewareStack: {
    add: (middleware: unknown, options: { step: 'initialize'; name: string; override?: boolean }) => void;
    remove: (name: string) => boolean;
  };
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

const intercept = (client: StackClient, core: () => SimulatedAwsCore): void => {
  client.middlewareStack.add(
    (_next: unknown, context: { clientName: string; commandName: string }) => async (args: { input: unknown }) => {
      const service = SERVICE_OF_CLIENT[context.clientName];
      if (!service) throw new Error(`No simulated service for ${context.clientName}`);
      const operation = context.commandName.replace(/Command$/, '');
      const principal = currentPrincipal();
      if (functionRequestMs > 0 && principal?.kind === 'function') await new Promise<void>((resolve) => setTimeout(resolve, functionRequestMs));
      const output = (await core().handle(service, operation, args.input, principal)) ?? {};
      return { output: { $metadata: { httpStatusCode: 200 }, ...(output as object) }, response: {} };
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
