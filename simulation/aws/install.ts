/**
 * Points the factory's SDK clients (`functions/lib/clients.ts`) at a simulated account by adding a
 * middleware that answers each command in-process. The handlers run unchanged. The middleware signs each
 * request with the principal the harness runs the code as (simulation/iam/caller.ts), for the simulated IAM.
 */
import * as clients from '../../functions/lib/clients';
import { currentPrincipal } from '../iam/caller';
import { SERVICE_OF_CLIENT, type SimulatedAwsCore } from './core';

const MIDDLEWARE_NAME = 'snapshotFactorySimulatedAws';

interface StackClient {
  middlewareStack: {
    add: (middleware: unknown, options: { step: 'initialize'; name: string; override?: boolean }) => void;
    remove: (name: string) => boolean;
  };
}

/** Routes every factory SDK client to `account`; returns a function that restores them. */
export const installSimulatedAws = (account: SimulatedAwsCore): (() => void) => {
  const all = Object.values(clients) as unknown as StackClient[];
  for (const client of all) {
    client.middlewareStack.add(
      (_next: unknown, context: { clientName: string; commandName: string }) => async (args: { input: unknown }) => {
        const service = SERVICE_OF_CLIENT[context.clientName];
        if (!service) throw new Error(`No simulated service for ${context.clientName}`);
        const operation = context.commandName.replace(/Command$/, '');
        const output = (await account.handle(service, operation, args.input, currentPrincipal())) ?? {};
        return { output: { $metadata: { httpStatusCode: 200 }, ...(output as object) }, response: {} };
      },
      { step: 'initialize', name: MIDDLEWARE_NAME, override: true },
    );
  }
  return () => {
    for (const client of all) client.middlewareStack.remove(MIDDLEWARE_NAME);
  };
};
