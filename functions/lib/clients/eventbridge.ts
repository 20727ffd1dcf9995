/** The Amazon EventBridge client of a Lambda container, created once at load (functions/lib/clients/config.ts says why one file per service). */
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SDK_CLIENT_CONFIG } from './config';

export const eventBridge = new EventBridgeClient(SDK_CLIENT_CONFIG);
