/**
 * Retention (issue 10) in the simulation: the real state machine and handlers, simulated AWS with IAM evaluated on
 * every request, virtual time. A recipe rebuilt with new digests keeps its current snapshot and the newest
 * superseded ones per architecture and loses the older ones; a dry run deletes nothing and says what it would;
 * pinned and AMI-used snapshots are kept.
 */
import { describe, expect, it } from 'vitest';
import { NO_LEFTOVERS } from '../../simulation/after-execution';
import { createSimulatedAccount, type SimulatedAccount } from '../../simulation/aws/account';
import { SimulatedRegistries } from '../../simulation/registries';
import { runSimulation, type SimulationReport } from '../../simulation/run-state-machine';
import type { RetentionReport } from '../../functions/apply-retention';

const NGINX = 'public.ecr.aws/docker/library/nginx:1.27';
const RECIPE = 'retained';

interface Output {
  status: string;
  snapshots: { snapshotId: string }[];
  retention: RetentionReport;
}

const setUp = () => ({ account: createSimulatedAccount(), registries: new SimulatedRegistries() });

/** Builds the recipe `times` times, each with a new digest behind the tag; returns each run's report and snapshot. */
const buildTimes = async (account: SimulatedAccount, registries: SimulatedRegistries, times: number, retention?: Record<string, unknown>, from = 1) => {
  const runs: { report: SimulationReport; snapshotId: string }[] = [];
  for (let n = from; n < from + times; n += 1) {
    registries.push(NGINX, { seed: `nginx-build-${n}` });
    const report = await runSimulation({
      input: { recipe: RECIPE, images: [NGINX], architectures: ['x86_64'], ...(retention ? { retention } : {}) },
      account,
      registries,
      executionName: `retained-build-${n}`,
    });
    expect(report.status, `${report.error}: ${report.cause}`).toBe('SUCCEEDED');
    runs.push({ report, snapshotId: (report.output as Output).snapshots[0]!.snapshotId });
  }
  return runs;
};

const liveFactorySnapshots = (account: SimulatedAccount) =>
  account.ec2
    .liveSnapshots()
    .filter((s) => s.Tags.some((t) => t.Key === 'snapshot-factory:recipe' && t.Value === RECIPE))
    .map((s) => s.SnapshotId)
    .sort();
const current = (account: SimulatedAccount) => account.parameters.parameters.get(`/snapshot-factory/${RECIPE}/x86_64/snapshot-id`)?.Value;
const retentionOf = (report: SimulationReport) => (report.output as Output).retention;

describe('retention of superseded snapshots, in the simulation', () => {
  it('keeps the current snapshot and one superseded one with keepSuperseded 1 after three builds', async () => {
    // Prepare
    const { account, registries } = setUp();
    // Act
    const runs = await buildTimes(account, registries, 3, { keepSuperseded: 1 });
    // Assess
    const [first, second, third] = runs.map((r) => r.snapshotId);
    expect(current(account)).toBe(third);
    expect(liveFactorySnapshots(account)).toEqual([second, third].sort());
    expect(retentionOf(runs[2]!.report)).toMatchObject({
      keepSuperseded: 1,
      dryRun: false,
      regions: [{ region: 'us-west-2', deletedSnapshotIds: [first], revoked: [], failures: [] }],
    });
    expect(retentionOf(runs[2]!.report).regions[0]!.kept).toEqual(
      expect.arrayContaining([
        { snapshotId: third, architecture: 'x86_64', reason: 'current' },
        { snapshotId: second, architecture: 'x86_64', reason: 'recent' },
      ]),
    );
    expect(runs[2]!.report.leftovers).toEqual(NO_LEFTOVERS);
    expect(account.core.callsOf('ec2', 'DeleteSnapshot').map((c) => (c.input as { SnapshotId: string }).SnapshotId)).toEqual([first]);
  }, 120_000);

  it('keeps the current snapshot and two superseded ones by default, deleting the fourth-newest', async () => {
    // Prepare
    const { account, registries } = setUp();
    // Act
    const runs = await buildTimes(account, registries, 4);
    // Assess
    const ids = runs.map((r) => r.snapshotId);
    expect(liveFactorySnapshots(account)).toEqual(ids.slice(1).sort());
    expect(retentionOf(runs[2]!.report).regions[0]!.deletedSnapshotIds).toEqual([]);
    expect(retentionOf(runs[3]!.report)).toMatchObject({ keepSuperseded: 2, regions: [{ deletedSnapshotIds: [ids[0]] }] });
  }, 180_000);

  it('deletes nothing in a dry run and reports what it would delete', async () => {
    // Prepare
    const { account, registries } = setUp();
    // Act
    const runs = await buildTimes(account, registries, 3, { keepSuperseded: 0, dryRun: true });
    // Assess
    const [first, second, third] = runs.map((r) => r.snapshotId);
    expect(liveFactorySnapshots(account)).toEqual([first, second, third].sort());
    expect(retentionOf(runs[2]!.report)).toMatchObject({ dryRun: true, regions: [{ deletedSnapshotIds: [first, second] }] });
    expect(account.core.callsOf('ec2', 'DeleteSnapshot')).toEqual([]);
  }, 120_000);

  it('keeps a pinned snapshot, and one an AMI uses, whatever keepSuperseded says', async () => {
    // Prepare
    const { account, registries } = setUp();
    const [first, second] = (await buildTimes(account, registries, 2, { keepSuperseded: 1 })).map((r) => r.snapshotId);
    account.snapshotSharing.registerImageUsing(second!);
    // Act
    const [third] = (await buildTimes(account, registries, 1, { keepSuperseded: 0, pinnedSnapshotIds: [first] }, 3)).map((r) => r.snapshotId);
    // Assess
    expect(liveFactorySnapshots(account)).toEqual([first, second, third].sort());
    const kept = Object.fromEntries(account.core.callsOf('ec2', 'DeleteSnapshot').map((c) => [(c.input as { SnapshotId: string }).SnapshotId, c.error]));
    expect(kept).toEqual({ [second!]: 'InvalidSnapshot.InUse' });
  }, 120_000);
});
