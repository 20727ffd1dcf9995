/** The AWS Systems Manager client of a Lambda container, created once at load (functions/lib/clients/config.ts says why one file per service). */
import { SSMClient } from '@aws-sdk/client-ssm';
import { SDK_CLIENT_CONFIG } from './config';

export const ssm = new SSMClient(SDK_CLIENT_CONFIG);
