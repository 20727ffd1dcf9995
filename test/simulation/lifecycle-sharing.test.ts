/**
 * Sharing (issue 10) in the simulation, deployed with `sharing` and unencrypted volumes: createVolumePermission is granted to the configured accounts before the snapshot is announced, withdrawn
 * from kept snapshots when an account is no longer configured, and gone with a pruned snapshot. IAM allows adding
 * only the accounts the settings name.
 *
 * Unencrypted rather than with `kmsKeyArn` (what a real deployment that shares uses): the simulated IAM evaluates
 * identity policies only, and @cloud-copilot/iam-simulate denies every KMS action on a customer managed key that has
 * no key policy, so a build with kmsKeyArn cannot launch in the simulation yet. The key rule itself (the default
 * aws/ebs key cannot be shared) is checked by simulation/aws/ec2-snapshot-sharing.ts and at synth (test/infra).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { createSimulatedAccount, type SimulatedAccount } from '../../simulation/aws/account';
import { deploy, type Deployment } from '../../simulation/deploy/deployment';
import { SimulatedRegistries } from '../../simulation/registries';
import { runSimulation } from '../../simulation/run-state-machine';
import { synthesizeWith } from './synthesize-with';

const NGINX = 'public.ecr.aws/docker/library/nginx:1.27';
const RECIPE = 'shared';
const TEAM_A = '222233334444';
const TEAM_B = '333344445555';

let deployment: Deployment;


beforeAll(() => {
  deployment = deploy(synthesizeWith({ dataVolume: { encrypted: false }, sharing: { accountIds: [TEAM_A, TEAM_B] } }));
});

const build = async (account: SimulatedAccount, registries: SimulatedRegistries, n: number, extra: Record<string, unknown> = {}) => {
  registries.push(NGINX, { seed: `nginx-shared-${n}` });
  return runSimulation({
    input: { recipe: RECIPE, images: [NGINX], architectures: ['x86_64'], ...extra },
    account,
    registries,
    executionName: `shared-build-${n}`,
    transformDeployment: () => structuredClone(deployment),
  });
};
const snapshotOf = (report: { output?: unknown }) => (report.output as { snapshots: { snapshotId: string }[] }).snapshots[0]!.snapshotId;

describe('sharing published snapshots, in the simulation', () => {
  it('grants createVolumePermission to every configured account before the Snapshot Ready event', async () => {
    // Prepare
    const account = createSimulatedAccount();
    const registries = new SimulatedRegistries();
    // Act
    const report = await build(account, registries, 1);
    // Assess
    expect(report.status, `${report.error}: ${report.cause}`).toBe('SUCCEEDED');
    const snapshotId = snapshotOf(report);
    expect(account.snapshotSharing.sharedWith(snapshotId)).toEqual([TEAM_A, TEAM_B]);
    const order = account.core.calls.filter((c) => ['ModifySnapshotAttribute', 'PutEvents'].includes(c.operation)).map((c) => c.operation);
    expect(order).toEqual(['ModifySnapshotAttribute', 'ModifySnapshotAttribute', 'PutEvents']);
    const entered = report.events.filter((e) => e.type === 'StateEntered').map((e) => e.state);
    expect(entered.slice(-4)).toEqual(['ShareSnapshots', 'PublishSnapshot', 'DisableSupersededFastSnapshotRestore', 'ApplyRetention']);
  }, 180_000);

  it('withdraws an account no longer configured from the kept snapshot, and the pruned one keeps no permission', async () => {
    // Prepare
    const account = createSimulatedAccount();
    const registries = new SimulatedRegistries();
    const first = snapshotOf(await build(account, registries, 1));
    // Act
    const second = await build(account, registries, 2, { sharing: { accountIds: [TEAM_A] } });
    const afterSecond = { first: account.snapshotSharing.sharedWith(first), second: account.snapshotSharing.sharedWith(snapshotOf(second)) };
    const third = await build(account, registries, 3, { sharing: { accountIds: [TEAM_A] }, retention: { keepSuperseded: 0 } });
    // Assess
    expect(second.status).toBe('SUCCEEDED');
    expect(afterSecond).toEqual({ first: [TEAM_A], second: [TEAM_A] });
    expect((second.output as { retention: { regions: { revoked: unknown[] }[] } }).retention.regions[0]!.revoked).toEqual([{ snapshotId: first, accountIds: [TEAM_B] }]);
    expect(third.status).toBe('SUCCEEDED');
    expect(account.ec2.snapshots.get(first)!.deleted).toBe(true);
    expect(account.ec2.snapshots.get(snapshotOf(second))!.deleted).toBe(true);
    expect(account.snapshotSharing.sharedWith(first)).toEqual([]);
    expect(account.snapshotSharing.sharedWith(snapshotOf(third))).toEqual([TEAM_A]);
  }, 180_000);

  it('fails before publishing when an execution shares with an account no setting names (IAM allows only those)', async () => {
    // Prepare
    const account = createSimulatedAccount();
    const registries = new SimulatedRegistries();
    // Act
    const report = await build(account, registries, 1, { sharing: { accountIds: ['444455556666'] } });
    // Assess
    expect(report.status).toBe('FAILED');
    expect(report.error).toBe('AccessDeniedError');
    expect(report.cause).toMatch(/ec2:ModifySnapshotAttribute/);
    expect(account.events.ofType('Snapshot Ready')).toEqual([]);
    expect(account.parameters.parameters.get(`/snapshot-factory/${RECIPE}/x86_64/snapshot-id`)).toBeUndefined();
  }, 180_000);
});
