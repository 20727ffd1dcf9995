/**
 * AWS SDK clients, created once per Lambda container (module scope) and shared by the handlers.
 * Handlers' logic takes clients as arguments where tests need to swap them; the simulated AWS
 * (`simulation/`) intercepts these very clients, so handlers run unchanged against it.
 *
 * The SDK's own retry (standard mode, 3 attempts) absorbs short throttling bursts inside one
 * invocation; what still fails becomes `TransientAwsError` and the state machine retries with backoff.
 */
import { EC2Client } from '@aws-sdk/client-ec2';
import { ECRClient } from '@aws-sdk/client-ecr';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SSMClient } from '@aws-sdk/client-ssm';

const common = { maxAttempts: 3, retryMode: 'standard' } as const;

export const ec2 = new EC2Client(common);
export const ssm = new SSMClient(common);
export const ecr = new ECRClient(common);
export const sfn = new SFNClient(common);
export const eventBridge = new EventBridgeClient(common);
