/** The EC2 client of each region (functions/lib/regional-clients.ts says why and how). */
import { EC2Client } from '@aws-sdk/client-ec2';
import { ec2 } from '../clients/ec2';
import { SDK_CLIENT_CONFIG } from '../clients/config';
import { perRegion } from '../regional-clients';

/** The EC2 client of `region`: the shared one for the home region. */
export const ec2In = perRegion(ec2, (region) => new EC2Client({ ...SDK_CLIENT_CONFIG, region }));
