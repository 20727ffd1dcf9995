/** The Amazon ECR client of a Lambda container, created once at load (functions/lib/clients/config.ts says why one file per service). */
import { ECRClient } from '@aws-sdk/client-ecr';
import { SDK_CLIENT_CONFIG } from './config';

export const ecr = new ECRClient(SDK_CLIENT_CONFIG);
