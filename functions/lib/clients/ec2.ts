/** The Amazon EC2 client of a Lambda container, created once at load (functions/lib/clients/config.ts says why one file per service). */
import { EC2Client } from '@aws-sdk/client-ec2';
import { SDK_CLIENT_CONFIG } from './config';

export const ec2 = new EC2Client(SDK_CLIENT_CONFIG);
