/**
 * The AWS clients the CLI uses, and how it tells "no credentials here" (use the flags instead) from a real error.
 */
import type { EC2Client } from '@aws-sdk/client-ec2';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SSMClient } from '@aws-sdk/client-ssm';

/** The clients of one region. */
export interface AwsClients {
  sfn: Pick<SFNClient, 'send'>;
  ssm: Pick<SSMClient, 'send'>;
  ec2: Pick<EC2Client, 'send'>;
}

/**
 * Clients for a region; without one, the SDK's own resolution (AWS_REGION, AWS_DEFAULT_REGION, the profile).
 * Endpoints follow the SDK's settings too (AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_<SERVICE>, `endpoint_url` in a profile).
 */
export const clientsFor = (region?: string, stepFunctionsEndpointUrl?: string): AwsClients => {
  const config = region ? { region } : {};
  // `--endpoint-url` points Step Functions only (e.g. at `snapshot-factory local`): SSM and EC2 stay AWS's.
  const sfnConfig = stepFunctionsEndpointUrl ? { ...config, endpoint: stepFunctionsEndpointUrl } : config;
  return { sfn: new SFNClient(sfnConfig), ssm: new SSMClient(config), ec2: ec2OnFirstRequest(config) };
};

/**
 * EC2's is the SDK's largest client package (about 0.3 s to load, against about 0.05 s for SFN's or SSM's), and only
 * `build -i`, `node-class` and `launch-template` ask EC2 anything, so it loads on the first request: `--version`,
 * `status`, a flag error and a build without `-i` start without it. The callers load their commands the same way.
 */
const ec2OnFirstRequest = (config: { region?: string }): Pick<EC2Client, 'send'> => {
  let client: Promise<EC2Client> | undefined;
  const send = async (command: Parameters<EC2Client['send']>[0]) => {
    client ??= import('@aws-sdk/client-ec2').then(({ EC2Client }) => new EC2Client(config));
    return (await client).send(command);
  };
  return { send } as Pick<EC2Client, 'send'>;
};

/**
 * True when the SDK found no credentials (its provider chain ends with `CredentialsProviderError`,
 * smithy-lang/smithy-typescript packages/property-provider/src/CredentialsProviderError.ts) or no region: the
 * caller then uses what the flags say instead of asking AWS.
 */
export const isMissingCredentials = (error: unknown): boolean => {
  const name = (error as { name?: string } | undefined)?.name;
  const message = (error as { message?: string } | undefined)?.message ?? '';
  return name === 'CredentialsProviderError' || /Could not load credentials|Region is missing/i.test(message);
};
