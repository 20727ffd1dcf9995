import { describe, expect, it } from 'vitest';
import {
  BOTTLEROCKET_ECR_ACCOUNTS,
  BOTTLEROCKET_ECR_FALLBACK,
  bottlerocketEcrAccounts,
  hostContainerRepositoryArns,
} from '../../infra/bottlerocket-registries';

/** IAM's resource matching: `*` matches any run of characters (IAM User Guide, "IAM JSON policy elements: Resource"). */
const allows = (patterns: string[], arn: string): boolean =>
  patterns.some((pattern) => new RegExp(`^${pattern.split('*').map((part) => part.replace(/[.?+^${}()|[\]\\]/g, '\\$&')).join('.*')}$`).test(arn));

/** Where host-ctr pulls from in `region` (schnauzer ecr_registry(): the map, else the us-east-1 fallback). */
const pulledFrom = (region: string, repository: string, partition = 'aws'): string => {
  const account = BOTTLEROCKET_ECR_ACCOUNTS[region];
  const [registryRegion, registryAccount] = account ? [region, account] : [BOTTLEROCKET_ECR_FALLBACK.region, BOTTLEROCKET_ECR_FALLBACK.account];
  return `arn:${partition}:ecr:${registryRegion}:${registryAccount}:repository/${repository}`;
};

describe('Bottlerocket host-container repositories', () => {
  it('cover the control and admin containers of every region of Bottlerocket\'s map', () => {
    const arns = hostContainerRepositoryArns('aws');

    for (const region of Object.keys(BOTTLEROCKET_ECR_ACCOUNTS)) {
      for (const repository of ['bottlerocket-control', 'bottlerocket-admin']) {
        expect(allows(arns, pulledFrom(region, repository)), `${region} ${repository}`).toBe(true);
      }
    }
  });

  it('cover a region missing from the map, which pulls from us-east-1\'s registry', () => {
    const arns = hostContainerRepositoryArns('aws');

    expect(BOTTLEROCKET_ECR_ACCOUNTS['xx-newregion-1']).toBeUndefined();
    expect(allows(arns, pulledFrom('xx-newregion-1', 'bottlerocket-control'))).toBe(true);
  });

  it('allow no other repository and no other account', () => {
    const arns = hostContainerRepositoryArns('aws');

    expect(arns).toHaveLength(bottlerocketEcrAccounts().length * 2);
    expect(allows(arns, 'arn:aws:ecr:us-west-2:328549459982:repository/bottlerocket-control-extra')).toBe(false);
    expect(allows(arns, 'arn:aws:ecr:us-west-2:328549459982:repository/other')).toBe(false);
    expect(allows(arns, 'arn:aws:ecr:us-west-2:111122223333:repository/bottlerocket-control')).toBe(false);
  });

  it('are written in the given partition', () => {
    expect(hostContainerRepositoryArns('aws-cn').every((arn) => arn.startsWith('arn:aws-cn:ecr:*:'))).toBe(true);
    expect(allows(hostContainerRepositoryArns('aws-cn'), pulledFrom('cn-north-1', 'bottlerocket-admin', 'aws-cn'))).toBe(true);
  });
});
