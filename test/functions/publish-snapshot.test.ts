import { DeleteSnapshotCommand } from '@aws-sdk/client-ec2';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ec2 } from '../../functions/lib/clients/ec2';
import { digestSetParameterName, snapshotIdParameterName, decodeDigestRecord } from '../../functions/lib/current-snapshot';
import { useRegistryLookup } from '../../functions/lib/digests';
import { handler as prepareBuild, type BuildPlan } from '../../functions/prepare-build';
import { handler as publishSnapshot, readyEvent, type PublishOutput } from '../../functions/publish-snapshot';
import { createSimulatedAccount, type SimulatedAccount } from '../../simulation/aws/account';
import { FAULTS } from '../../simulation/aws/core';
import { installSimulatedAws } from '../../simulation/aws/install';
import { SimulatedRegistries } from '../../simulation/registries';

const NGINX = 'public.ecr.aws/nginx/nginx:1.27';
const PYTHON = 'docker.io/library/python:3.12';

let account: SimulatedAccount;
let registries: SimulatedRegistries;
let restore: (() => void)[] = [];
let snapshots = 0;

/** A completed snapshot in the simulated EC2, as check-snapshot would leave it. */
const seedSnapshot = (): string => {
  snapshots += 1;
  const id = `snap-${snapshots.toString(16).padStart(17, '0')}`;
  account.ec2.snapshots.set(id, {
    SnapshotId: id,
    VolumeId: 'vol-00000000000000001',
    VolumeSize: 40,
    Description: 'test',
    Encrypted: true,
    StartTime: new Date(Date.now()),
    Tags: [],
    durationMs: 0,
    neverFinish: false,
    deleted: false,
  });
  return id;
};

const prepare = async (input: Record<string, unknown>, executionName = 'exec-1'): Promise<BuildPlan> =>
  (await prepareBuild({ executionName, input })) as BuildPlan;

/** The Map's output for a plan: one completed build per planned build (BuildResult carries no images). */
const completedBuilds = (plan: BuildPlan) =>
  plan.builds.map((build) => ({
    architecture: build.architecture,
    platforms: build.platforms,
    snapshotId: seedSnapshot(),
    volumeSizeGiB: 40,
    timings: { launchedAt: '2026-11-24T03:00:00.000Z', ssmOnlineAt: '2026-11-24T03:01:00.000Z', snapshotCompletedAt: '2026-11-24T03:09:30.000Z' },
  }));

beforeEach(() => {
  vi.useFakeTimers({ now: new Date('2026-11-24T03:10:00Z') });
  account = createSimulatedAccount();
  registries = new SimulatedRegistries();
  registries.push(NGINX);
  registries.push(PYTHON);
  restore = [installSimulatedAws(account.core), useRegistryLookup(registries.lookup)];
});

afterEach(() => {
  for (const undo of restore) undo();
  vi.useRealTimers();
});

describe('publish-snapshot', () => {
  it('writes the current snapshot and its digest set per architecture, tags the snapshot and announces it', async () => {
    // Prepare
    const plan = await prepare({ recipe: 'web', images: [NGINX, PYTHON], architectures: ['x86_64', 'arm64'] });
    const builds = completedBuilds(plan);
    // Act
    const output = (await publishSnapshot({ plan, builds })) as PublishOutput;
    // Assess
    expect(output).toMatchObject({ status: 'BUILT', recipe: 'web', executionName: 'exec-1' });
    for (const [index, architecture] of (['x86_64', 'arm64'] as const).entries()) {
      const snapshotId = builds[index]!.snapshotId;
      expect(account.parameters.parameters.get(snapshotIdParameterName('web', architecture))?.Value).toBe(snapshotId);
      const record = decodeDigestRecord(account.parameters.parameters.get(digestSetParameterName('web', architecture))?.Value);
      expect(record).toMatchObject({ snapshotId, digestSet: plan.builds[index]!.digestSet, imageCount: 2 });
      expect(account.ec2.snapshots.get(snapshotId)?.Tags).toContainEqual({ Key: 'snapshot-factory:digest-set', Value: plan.builds[index]!.digestSet });
    }
    const events = account.events.ofType('Snapshot Ready');
    expect(events.map((e) => e.source)).toEqual(['snapshot-factory', 'snapshot-factory']);
    expect(events[0]?.detail).toMatchObject({ recipe: 'web', architecture: 'x86_64', snapshotId: builds[0]!.snapshotId, images: expect.arrayContaining([expect.objectContaining({ reference: NGINX, platform: 'linux/amd64' })]) });
    expect(output.snapshots[0]?.durationsSeconds).toEqual({ launchedAt: 0, ssmOnlineAt: 60, snapshotCompletedAt: 570, total: 570 });
  });

  it("publishes the plan's images with each platform's digest, the ones the builder was verified to pull", async () => {
    // Prepare: NGINX is a multi-platform index in the simulated registry, so each platform has its own manifest.
    const plan = await prepare({ recipe: 'web', images: [NGINX], layout: 'combined', architectures: ['x86_64', 'arm64'] });
    const [image] = plan.common.images;
    // Act
    const output = (await publishSnapshot({ plan, builds: completedBuilds(plan) })) as PublishOutput;
    // Assess
    expect(image?.platformDigests?.['linux/amd64']).toMatch(/^sha256:/);
    expect(plan.builds[0]).not.toHaveProperty('images');
    expect(plan.builds[0]).not.toHaveProperty('platformDigests');
    expect(output.snapshots[0]?.images).toEqual([
      { reference: NGINX, platform: 'linux/amd64', digest: image!.platformDigests!['linux/amd64'] },
      { reference: NGINX, platform: 'linux/arm64', digest: image!.platformDigests!['linux/arm64'] },
    ]);
  });

  it('fails when the plan holds an image without a resolved digest', async () => {
    // Prepare
    const plan = await prepare({ recipe: 'web', images: [NGINX], architectures: ['x86_64'] });
    const unresolved = { ...plan, common: { images: [{ reference: NGINX }] } };
    // Act / Assess
    await expect(publishSnapshot({ plan: unresolved, builds: completedBuilds(plan) })).rejects.toMatchObject({
      name: 'InvalidInputError',
      message: expect.stringContaining(`${NGINX} has no resolved digest for linux/amd64`),
    });
  });

  it('publishes a combined-layout snapshot under every architecture it serves', async () => {
    const plan = await prepare({ recipe: 'both', images: [NGINX], layout: 'combined', architectures: ['x86_64', 'arm64'] });
    const builds = completedBuilds(plan);

    const output = (await publishSnapshot({ plan, builds })) as PublishOutput;

    expect(output.snapshots).toHaveLength(1);
    expect(output.snapshots[0]?.servesArchitectures.sort()).toEqual(['arm64', 'x86_64']);
    expect(account.parameters.parameters.get('/snapshot-factory/both/arm64/snapshot-id')?.Value).toBe(builds[0]!.snapshotId);
    expect(account.parameters.parameters.get('/snapshot-factory/both/x86_64/snapshot-id')?.Value).toBe(builds[0]!.snapshotId);
  });

  it.each([
    { count: 3, tier: 'Intelligent-Tiering', listed: true },
    { count: 40, tier: 'Advanced', listed: true },
    { count: 100, tier: 'Intelligent-Tiering', listed: false },
  ])('keeps the digest record of $count images within Parameter Store limits ($tier)', async ({ count, tier, listed }) => {
    const many = Array.from({ length: count }, (_, i) => `ghcr.io/example-organisation/a-rather-long-image-name-${i}:v1.2.3`);
    for (const reference of many) registries.push(reference);
    const plan = await prepare({ recipe: 'many', images: many, architectures: ['x86_64'] });

    await publishSnapshot({ plan, builds: completedBuilds(plan) });

    const put = account.core.callsOf('ssm', 'PutParameter').map((c) => c.input as { Name: string; Tier: string; Value: string });
    const digestParameter = put.find((p) => p.Name === digestSetParameterName('many', 'x86_64'))!;
    expect(digestParameter.Tier).toBe(tier);
    expect(Buffer.byteLength(digestParameter.Value)).toBeLessThanOrEqual(tier === 'Advanced' ? 8192 : 4096);
    const record = decodeDigestRecord(digestParameter.Value);
    expect(record).toMatchObject({ digestSet: plan.builds[0]!.digestSet, imageCount: count });
    expect(record?.images?.length).toBe(listed ? count : undefined);
  });

  it('leaves the image list out of an event that would exceed PutEvents 256 KB entry limit', () => {
    const images = Array.from({ length: 3000 }, (_, i) => ({ reference: `registry.example.com/team/image-${i}:tag`, platform: 'linux/amd64', digest: `sha256:${'c'.repeat(64)}` }));
    const entry = readyEvent('big', 'exec', { architecture: 'x86_64', servesArchitectures: ['x86_64'], platforms: ['linux/amd64'], snapshotId: 'snap-1', digestSet: 'sha256:x', parameters: [], resultParameters: [], images, timings: {}, durationsSeconds: {}, copies: [] });
    expect(Buffer.byteLength(entry.Detail!)).toBeLessThan(256 * 1024);
    expect(JSON.parse(entry.Detail!)).toMatchObject({ imageCount: 3000, imagesOmitted: true });
  });

  describe('with a result parameter (setting resultParameterName)', () => {
    afterEach(() => {
      vi.unstubAllEnvs();
    });

    it('writes each snapshot ID to the result parameter of its architecture, after the factory\'s own parameters', async () => {
      // Prepare
      vi.stubEnv('RESULT_PARAMETER_NAME', '/platform/bottlerocket/{recipe}/{architecture}/snapshot-id');
      const plan = await prepare({ recipe: 'web', images: [NGINX], architectures: ['x86_64', 'arm64'] });
      const builds = completedBuilds(plan);
      // Act
      const output = (await publishSnapshot({ plan, builds })) as PublishOutput;
      // Assess
      const written = account.parameters.parameters;
      expect(written.get('/platform/bottlerocket/web/x86_64/snapshot-id')).toMatchObject({ Value: builds[0]!.snapshotId, Type: 'String' });
      expect(written.get('/platform/bottlerocket/web/arm64/snapshot-id')).toMatchObject({ Value: builds[1]!.snapshotId, Type: 'String' });
      expect(output.snapshots.map((s) => s.resultParameters)).toEqual([['/platform/bottlerocket/web/x86_64/snapshot-id'], ['/platform/bottlerocket/web/arm64/snapshot-id']]);
      const names = account.core.callsOf('ssm', 'PutParameter').map((c) => (c.input as { Name: string }).Name);
      expect(names.indexOf('/platform/bottlerocket/web/x86_64/snapshot-id')).toBeGreaterThan(names.indexOf(snapshotIdParameterName('web', 'x86_64')));
    });

    it('overwrites a result parameter that already exists', async () => {
      vi.stubEnv('RESULT_PARAMETER_NAME', '/platform/{recipe}/snapshot-id');
      account.parameters.seed('/platform/web/snapshot-id', 'snap-0123456789abcdef0');
      const plan = await prepare({ recipe: 'web', images: [NGINX] });
      const builds = completedBuilds(plan);

      await publishSnapshot({ plan, builds });

      expect(account.parameters.parameters.get('/platform/web/snapshot-id')?.Value).toBe(builds[0]!.snapshotId);
    });

    it('writes a combined snapshot once to a name without {architecture}', async () => {
      vi.stubEnv('RESULT_PARAMETER_NAME', '/platform/{recipe}/snapshot-id');
      const plan = await prepare({ recipe: 'both', images: [NGINX], layout: 'combined', architectures: ['x86_64', 'arm64'] });
      const builds = completedBuilds(plan);

      const output = (await publishSnapshot({ plan, builds })) as PublishOutput;

      expect(account.parameters.parameters.get('/platform/both/snapshot-id')?.Value).toBe(builds[0]!.snapshotId);
      expect(account.core.callsOf('ssm', 'PutParameter').filter((c) => (c.input as { Name: string }).Name === '/platform/both/snapshot-id')).toHaveLength(1);
      expect(output.snapshots[0]?.resultParameters).toEqual(['/platform/both/snapshot-id']);
    });

    it('leaves a name two snapshots of the execution resolve to unwritten rather than overwrite one with the other', async () => {
      vi.stubEnv('RESULT_PARAMETER_NAME', '/platform/{recipe}/snapshot-id');
      const plan = await prepare({ recipe: 'web', images: [NGINX], architectures: ['x86_64', 'arm64'] });
      const builds = completedBuilds(plan);

      const output = (await publishSnapshot({ plan, builds })) as PublishOutput;

      expect(account.parameters.parameters.has('/platform/web/snapshot-id')).toBe(false);
      expect(output.snapshots.map((s) => s.resultParameters)).toEqual([[], []]);
      expect(account.parameters.parameters.get(snapshotIdParameterName('web', 'arm64'))?.Value).toBe(builds[1]!.snapshotId);
    });

    it('writes no result parameter when the setting is not set', async () => {
      vi.stubEnv('RESULT_PARAMETER_NAME', '');
      const plan = await prepare({ recipe: 'web', images: [NGINX], architectures: ['x86_64', 'arm64'] });

      const output = (await publishSnapshot({ plan, builds: completedBuilds(plan) })) as PublishOutput;

      const names = account.core.callsOf('ssm', 'PutParameter').map((c) => (c.input as { Name: string }).Name);
      expect(names.every((name) => name.startsWith('/snapshot-factory/web/'))).toBe(true);
      // Two architectures x (snapshot-id, digest-set); the digest-set record is written three times (its ledger).
      expect(new Set(names).size).toBe(4);
      expect(output.snapshots.map((s) => s.resultParameters)).toEqual([[], []]);
    });
  });

  it('fails with TransientAwsError when Parameter Store throttles', async () => {
    const plan = await prepare({ recipe: 'web', images: [NGINX] });
    account.core.inject(FAULTS.throttle('ssm', 'PutParameter', Infinity));

    await expect(publishSnapshot({ plan, builds: completedBuilds(plan) })).rejects.toMatchObject({ name: 'TransientAwsError', message: expect.stringMatching(/^publish-snapshot: ssm:PutParameter/) });
  });

  it('writes tags, the ledger, the snapshot-id parameter, the event, then the ledger complete, in that order', async () => {
    // Prepare
    const plan = await prepare({ recipe: 'web', images: [NGINX] });
    const builds = completedBuilds(plan);
    // Act
    const output = (await publishSnapshot({ plan, builds })) as PublishOutput;
    // Assess
    const steps = account.core.calls
      .filter((c) => ['CreateTags', 'PutParameter', 'PutEvents'].includes(c.operation))
      .map((c) => {
        if (c.operation !== 'PutParameter') return c.operation;
        const { Name, Value } = c.input as { Name: string; Value: string };
        return Name.endsWith('/digest-set') ? `ledger ${JSON.stringify(decodeDigestRecord(Value)?.pending)}` : 'snapshot-id';
      });
    expect(steps).toEqual(['CreateTags', 'ledger ["snapshot-id","result-parameters","event"]', 'snapshot-id', 'ledger ["event"]', 'PutEvents', 'ledger []']);
    const record = decodeDigestRecord(account.parameters.parameters.get(digestSetParameterName('web', 'x86_64'))?.Value);
    expect(record?.eventId).toBe(account.events.ofType('Snapshot Ready')[0]!.id);
    expect(output.snapshots[0]!.eventId).toBe(record?.eventId);
  });

  it('fails with AwsRequestError, naming the code and what was written, when PutEvents answers a terminal failed entry', async () => {
    // Prepare
    const plan = await prepare({ recipe: 'web', images: [NGINX] });
    const builds = completedBuilds(plan);
    account.events.failEntries('AccessDeniedException');
    // Act
    const failure = publishSnapshot({ plan, builds });
    // Assess
    await expect(failure).rejects.toMatchObject({
      name: 'AwsRequestError',
      message: expect.stringMatching(/AccessDeniedException.*\/snapshot-factory\/web\/x86_64\/snapshot-id = snap-.*REPUBLISH/),
    });
    expect(decodeDigestRecord(account.parameters.parameters.get(digestSetParameterName('web', 'x86_64'))?.Value)?.pending).toEqual(['event']);
  });

  it('fails with TransientAwsError when PutEvents answers ThrottlingException or InternalFailure entries', async () => {
    // Prepare
    const plan = await prepare({ recipe: 'web', images: [NGINX] });
    account.events.failEntries('InternalFailure');
    // Act, Assess
    await expect(publishSnapshot({ plan, builds: completedBuilds(plan) })).rejects.toMatchObject({ name: 'TransientAwsError', message: expect.stringContaining('InternalFailure') });
  });

  it('resumes from its ledger when Step Functions retries it: an event already accepted is not sent again', async () => {
    // Prepare: of two snapshots, the first entry is throttled, the second accepted.
    const plan = await prepare({ recipe: 'web', images: [NGINX], architectures: ['x86_64', 'arm64'] });
    const builds = completedBuilds(plan);
    account.events.failEntries('ThrottlingException');
    await expect(publishSnapshot({ plan, builds })).rejects.toMatchObject({ name: 'TransientAwsError' });
    const accepted = account.events.ofType('Snapshot Ready').map((e) => (e.detail as { snapshotId: string }).snapshotId);
    const publishedAt = decodeDigestRecord(account.parameters.parameters.get(digestSetParameterName('web', 'arm64'))?.Value)!.publishedAt;
    vi.advanceTimersByTime(30_000);
    // Act: the retry, same input.
    const output = (await publishSnapshot({ plan, builds })) as PublishOutput;
    // Assess
    expect(accepted).toEqual([builds[1]!.snapshotId]);
    expect(account.events.ofType('Snapshot Ready').map((e) => (e.detail as { snapshotId: string }).snapshotId)).toEqual([builds[1]!.snapshotId, builds[0]!.snapshotId]);
    expect(output.publishedAt).toBe(publishedAt);
    for (const architecture of ['x86_64', 'arm64'] as const) {
      expect(decodeDigestRecord(account.parameters.parameters.get(digestSetParameterName('web', architecture))?.Value)?.pending).toEqual([]);
    }
    expect(output.snapshots.map((s) => s.eventId)).toEqual(account.events.ofType('Snapshot Ready').map((e) => e.id).reverse());
  });

  it('republishes only the pending channels, keeping the first publish time, and names them in the output', async () => {
    // Prepare: a publish whose event was refused.
    const plan = await prepare({ recipe: 'web', images: [NGINX] });
    const builds = completedBuilds(plan);
    account.events.failEntries('AccessDeniedException');
    await expect(publishSnapshot({ plan, builds })).rejects.toMatchObject({ name: 'AwsRequestError' });
    const first = decodeDigestRecord(account.parameters.parameters.get(digestSetParameterName('web', 'x86_64'))?.Value)!;
    vi.advanceTimersByTime(3_600_000);
    const again = await prepare({ recipe: 'web', images: [NGINX] }, 'exec-2');
    const writesBefore = account.core.callsOf('ssm', 'PutParameter').length;
    // Act
    const output = (await publishSnapshot({ plan: again, builds: [] })) as PublishOutput;
    // Assess
    expect(again).toMatchObject({ status: 'REPUBLISH', reason: 'REPUBLISH', builds: [], republish: [{ snapshotId: builds[0]!.snapshotId, pending: ['event'], platforms: ['linux/amd64'] }] });
    expect(output).toMatchObject({ status: 'REPUBLISHED', publishedAt: first.publishedAt, republished: [{ snapshotId: builds[0]!.snapshotId, channels: ['event'] }] });
    const writes = account.core.callsOf('ssm', 'PutParameter').slice(writesBefore).map((c) => (c.input as { Name: string }).Name);
    expect(writes).toEqual([digestSetParameterName('web', 'x86_64')]);
    expect(account.events.ofType('Snapshot Ready').map((e) => e.detail)).toEqual([expect.objectContaining({ snapshotId: builds[0]!.snapshotId, redelivered: true })]);
    expect(await prepare({ recipe: 'web', images: [NGINX] }, 'exec-3')).toMatchObject({ status: 'UP_TO_DATE' });
  });

  it('fails when status REPUBLISH names no snapshot to republish', async () => {
    const plan = await prepare({ recipe: 'web', images: [NGINX] });
    await expect(publishSnapshot({ plan: { ...plan, status: 'REPUBLISH', builds: [] }, builds: [] })).rejects.toMatchObject({
      name: 'InvalidInputError',
      message: expect.stringContaining('plan.republish'),
    });
  });

  it('fails when a build has no snapshot ID', async () => {
    const plan = await prepare({ recipe: 'web', images: [NGINX] });
    await expect(publishSnapshot({ plan, builds: [{ architecture: 'x86_64', platforms: ['linux/amd64'], images: [] }] })).rejects.toMatchObject({ name: 'InvalidInputError', message: expect.stringContaining('builds.0.snapshotId') });
  });
});

describe('skip when unchanged (prepare-build + resolveAndCompare)', () => {
  const publishFirstBuild = async () => {
    const plan = await prepare({ recipe: 'web', images: [NGINX, PYTHON], architectures: ['x86_64', 'arm64'] });
    await publishSnapshot({ plan, builds: completedBuilds(plan) });
    return plan;
  };

  it('answers UP_TO_DATE with the current snapshot IDs when every digest is unchanged', async () => {
    const first = await publishFirstBuild();

    const plan = await prepare({ recipe: 'web', images: [PYTHON, NGINX], architectures: ['x86_64', 'arm64'] }, 'exec-2');

    expect(plan).toMatchObject({ status: 'UP_TO_DATE', reason: 'UP_TO_DATE', builds: [] });
    expect(plan.current.map((c) => c.snapshotId)).toEqual([
      account.parameters.parameters.get('/snapshot-factory/web/x86_64/snapshot-id')?.Value,
      account.parameters.parameters.get('/snapshot-factory/web/arm64/snapshot-id')?.Value,
    ]);
    expect(plan.current.map((c) => c.digestSet)).toEqual(first.builds.map((b) => b.digestSet));
  });

  it('answers REPUBLISH, not UP_TO_DATE, for the snapshot whose ledger lists channels, and only for it', async () => {
    // Prepare: arm64's record says its publish stopped before the snapshot-id parameter.
    await publishFirstBuild();
    const name = digestSetParameterName('web', 'arm64');
    const arm64 = decodeDigestRecord(account.parameters.parameters.get(name)?.Value)!;
    const unpublished = seedSnapshot();
    account.parameters.parameters.get(name)!.Value = JSON.stringify({ ...arm64, snapshotId: unpublished, pending: ['snapshot-id', 'result-parameters', 'event'] });
    // Act
    const plan = await prepare({ recipe: 'web', images: [NGINX, PYTHON], architectures: ['x86_64', 'arm64'] }, 'exec-2');
    // Assess
    expect(plan).toMatchObject({ status: 'REPUBLISH', builds: [] });
    expect(plan.republish).toEqual([expect.objectContaining({ architecture: 'arm64', snapshotId: unpublished, pending: ['snapshot-id', 'result-parameters', 'event'] })]);
  });

  it('treats a ledger it did not write as every channel pending', async () => {
    // Prepare
    await publishFirstBuild();
    const name = digestSetParameterName('web', 'x86_64');
    const record = JSON.parse(account.parameters.parameters.get(name)!.Value) as Record<string, unknown>;
    account.parameters.parameters.get(name)!.Value = JSON.stringify({ ...record, pending: 'event' });
    // Act
    const plan = await prepare({ recipe: 'web', images: [NGINX, PYTHON], architectures: ['x86_64', 'arm64'] }, 'exec-2');
    // Assess
    expect(plan.republish).toEqual([expect.objectContaining({ architecture: 'x86_64', pending: ['snapshot-id', 'result-parameters', 'event'] })]);
  });

  it('rebuilds when one image changed', async () => {
    await publishFirstBuild();
    registries.push(PYTHON); // a new push behind the same tag

    const plan = await prepare({ recipe: 'web', images: [NGINX, PYTHON], architectures: ['x86_64', 'arm64'] }, 'exec-2');

    expect(plan).toMatchObject({ status: 'BUILD', reason: 'CHANGED' });
    expect(plan.builds).toHaveLength(2);
  });

  it('rebuilds anyway with force, saying FORCED', async () => {
    await publishFirstBuild();

    const plan = await prepare({ recipe: 'web', images: [NGINX, PYTHON], architectures: ['x86_64', 'arm64'], force: true }, 'exec-2');

    expect(plan).toMatchObject({ status: 'BUILD', reason: 'FORCED' });
    expect(plan.builds).toHaveLength(2);
  });

  it('rebuilds when someone pointed the snapshot-id parameter at another snapshot', async () => {
    await publishFirstBuild();
    account.parameters.seed('/snapshot-factory/web/x86_64/snapshot-id', 'snap-0123456789abcdef0');

    const plan = await prepare({ recipe: 'web', images: [NGINX, PYTHON], architectures: ['x86_64', 'arm64'] }, 'exec-2');

    // arm64 is still current; x86_64's link to its digests is broken, so it counts as changed.
    expect(plan).toMatchObject({ status: 'BUILD', reason: 'CHANGED', current: [expect.objectContaining({ architecture: 'arm64' })] });
  });

  it('rebuilds when the current snapshot was deleted although the digests are unchanged', async () => {
    await publishFirstBuild();
    const deleted = account.parameters.parameters.get('/snapshot-factory/web/x86_64/snapshot-id')!.Value;
    await ec2.send(new DeleteSnapshotCommand({ SnapshotId: deleted }));

    const plan = await prepare({ recipe: 'web', images: [NGINX, PYTHON], architectures: ['x86_64', 'arm64'] }, 'exec-2');

    expect(plan).toMatchObject({ status: 'BUILD', reason: 'CHANGED', current: [expect.objectContaining({ architecture: 'arm64' })] });
    expect(plan.current.map((c) => c.snapshotId)).not.toContain(deleted);
  });

  it('fails with ImageNotFoundError naming the image before anything launches when a tag does not exist', async () => {
    await expect(prepare({ recipe: 'web', images: [NGINX, 'quay.io/team/missing:v9'] })).rejects.toMatchObject({
      name: 'ImageNotFoundError',
      message: expect.stringContaining('quay.io/team/missing:v9'),
    });
    expect(account.core.callsOf('ec2', 'RunInstances')).toHaveLength(0);
  });

  it('fails with RegistryUnavailableError (retryable) when a registry is down', async () => {
    registries.down.add('public.ecr.aws');
    await expect(prepare({ recipe: 'web', images: [NGINX] })).rejects.toMatchObject({ name: 'RegistryUnavailableError' });
  });
});
