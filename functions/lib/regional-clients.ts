/**
 * EC2, Parameter Store and EventBridge clients per region, for the lifecycle stages that act in every region a
 * recipe's snapshots live in (CopySnapshot and its check, PublishSnapshot, ApplyRetention, cleanup). The home
 * region (the function's own, env `AWS_REGION`, which Lambda sets) uses the shared clients of
 * functions/lib/clients/; another region gets its own client, created once per container.
 *
 * Every client created here is announced to the listeners of {@link onRegionalClient}: the simulated AWS
 * (simulation/aws/install.ts) routes them to the simulated region, so a test never reaches a real endpoint.
 */
import { EC2Client } from '@aws-sdk/client-ec2';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SSMClient } from '@aws-sdk/client-ssm';
import { ec2 } from './clients/ec2';
import { eventBridge } from './clients/eventbridge';
import { SDK_CLIENT_CONFIG } from './clients/config';
import { ssm } from './clients/ssm';

/** A client of another region than the function's own. */
export interface RegionalClient {
  region: string;
  client: EC2Client | SSMClient | EventBridgeClient;
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

const perRegion = <C extends RegionalClient['client']>(shared: C, make: (region: string) => C) => {
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

/** The EC2 client of `region`: the shared one for the home region. */
export const ec2In = perRegion(ec2, (region) => new EC2Client({ ...SDK_CLIENT_CONFIG, region }));

/** The Parameter Store client of `region`: the shared one for the home region. */
export const ssmIn = perRegion(ssm, (region) => new SSMClient({ ...SDK_CLIENT_CONFIG, region }));

/** The EventBridge client of `region`: the shared one for the home region. */
export const eventBridgeIn = perRegion(eventBridge, (region) => new EventBridgeClient({ ...SDK_CLIENT_CONFIG, region }));
