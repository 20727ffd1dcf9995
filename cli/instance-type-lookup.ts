/**
 * The architecture lookup `build` uses: DescribeInstanceTypes when the caller can call it, else the naming rule.
 */
import type { AwsClients } from './aws-access';
import { isMissingCredentials } from './aws-access';
import { architecturesByName, describeInstanceTypes, InstanceTypeArchitectureError, type ArchitectureLookup } from './instance-types';

/** Asks EC2 first; falls back to the naming rule without credentials or without permission to ask. */
export const instanceTypeLookup = (ec2: AwsClients['ec2']): ArchitectureLookup => {
  const lookup: ArchitectureLookup = {
    source: 'DescribeInstanceTypes',
    architecturesOf: async (types) => {
      try {
        return await describeInstanceTypes(ec2)(types);
      } catch (error) {
        const name = (error as { name?: string }).name ?? '';
        // EC2 refuses the whole call when one type does not exist: "The following supplied instance types do not exist".
        if (name === 'InvalidInstanceType') {
          throw new InstanceTypeArchitectureError(`-i/--instance-type: ${(error as Error).message} (DescribeInstanceTypes)`);
        }
        if (isMissingCredentials(error)) lookup.source = 'the naming rule: no AWS credentials for DescribeInstanceTypes';
        else if (name === 'UnauthorizedOperation' || name === 'AccessDenied' || name === 'AccessDeniedException') {
          lookup.source = `the naming rule: DescribeInstanceTypes refused (${name})`;
        } else throw error;
        return architecturesByName(types);
      }
    },
  };
  return lookup;
};
