/**
 * The simulation must intercept every SDK client the functions create (one module per service in
 * functions/lib/clients/): a client it missed would send a test's requests to real AWS.
 */
import { readdirSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { SimulatedAwsCore } from '../../simulation/aws/core';
import { FACTORY_CLIENTS, installSimulatedAws, SIMULATED_AWS_MIDDLEWARE } from '../../simulation/aws/install';
import { DescribeSnapshotsCommand } from '@aws-sdk/client-ec2';
import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { GetParametersCommand } from '@aws-sdk/client-ssm';
import { ec2In } from '../../functions/lib/regional/ec2';
import { eventBridgeIn } from '../../functions/lib/regional/eventbridge';
import { ssmIn } from '../../functions/lib/regional/ssm';

const CLIENTS_DIR = new URL('../../functions/lib/clients/', import.meta.url);

type SdkClient = { send: unknown; middlewareStack: { identify: () => string[] } };
const isSdkClient = (value: unknown): value is SdkClient =>
  typeof value === 'object' && value !== null && 'send' in value && 'middlewareStack' in value;

/** Every SDK client exported by a module of functions/lib/clients/, with the module it comes from. */
const exportedClients = async (): Promise<{ where: string; client: SdkClient }[]> => {
  const modules = readdirSync(CLIENTS_DIR).filter((file) => file.endsWith('.ts'));
  const found: { where: string; client: SdkClient }[] = [];
  for (const file of modules) {
    const exports = (await import(new URL(file, CLIENTS_DIR).href)) as Record<string, unknown>;
    for (const [name, value] of Object.entries(exports)) if (isSdkClient(value)) found.push({ where: `${file}: ${name}`, client: value });
  }
  return found;
};

describe('simulated AWS install', () => {
  let uninstall: () => void = () => undefined;
  afterEach(() => uninstall());

  it('intercepts every client module of functions/lib/clients/', async () => {
    // Prepare
    const clients = await exportedClients();
    // Act
    uninstall = installSimulatedAws(new SimulatedAwsCore());
    // Assess
    expect(clients.map(({ where }) => where).sort()).toEqual([
      'ec2.ts: ec2',
      'ecr.ts: ecr',
      'eventbridge.ts: eventBridge',
      'sfn.ts: sfn',
      'ssm.ts: ssm',
    ]);
    const missed = clients.filter(({ client }) => !FACTORY_CLIENTS.includes(client) || !client.middlewareStack.identify().some((entry) => entry.startsWith(SIMULATED_AWS_MIDDLEWARE)));
    expect(missed.map(({ where }) => where)).toEqual([]);
  });

  it('restores every client when uninstalled', async () => {
    // Prepare
    const clients = await exportedClients();
    // Act
    installSimulatedAws(new SimulatedAwsCore())();
    // Assess
    const stillIntercepted = clients.filter(({ client }) => client.middlewareStack.identify().some((entry) => entry.startsWith(SIMULATED_AWS_MIDDLEWARE)));
    expect(stillIntercepted.map(({ where }) => where)).toEqual([]);
  });

  it('routes the clients of other regions (functions/lib/regional-clients.ts) to that simulated region, made before or after the install', async () => {
    // Prepare
    const before = ec2In('ca-central-1');
    const regions = new Map([['ca-central-1', new SimulatedAwsCore({ region: 'ca-central-1' })], ['sa-east-1', new SimulatedAwsCore({ region: 'sa-east-1' })]]);
    for (const core of regions.values()) core.register('ssm', { GetParameters: () => ({ Parameters: [], InvalidParameters: ['/x'] }) });
    regions.get('ca-central-1')!.register('ec2', { DescribeSnapshots: () => ({ Snapshots: [] }) });
    // Act
    uninstall = installSimulatedAws(new SimulatedAwsCore(), (region) => regions.get(region)!);
    await before.send(new DescribeSnapshotsCommand({}));
    await ssmIn('sa-east-1').send(new GetParametersCommand({ Names: ['/x'] }));
    // Assess
    expect(regions.get('ca-central-1')!.callsOf('ec2', 'DescribeSnapshots')).toHaveLength(1);
    expect(regions.get('sa-east-1')!.callsOf('ssm', 'GetParameters')).toHaveLength(1);
  });

  it('fails a request to another region, naming it, when the install was given no regions', async () => {
    // Act
    uninstall = installSimulatedAws(new SimulatedAwsCore());
    // Assess
    await expect(eventBridgeIn('me-south-1').send(new PutEventsCommand({ Entries: [] }))).rejects.toThrow(/region me-south-1 was sent/);
  });
});
