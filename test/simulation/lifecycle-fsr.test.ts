/**
 * Fast Snapshot Restore (issue 10), in the simulation: the real state machine and handlers, simulated AWS with FSR's
 * states per zone, its timings and its quota (simulation/aws/ec2-fast-snapshot-restore.ts), IAM evaluated on every
 * request, virtual time. FSR is on in every zone before the snapshot becomes current, and off on the superseded one
 * once the new one is; a refused or too slow FSR fails the build and leaves nothing billing.
 */
import { describe, expect, it } from 'vitest';
import { NO_LEFTOVERS } from '../../simulation/after-execution';
import { createSimulatedAccount, type SimulatedAccount } from '../../simulation/aws/account';
import { runSimulation } from '../../simulation/run-state-machine';
import { SimulatedRegistries } from '../../simulation/registries';

const NGINX = 'public.ecr.aws/docker/library/nginx:1.27';
const ZONES = ['us-west-2a', 'us-west-2b'];
/** With FSR the build's waits must fit the 4-hour default execution limit: a shorter snapshot wait leaves room. */
const LIMITS = { snapshotSeconds: 3600 };

interface Output {
  status: string;
  snapshots: { snapshotId: string }[];
  fastSnapshotRestore: { disabled: { snapshotId: string; availabilityZones: string[] }[]; kept: unknown[] };
}

const setUp = () => {
  const account = createSimulatedAccount();
  const registries = new SimulatedRegistries();
  registries.push(NGINX, { seed: 'nginx-1' });
  return { account, registries };
};

const build = (account: SimulatedAccount, registries: SimulatedRegistries, executionName: string, input: Record<string, unknown>, startTime?: number) =>
  runSimulation({ input: { images: [NGINX], architectures: ['x86_64'], limits: LIMITS, ...input }, account, registries, executionName, startTime });

const currentSnapshot = (account: SimulatedAccount, recipe: string) => account.parameters.parameters.get(`/snapshot-factory/${recipe}/x86_64/snapshot-id`)?.Value;

/** When the snapshot-id parameter was written with `snapshotId`: the moment it became current. */
const publishedAt = (account: SimulatedAccount, recipe: string, snapshotId: string) =>
  account.core
    .callsOf('ssm', 'PutParameter')
    .find((call) => !call.error && (call.input as { Name: string; Value: string }).Name === `/snapshot-factory/${recipe}/x86_64/snapshot-id` && (call.input as { Value: string }).Value === snapshotId)!.at;

describe('Fast Snapshot Restore', () => {
  it('is enabled in every zone before the snapshot becomes current, and disabled on the superseded snapshot once the next one is', async () => {
    // Prepare
    const { account, registries } = setUp();

    // Act: the first build, then a rebuild after the image changed.
    const first = await build(account, registries, 'fsr-1', { recipe: 'web', fastSnapshotRestore: { availabilityZones: ZONES } });
    const firstSnapshot = currentSnapshot(account, 'web')!;
    registries.push(NGINX, { seed: 'nginx-2' });
    const second = await build(account, registries, 'fsr-2', { recipe: 'web', fastSnapshotRestore: { availabilityZones: ZONES } }, first.endedAt + 3_600_000);
    const secondSnapshot = currentSnapshot(account, 'web')!;

    // Assess: each snapshot was enabled in both zones when its parameter was written.
    expect(first.status, first.cause).toBe('SUCCEEDED');
    expect(second.status, second.cause).toBe('SUCCEEDED');
    expect(secondSnapshot).not.toBe(firstSnapshot);
    for (const [snapshotId, at] of [
      [firstSnapshot, publishedAt(account, 'web', firstSnapshot)],
      [secondSnapshot, publishedAt(account, 'web', secondSnapshot)],
    ] as const) {
      expect(ZONES.map((zone) => account.fastSnapshotRestore.stateAt(snapshotId, zone, at))).toEqual(['enabled', 'enabled']);
    }
    // The superseded snapshot's FSR is off in both zones; the current one's is still on.
    expect((second.output as Output).fastSnapshotRestore.disabled).toEqual([{ snapshotId: firstSnapshot, availabilityZones: ZONES }]);
    expect(account.fastSnapshotRestore.activeRestores()).toEqual(ZONES.map((availabilityZone) => ({ snapshotId: secondSnapshot, availabilityZone, state: 'enabled' })));
    expect(second.leftovers).toEqual(NO_LEFTOVERS);
    // FSR waited in its own loop after the builder was gone, polling on the check's schedule.
    expect(second.invocationsByFunction['check-fast-snapshot-restore']).toBeGreaterThan(1);
  });

  it('a build without zones never calls FSR', async () => {
    // Prepare
    const { account, registries } = setUp();

    // Act
    const report = await build(account, registries, 'no-fsr', { recipe: 'plain' });

    // Assess
    expect(report.status, report.cause).toBe('SUCCEEDED');
    expect(account.core.callsOf('ec2', 'EnableFastSnapshotRestores')).toEqual([]);
    expect((report.output as Output).fastSnapshotRestore).toEqual({ disabled: [], kept: [] });
  });

  it('fails when the Region has no FSR slot left: a clear error naming the zones, the new snapshot deleted, nothing left billing', async () => {
    // Prepare: the quota lowered to one snapshot, held by another recipe's current snapshot.
    const { account, registries } = setUp();
    account.fastSnapshotRestore.quota = 1;
    const holder = await build(account, registries, 'holder', { recipe: 'holder', fastSnapshotRestore: { availabilityZones: ['us-west-2a'] } });
    expect(holder.status, holder.cause).toBe('SUCCEEDED');

    // Act
    const report = await build(account, registries, 'over-quota', { recipe: 'web', fastSnapshotRestore: { availabilityZones: ZONES } }, holder.endedAt + 3_600_000);

    // Assess
    expect({ status: report.status, error: report.error }).toEqual({ status: 'FAILED', error: 'FastSnapshotRestoreFailedError' });
    expect(report.cause).toContain('us-west-2a: Client.FastSnapshotRestoreLimitExceeded');
    expect(report.cause).toContain('us-west-2b: Client.FastSnapshotRestoreLimitExceeded');
    expect(currentSnapshot(account, 'web')).toBeUndefined();
    const created = account.core.callsOf('ec2', 'CreateSnapshot').length;
    expect(account.ec2.liveSnapshots().map((s) => s.SnapshotId)).toEqual([currentSnapshot(account, 'holder')]);
    expect(created).toBe(2);
    expect(report.leftovers).toEqual(NO_LEFTOVERS);
  });

  it('fails when FSR is not enabled within limits.fastSnapshotRestoreSeconds: cleanup turns FSR off before deleting the snapshot', async () => {
    // Prepare: 100 GiB optimize in about 6 minutes at AWS's rate; the limit is 5.
    const { account, registries } = setUp();

    // Act
    const report = await build(account, registries, 'fsr-slow', {
      recipe: 'web',
      fastSnapshotRestore: { availabilityZones: ZONES },
      limits: { ...LIMITS, fastSnapshotRestoreSeconds: 300 },
    });

    // Assess
    expect({ status: report.status, error: report.error }).toEqual({ status: 'FAILED', error: 'FastSnapshotRestoreTimeoutError' });
    expect(report.cause).toContain('limits.fastSnapshotRestoreSeconds');
    const [snapshot] = account.core.callsOf('ec2', 'CreateSnapshot');
    expect(snapshot).toBeDefined();
    const disabled = account.core.callsOf('ec2', 'DisableFastSnapshotRestores').filter((call) => !call.error);
    const deleted = account.core.callsOf('ec2', 'DeleteSnapshot').filter((call) => !call.error);
    expect(disabled.length).toBeGreaterThan(0);
    expect(deleted.length).toBeGreaterThan(0);
    expect(disabled[0]!.at).toBeLessThanOrEqual(deleted[0]!.at);
    expect(report.cause).toMatch(/fast snapshot restore off on snap-[0-9a-f]+ in us-west-2a, snap-[0-9a-f]+ in us-west-2b/);
    expect(report.leftovers).toEqual(NO_LEFTOVERS);
  });
});
