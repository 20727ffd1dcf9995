/** The Parameter Store client of each region (functions/lib/regional-clients.ts says why and how). */
import { SSMClient } from '@aws-sdk/client-ssm';
import { ssm } from '../clients/ssm';
import { SDK_CLIENT_CONFIG } from '../clients/config';
import { perRegion } from '../regional-clients';

/** The Parameter Store client of `region`: the shared one for the home region. */
export const ssmIn = perRegion(ssm, (region) => new SSMClient({ ...SDK_CLIENT_CONFIG, region }));
