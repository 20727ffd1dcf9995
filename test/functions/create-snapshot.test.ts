import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { handler as checkSnapshot } from '../../functions/check-snapshot';
import fc from 'fast-check';
import { handler as createSnapshot, imageList, snapshotDescription, snapshotTags } from '../../functions/create-snapshot';
import type { LaunchedInstance } from '../../functions/lib/schemas';
import type { SimulatedAccount } from '../../simulation/aws/account';
import { FAULTS } from '../../simulation/aws/core';
import { buildTarget, launchedBuilder, simulatedAws, verifiedPull } from './ec2-fixtures';

describe('create-snapshot', () => {
  let account: SimulatedAccount;
  let restore: () => void;
  let instance: LaunchedInstance;
  const build = buildTarget();
  beforeEach(async () => {
    ({ account, restore } = simulatedAws());
    instance = await launchedBuilder(build);
  });
  afterEach(() => restore());

  it('snapshots the /dev/xvdb volume with the factory tags and the verified images in the description', async () => {
    // Act
    const snapshot = await createSnapshot({ build, instance, pullStatus: verifiedPull(build) });
    // Assess
    const dataVolume = [...account.ec2.volumes.values()].find((v) => v.attachedTo?.device === '/dev/xvdb')!;
    expect(snapshot.volumeId).toBe(dataVolume.VolumeId);
    const stored = account.ec2.snapshots.get(snapshot.snapshotId)!;
    expect(stored.Description).toContain('python:3.12@sha256:aaaa');
    expect(stored.Tags).toEqual(
      expect.arrayContaining([
        { Key: 'snapshot-factory:managed', Value: 'true' },
        { Key: 'snapshot-factory:execution', Value: build.executionName },
        { Key: 'snapshot-factory:image-count', Value: '1' },
      ]),
    );
  });

  it('fails when the pull verified fewer images than the plan holds, and creates no snapshot', async () => {
    // Prepare: a count that does not add up (one pull unverified) must never reach the image-count tag.
    const short = { ...verifiedPull(build), pulled: verifiedPull(build).pulled - 1, images: verifiedPull(build).images - 1 };
    // Act
    const error = await createSnapshot({ build, instance, pullStatus: short }).catch((e: Error) => e);
    // Assess
    expect(error).toMatchObject({ name: 'PullFailedError', message: expect.stringContaining(`verified 0 of 1 images`) });
    expect(account.core.callsOf('ec2', 'CreateSnapshot')).toHaveLength(0);
  });

  it('fits the description and tags within EC2 limits for 200 images with 250-character names', async () => {
    // Prepare
    const images = Array.from({ length: 200 }, (_, i) => ({
      reference: `registry.example.com/${String(i).padStart(3, '0')}/${'n'.repeat(200)}:${'t'.repeat(24)}`.padEnd(250, 'x'),
      digest: 'sha256:' + 'c'.repeat(64),
    }));
    const hostile = buildTarget({ images });
    // Act: the simulated EC2 rejects over-limit requests, so success proves the request fits
    const snapshot = await createSnapshot({ build: hostile, instance, pullStatus: verifiedPull(hostile) });
    // Assess
    const request = account.core.callsOf('ec2', 'CreateSnapshot')[0]!.input as { Description: string; TagSpecifications: { Tags: { Key: string; Value: string }[] }[] };
    expect(request.Description.length).toBeLessThanOrEqual(255);
    expect(request.Description).toMatch(/\(\+\d+ more\)$|200 images/);
    for (const tag of request.TagSpecifications[0]!.Tags) expect(tag.Value.length).toBeLessThanOrEqual(256);
    expect(request.TagSpecifications[0]!.Tags).toContainEqual({ Key: 'snapshot-factory:image-count', Value: '200' });
    expect(snapshot.snapshotId).toMatch(/^snap-/);
  });

  it('keeps the description within 255, tag values within 256 and the factory tags within 50 for any image list', () => {
    const crowded = buildTarget({ tags: Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`team-${i}`, 'x'])) });
    fc.assert(
      fc.property(fc.array(fc.string({ minLength: 1, maxLength: 400 }), { minLength: 1, maxLength: 300 }), (references) => {
        const images = references.map((reference) => `${reference}@sha256:${'d'.repeat(64)}`);
        expect(snapshotDescription(crowded, images).length).toBeLessThanOrEqual(255);
        const tags = snapshotTags(crowded, images);
        expect(tags).toHaveLength(50);
        expect(tags.map((t) => t.Key)).toContain('snapshot-factory:image-count');
        for (const tag of tags) expect(tag.Value.length).toBeLessThanOrEqual(256);
        expect(tags.slice(0, 4).map((t) => t.Key)).toEqual([
          'snapshot-factory:managed',
          'snapshot-factory:execution',
          'snapshot-factory:recipe',
          'snapshot-factory:architecture',
        ]);
      }),
      { numRuns: 200 },
    );
  });

  it('lists each image with its digest once, and a pinned reference as it was written', () => {
    // Prepare
    const pinned = `registry.example.com/app@sha256:${'d'.repeat(64)}`;
    const build = buildTarget({ images: [{ reference: 'nginx:1.27', digest: `sha256:${'e'.repeat(64)}` }, { reference: pinned, digest: `sha256:${'d'.repeat(64)}` }] });
    // Act
    const listed = imageList(build);
    // Assess
    expect(listed).toEqual([`nginx:1.27@sha256:${'e'.repeat(64)}`, pinned]);
  });

  it('adopts the snapshot a previous attempt started instead of starting a second', async () => {
    const first = await createSnapshot({ build, instance, pullStatus: verifiedPull(build) });
    const second = await createSnapshot({ build, instance, pullStatus: verifiedPull(build) });
    expect(second).toEqual(first);
    expect(account.ec2.liveSnapshots()).toHaveLength(1);
  });

  it('fails with DataVolumeNotFoundError when no volume is attached at /dev/xvdb', async () => {
    const stored = account.ec2.instances.get(instance.instanceId)!;
    stored.blockDevices = stored.blockDevices.filter((d) => d.deviceName !== '/dev/xvdb');
    await expect(createSnapshot({ build, instance, pullStatus: verifiedPull(build) })).rejects.toMatchObject({
      name: 'DataVolumeNotFoundError',
      message: expect.stringMatching(/\/dev\/xvdb.*attached: \/dev\/xvda/),
    });
  });

  it('fails with InstanceLostError when the builder vanished', async () => {
    account.ec2.loseInstance(instance.instanceId, { vanish: true });
    await expect(createSnapshot({ build, instance, pullStatus: verifiedPull(build) })).rejects.toMatchObject({ name: 'InstanceLostError' });
  });

  it('fails with the retryable TransientAwsError when EC2 throttles', async () => {
    account.core.inject(FAULTS.throttle('ec2', 'CreateSnapshot'));
    await expect(createSnapshot({ build, instance, pullStatus: verifiedPull(build) })).rejects.toMatchObject({ name: 'TransientAwsError' });
    const snapshot = await createSnapshot({ build, instance, pullStatus: verifiedPull(build) });
    account.core.inject(FAULTS.throttle('ec2', 'DescribeSnapshots'));
    await expect(checkSnapshot({ build, snapshot })).rejects.toMatchObject({ name: 'TransientAwsError' });
  });

  it('fails with AccessDeniedError when CreateSnapshot is not allowed', async () => {
    account.core.inject(FAULTS.accessDenied('ec2', 'CreateSnapshot'));
    await expect(createSnapshot({ build, instance, pullStatus: verifiedPull(build) })).rejects.toMatchObject({ name: 'AccessDeniedError' });
  });

});
