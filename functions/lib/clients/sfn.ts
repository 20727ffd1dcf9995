/** The AWS Step Functions client of a Lambda container, created once at load (functions/lib/clients/config.ts says why one file per service). */
import { SFNClient } from '@aws-sdk/client-sfn';
import { SDK_CLIENT_CONFIG } from './config';

export const sfn = new SFNClient(SDK_CLIENT_CONFIG);
