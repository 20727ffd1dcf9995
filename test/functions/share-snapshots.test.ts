/**
 * share-snapshots against the simulated EC2 of two regions (simulation/aws/regions.ts): the home snapshot and each
 * cross-region copy get createVolumePermission for the configured accounts, each in its own region, once.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { handler } from '../../functions/share-snapshots';
import { DEFAULT_PLAN_LIFECYCLE } from '../../functions/lib/lifecycle-settings';
import { createSimulatedAccount, type SimulatedAccount } from '../../simulation/aws/account';
import { installSimulatedAws } from '../../simulation/aws/install';
import { regionOf } from '../../simulation/aws/regions';
import { seedSnapshot } from './seed-snapshot';

const HOME_SNAP = 'snap-0123456789abcdef0';
const COPY_SNAP = 'snap-0123456789abcdef1';
const COPY_REGION = 'eu-west-1';
const TEAM = '222233334444';

describe('share-snapshots', () => {
  let account: SimulatedAccount;
  let restore: () => void;
  beforeEach(() => {
    account = createSimulatedAccount();
    restore = installSimulatedAws(account.core, (region) => regionOf(account, region).core);
  });
  afterEach(() => restore());

  it('shares the home snapshot and each cross-region copy in its own region, and adds nothing twice on a retry', async () => {
    // Prepare
    const home = account.core.region;
    const copyRegion = regionOf(account, COPY_REGION);
    seedSnapshot(account, HOME_SNAP, { Encrypted: true, KmsKeyId: `arn:aws:kms:${home}:${account.core.accountId}:key/1234abcd-12ab-34cd-56ef-1234567890ab` });
    seedSnapshot(copyRegion, COPY_SNAP, { Encrypted: true, KmsKeyId: `arn:aws:kms:${COPY_REGION}:${account.core.accountId}:key/1234abcd-12ab-34cd-56ef-1234567890ab` });
    const input = {
      plan: { recipe: 'ml', lifecycle: { ...DEFAULT_PLAN_LIFECYCLE, sharing: { accountIds: [TEAM] } } },
      builds: [{ snapshotId: HOME_SNAP, copies: [{ region: COPY_REGION, snapshotId: COPY_SNAP }] }],
    };

    // Act
    const first = await handler(input);
    const retry = await handler(input);

    // Assess
    expect(account.snapshotSharing.sharedWith(HOME_SNAP)).toEqual([TEAM]);
    expect(copyRegion.snapshotSharing.sharedWith(COPY_SNAP)).toEqual([TEAM]);
    expect(first.granted).toEqual([
      { region: expect.any(String), snapshotId: HOME_SNAP, accountIds: [TEAM] },
      { region: COPY_REGION, snapshotId: COPY_SNAP, accountIds: [TEAM] },
    ]);
    expect(retry.granted.map((g) => g.accountIds)).toEqual([[], []]);
  });
});
