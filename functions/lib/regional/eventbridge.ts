/** The EventBridge client of each region (functions/lib/regional-clients.ts says why and how). */
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { eventBridge } from '../clients/eventbridge';
import { SDK_CLIENT_CONFIG } from '../clients/config';
import { perRegion } from '../regional-clients';

/** The EventBridge client of `region`: the shared one for the home region. */
export const eventBridgeIn = perRegion(eventBridge, (region) => new EventBridgeClient({ ...SDK_CLIENT_CONFIG, region }));
