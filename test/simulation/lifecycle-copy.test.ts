/**
 * Cross-region copies (issue 10) in the simulation, deployed with `copies: [{ region: eu-west-1 }]`: the real state
 * machine and handlers, a simulated account with a second region (simulation/aws/regions.ts) and CopySnapshot with
 * progress and AWS's quota (simulation/aws/ec2-copy-snapshot.ts), IAM evaluated in each region. The copy is published
 * in its region (parameters and a Snapshot Ready event there) and retention applies there; a failed copy fails the
 * build, and cleanup deletes the copy and the source.
 *
 * No `kmsKeyArn` on the copy: the simulated IAM denies every KMS action on a customer managed key without a key
 * policy (see test/simulation/lifecycle-sharing.test.ts), so the copy uses the region's aws/ebs key.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { NO_LEFTOVERS } from '../../simulation/after-execution';
import { createSimulatedAccount, type SimulatedAccount } from '../../simulation/aws/account';
import { regionOf } from '../../simulation/aws/regions';
import { deploy, type Deployment } from '../../simulation/deploy/deployment';
import { SimulatedRegistries } from '../../simulation/registries';
import { runSimulation } from '../../simulation/run-state-machine';
import { synthesizeWith } from './synthesize-with';

const NGINX = 'public.ecr.aws/docker/library/nginx:1.27';
const RECIPE = 'copied';
const COPY_REGION = 'eu-west-1';
/** The copy wait must fit the 4-hour default execution limit with the other waits: shorter snapshot and copy waits leave room. */
const LIMITS = { snapshotSeconds: 3600, copySeconds: 1800 };

let deployment: Deployment;


beforeAll(() => {
  deployment = deploy(synthesizeWith({ copies: [{ region: COPY_REGION }] }));
});

const build = (account: SimulatedAccount, registries: SimulatedRegistries, n: number, startTime?: number, extra: Record<string, unknown> = {}) => {
  registries.push(NGINX, { seed: `nginx-copied-${n}` });
  return runSimulation({
    input: { recipe: RECIPE, images: [NGINX], architectures: ['x86_64'], limits: LIMITS, retention: { keepSuperseded: 0 }, ...extra },
    account,
    registries,
    executionName: `copy-build-${n}`,
    transformDeployment: () => structuredClone(deployment),
    ...(startTime !== undefined ? { startTime } : {}),
  });
};

interface Output {
  snapshots: { snapshotId: string; copies: { region: string; snapshotId: string; eventId?: string }[] }[];
  regions: string[];
  retention: { regions: { region: string; deletedSnapshotIds: string[] }[] };
}

describe('cross-region copies, in the simulation', () => {
  it('publishes a copy in the second region (parameters and event there) and applies retention there too', async () => {
    // Prepare
    const account = createSimulatedAccount();
    const registries = new SimulatedRegistries();

    // Act: two builds of the recipe, keeping no superseded snapshot.
    const first = await build(account, registries, 1);
    const second = await build(account, registries, 2, first.endedAt + 3_600_000);

    // Assess
    expect(first.status, `${first.error}: ${first.cause}`).toBe('SUCCEEDED');
    expect(second.status, `${second.error}: ${second.cause}`).toBe('SUCCEEDED');
    const europe = regionOf(account, COPY_REGION);
    const [firstCopy, secondCopy] = [first, second].map((r) => (r.output as Output).snapshots[0]!.copies[0]!);
    expect(secondCopy!.region).toBe(COPY_REGION);
    // The region's own parameter names the copy; the home one names the source.
    expect(europe.parameters.parameters.get(`/snapshot-factory/${RECIPE}/x86_64/snapshot-id`)?.Value).toBe(secondCopy!.snapshotId);
    expect(account.parameters.parameters.get(`/snapshot-factory/${RECIPE}/x86_64/snapshot-id`)?.Value).toBe((second.output as Output).snapshots[0]!.snapshotId);
    // One Snapshot Ready event per build on the region's bus, naming the copy.
    const events = europe.core.callsOf('events', 'PutEvents').filter((c) => !c.error).flatMap((c) => (c.input as { Entries: { Detail: string }[] }).Entries);
    expect(events.map((e) => (JSON.parse(e.Detail) as { snapshotId: string }).snapshotId)).toEqual([firstCopy!.snapshotId, secondCopy!.snapshotId]);
    // Retention ran in both regions: the first copy is gone from eu-west-1, the second is kept.
    expect((second.output as Output).regions).toEqual([account.core.region, COPY_REGION]);
    const retained = (second.output as Output).retention.regions.find((r) => r.region === COPY_REGION)!;
    expect(retained.deletedSnapshotIds).toEqual([firstCopy!.snapshotId]);
    expect(europe.ec2.snapshots.get(firstCopy!.snapshotId)!.deleted).toBe(true);
    expect(europe.ec2.snapshots.get(secondCopy!.snapshotId)!.deleted).toBe(false);
    expect(second.leftovers).toEqual(NO_LEFTOVERS);
  });

  it('fails the build with SnapshotCopyFailedError when the copy fails, and cleans up the copy and the source', async () => {
    // Prepare
    const account = createSimulatedAccount();
    const registries = new SimulatedRegistries();
    regionOf(account, COPY_REGION).snapshotCopies.copyWillFail('Copy failed: simulated');

    // Act
    const report = await build(account, registries, 3);

    // Assess
    expect(report.status).toBe('FAILED');
    expect(report.error).toBe('SnapshotCopyFailedError');
    expect(report.cause).toContain('Copy failed: simulated');
    const europe = regionOf(account, COPY_REGION);
    expect(europe.ec2.liveSnapshots()).toEqual([]);
    expect(account.ec2.liveSnapshots()).toEqual([]);
    expect(report.leftovers).toEqual(NO_LEFTOVERS);
  });

  it('fails with AccessDeniedError when an execution names a copy region the settings do not, as IAM would, leaving nothing', async () => {
    // Prepare
    const account = createSimulatedAccount();
    const registries = new SimulatedRegistries();

    // Act
    const report = await build(account, registries, 4, undefined, { copies: [{ region: 'ap-south-1' }] });

    // Assess: the copy was refused in ap-south-1 (the policies name eu-west-1 only); the source was cleaned up.
    expect(report.status).toBe('FAILED');
    expect(report.error).toBe('AccessDeniedError');
    expect(regionOf(account, 'ap-south-1').core.callsOf('ec2', 'CopySnapshot').map((c) => c.error)).toEqual(['UnauthorizedOperation']);
    expect(account.ec2.liveSnapshots()).toEqual([]);
    expect(report.leftovers).toEqual(NO_LEFTOVERS);
  });
});
