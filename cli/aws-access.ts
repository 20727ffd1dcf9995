/**
 * The AWS clients the CLI uses, and how it tells "no credentials here" (use the flags instead) from a real error.
 */
import { EC2Client } from '@aws-sdk/client-ec2';
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
  return { sfn: new SFNClient(sfnConfig), ssm: new SSMClient(config), ec2: new EC2Client(config) };
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
