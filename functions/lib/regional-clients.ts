/**
 * EC2 and Parameter Store clients per region, for the lifecycle stages that act in every region a recipe's
 * snapshots live in (ApplyRetention; the copies' regions once they exist). The home region (the function's own,
 * env `AWS_REGION`, which Lambda sets) uses the shared clients of functions/lib/clients/, which the simulated
 * AWS intercepts; another region gets its own client, created once per container.
 */
import { EC2Client } from '@aws-sdk/client-ec2';
import { SSMClient } from '@aws-sdk/client-ssm';
import { ec2 } from './clients/ec2';
import { ssm } from './clients/ssm';

const common = { maxAttempts: 3, retryMode: 'standard' } as const;
const ec2Clients = new Map<string, EC2Client>();
const ssmClients = new Map<string, SSMClient>();

/** The function's own region; `home` where no runtime sets AWS_REGION (tests, the simulation). */
export const homeRegion = (): string => process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'home';

/** The EC2 client of `region`: the shared one for the home region. */
export const ec2In = (region: string): EC2Client => {
  if (region === homeRegion()) return ec2;
  let client = ec2Clients.get(region);
  if (!client) ec2Clients.set(region, (client = new EC2Client({ ...common, region })));
  return client;
};

/** The Parameter Store client of `region`: the shared one for the home region. */
export const ssmIn = (region: string): SSMClient => {
  if (region === homeRegion()) return ssm;
  let client = ssmClients.get(region);
  if (!client) ssmClients.set(region, (client = new SSMClient({ ...common, region })));
  return client;
};
