/**
 * EC2, Parameter Store and EventBridge clients per region, for the lifecycle stages that act in every region a
 * recipe's snapshots live in (CopySnapshot and its check, PublishSnapshot, ApplyRetention, cleanup). The home
 * region (the function's own, env `AWS_REGION`, which Lambda sets) uses the shared clients of
 * functions/lib/clients/; another region gets its own client, created once per container.
 *
 * The clients themselves are in functions/lib/regional/<service>.ts, one module per service so that a function
 * bundles only the SDK clients it calls; this module holds none. Every client created there is announced to the listeners of {@link onRegionalClient}: the simulated AWS
 * (simulation/aws/install.ts) routes them to the simulated region, so a test never reaches a real endpoint.
 */

/** A client of another region than the function's own. */
export interface RegionalClient {
  region: string;
  /** An AWS SDK v3 client. */
  client: object;
}

const created: RegionalClient[] = [];
const listeners = new Set<(client: RegionalClient) => void>();

/**
 * Calls `listener` for every regional client created so far and from now on; returns a function that stops the
 * calls. Lambda never registers one: it is how a test harness intercepts the clients.
 */
export const onRegionalClient = (listener: (client: RegionalClient) => void): (() => void) => {
  listeners.add(listener);
  for (const client of created) listener(client);
  return () => listeners.delete(listener);
};

/** The function's own region; `home` where no runtime sets AWS_REGION. */
export const homeRegion = (): string => process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'home';

/** A function giving the client of a region: `shared` for the home region, one made by `make` (once) for another. */
export const perRegion = <C extends object>(shared: C, make: (region: string) => C) => {
  const clients = new Map<string, C>();
  return (region: string): C => {
    if (region === homeRegion()) return shared;
    let client = clients.get(region);
    if (!client) {
      clients.set(region, (client = make(region)));
      created.push({ region, client });
      for (const listener of listeners) listener({ region, client });
    }
    return client;
  };
};
