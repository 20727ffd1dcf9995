import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { commonImages, handler, parseExecutionInput, planBuild } from '../../functions/prepare-build';
import { buildDefaultsSchema, deployedDefaults, parseBuildDefaults } from '../../functions/lib/build-defaults';
import { InvalidInputError } from '../../functions/lib/errors';
import { buildTargetSchema } from '../../functions/lib/schemas';
import { strictObject } from '../../functions/lib/zod-mini';
import { HISTORY_EVENT_LIMIT, worstCaseExecutionSeconds, worstCaseHistoryEvents } from '../../functions/lib/execution-budget';
import { MAX_COMMANDS_BYTES, pullCommandOf, pullCommandThatFits } from '../../functions/lib/pull-command';
import { longestReferences } from '../../simulation/max-input';

const defaults = buildDefaultsSchema.parse({});
const NGINX = 'public.ecr.aws/docker/library/nginx:1.27';
const plan = (input: Record<string, unknown>, deployed = defaults) => planBuild('exec-1', parseExecutionInput({ images: [NGINX], ...input }), deployed);

describe('prepare-build', () => {
  it('plans one x86_64 build with the documented defaults when only images is given', () => {
    // Act
    const result = plan({});

    // Assess
    expect(result.status).toBe('BUILD');
    expect(result.recipe).toMatch(/^adhoc-[0-9a-f]{12}$/);
    expect(result.builds).toHaveLength(1);
    const [build] = result.builds;
    expect(buildTargetSchema.parse(build)).toEqual(build);
    expect(build).toMatchObject({
      executionName: 'exec-1',
      architecture: 'x86_64',
      platforms: ['linux/amd64'],
      images: [{ reference: NGINX }],
      amiParameter: '/aws/service/bottlerocket/aws-k8s-1.35/x86_64/latest/image_id',
      instanceTypes: ['m7i.xlarge', 'm6i.xlarge', 'm5.xlarge'],
      associatePublicIp: true,
      osVolume: { sizeGiB: 10 },
      dataVolume: { sizeGiB: 100, iops: 4000, throughputMiBps: 1000, encrypted: true },
      pull: { concurrency: 4, commandTimeoutSeconds: 3600 },
      limits: { ssmOnlineSeconds: 600, pullSeconds: 3900, stopSeconds: 900, snapshotSeconds: 7200 },
    });
  });

  it('conforms: every build it plans is a BuildTarget, for any valid input and deployed defaults', () => {
    // Prepare
    // prepare-build does not re-parse its builds with the classic buildTargetSchema (its bundle loads only zod/mini,
    // issue 12): its setting schemas must be at least as strict. This checks it over generated inputs.
    const zone = fc.constantFrom('us-west-2a', 'eu-west-1b', 'ap-southeast-1c');
    const executionInput = fc.record(
      {
        architectures: fc.uniqueArray(fc.constantFrom('x86_64', 'arm64'), { minLength: 1, maxLength: 2 }),
        layout: fc.constantFrom('per-architecture', 'combined'),
        combinedArchitecture: fc.constantFrom('x86_64', 'arm64'),
        amiParameter: fc.constantFrom('/aws/service/bottlerocket/aws-k8s-1.35/{arch}/latest/image_id', '/custom/{arch}'),
        instanceTypes: fc.record({ arm64: fc.constant(['c7g.large']) }),
        subnetIds: fc.constant(['subnet-0123456789abcdef0']),
        osVolumeSizeGiB: fc.integer({ min: 2, max: 100 }),
        dataVolume: fc.record({ sizeGiB: fc.integer({ min: 100, max: 16384 }), iops: fc.integer({ min: 3000, max: 50000 }) }, { requiredKeys: [] }),
        pull: fc.record({ concurrency: fc.integer({ min: 1, max: 32 }), commandTimeoutSeconds: fc.integer({ min: 30, max: 7200 }) }, { requiredKeys: [] }),
        limits: fc.record({ ssmOnlineSeconds: fc.integer({ min: 30, max: 3600 }), fastSnapshotRestoreSeconds: fc.integer({ min: 300, max: 86400 }) }, { requiredKeys: [] }),
        fastSnapshotRestore: fc.record({ availabilityZones: fc.uniqueArray(zone, { maxLength: 3 }) }),
        copies: fc.uniqueArray(fc.constantFrom({ region: 'eu-west-1' }, { region: 'ap-south-1' }), { maxLength: 2, selector: (c) => c.region }),
        tags: fc.dictionary(fc.stringMatching(/^[a-z]{1,10}$/), fc.string({ maxLength: 20 }), { maxKeys: 5 }),
        retention: fc.record({ keepSuperseded: fc.integer({ min: 0, max: 100 }) }),
      },
      { requiredKeys: [] },
    );
    const deployed = buildDefaultsSchema.parse({ subnetIds: ['subnet-0123456789abcdef0'], limits: { executionSeconds: 31_536_000 } });
    let planned = 0;

    // Act
    fc.assert(
      fc.property(executionInput, (input) => {
        let builds;
        try {
          builds = plan(input, deployed).builds;
        } catch (error) {
          // A refusal before launch (gp3 ratios, the history quota) is a named error, never a malformed plan.
          expect(error).toBeInstanceOf(InvalidInputError);
          return;
        }
        planned += builds.length;
        // Assess
        for (const build of builds) expect(strictObject(buildTargetSchema.shape).parse(build)).toEqual(build);
      }),
      { numRuns: 300, seed: 12 },
    );
    expect(planned).toBeGreaterThan(150);
  });

  it('plans one build per architecture with its own AMI parameter and instance types', () => {
    const result = plan({ architectures: ['x86_64', 'arm64'], kubernetesVersion: '1.36', variant: 'nvidia' });

    expect(result.builds.map((b) => [b.architecture, b.platforms, b.amiParameter, b.instanceTypes[0]])).toEqual([
      ['x86_64', ['linux/amd64'], '/aws/service/bottlerocket/aws-k8s-1.36-nvidia/x86_64/latest/image_id', 'm7i.xlarge'],
      ['arm64', ['linux/arm64'], '/aws/service/bottlerocket/aws-k8s-1.36-nvidia/arm64/latest/image_id', 'm7g.xlarge'],
    ]);
  });

  it('plans one build holding both platforms for the combined layout', () => {
    const result = plan({ architectures: ['x86_64', 'arm64'], layout: 'combined' });

    expect(result.builds).toHaveLength(1);
    expect(result.builds[0]).toMatchObject({ architecture: 'x86_64', platforms: ['linux/amd64', 'linux/arm64'] });
    expect(plan({ architectures: ['x86_64', 'arm64'], layout: 'combined', combinedArchitecture: 'arm64' }).builds[0]!.architecture).toBe('arm64');
  });

  it('replaces {arch} in an explicit AMI parameter pattern', () => {
    const result = plan({ architectures: ['x86_64', 'arm64'], amiParameter: '/my/ami/{arch}/id' });

    expect(result.builds.map((b) => b.amiParameter)).toEqual(['/my/ami/x86_64/id', '/my/ami/arm64/id']);
  });

  it('lets an execution launch in some of the deployed subnets, and fails when it names another one', () => {
    // Prepare
    const deployed = parseBuildDefaults(JSON.stringify({ subnetIds: ['subnet-0123456789abcdef0', 'subnet-0123456789abcdef1'] }));
    // Act / Assess
    expect(plan({ subnetIds: ['subnet-0123456789abcdef1'] }, deployed).builds[0]?.subnetIds).toEqual(['subnet-0123456789abcdef1']);
    expect(() => plan({ subnetIds: ['subnet-0123456789abcdef1', 'subnet-0000000000000000f'] }, deployed)).toThrow(
      /subnetIds names "subnet-0000000000000000f", not among the factory's subnets \(subnet-0123456789abcdef0, subnet-0123456789abcdef1\)/,
    );
  });

  it('lets the execution input override the deployed defaults, which override the built-in ones', () => {
    const deployed = parseBuildDefaults(JSON.stringify({ instanceProfileName: 'deployed-profile', dataVolume: { sizeGiB: 200 }, subnetIds: ['subnet-0123456789abcdef0'] }));

    const result = plan({ dataVolume: { sizeGiB: 300 }, pull: { commandTimeoutSeconds: 600 }, tags: { team: 'ml' } }, deployed);

    expect(result.builds[0]).toMatchObject({
      instanceProfileName: 'deployed-profile',
      subnetIds: ['subnet-0123456789abcdef0'],
      dataVolume: { sizeGiB: 300, iops: 4000 },
      pull: { commandTimeoutSeconds: 600 },
      limits: { pullSeconds: 900 },
      tags: { team: 'ml' },
    });
  });

  it('accepts the deployed KMS key named again in the input, and refuses another one', () => {
    const key = 'arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
    const deployed = buildDefaultsSchema.parse({ dataVolume: { kmsKeyArn: key } });
    expect(plan({ dataVolume: { kmsKeyArn: key } }, deployed).builds[0]?.dataVolume.kmsKeyArn).toBe(key);
    expect(plan({}, deployed).builds[0]?.dataVolume.kmsKeyArn).toBe(key);
    expect(() => plan({ dataVolume: { kmsKeyArn: 'arn:aws:kms:us-west-2:111122223333:key/0000aaaa-00aa-00aa-00aa-000000000000' } }, deployed)).toThrow(/may use only the key it was deployed with/);
  });

  it('reads FACTORY_DEFAULTS again when it changed, so one process serves each simulated deployment its own defaults', () => {
    // Prepare
    const before = process.env.FACTORY_DEFAULTS;
    try {
      process.env.FACTORY_DEFAULTS = '{"dataVolume":{"sizeGiB":123}}';
      // Act
      const first = deployedDefaults();
      process.env.FACTORY_DEFAULTS = '{"dataVolume":{"sizeGiB":77}}';
      const second = deployedDefaults();
      // Assess
      expect(first.dataVolume.sizeGiB).toBe(123);
      expect(second.dataVolume.sizeGiB).toBe(77);
      expect(deployedDefaults()).toBe(second);
      process.env.FACTORY_DEFAULTS = '{"dataVolume":{"sizeGiB":0}}';
      expect(() => deployedDefaults()).toThrow(/dataVolume\.sizeGiB/);
    } finally {
      if (before === undefined) delete process.env.FACTORY_DEFAULTS;
      else process.env.FACTORY_DEFAULTS = before;
    }
  });

  it('fails at cold start when FACTORY_DEFAULTS is invalid, naming the key', () => {
    expect(() => parseBuildDefaults('{"dataVolume":{"sizeGiB":0}}')).toThrow(/dataVolume\.sizeGiB/);
    expect(() => parseBuildDefaults('{"unknownSetting":1}')).toThrow(/unknownSetting/);
    expect(() => parseBuildDefaults('not json')).toThrow(/not valid JSON/);
  });

  it.each([
    ['images is missing', {}, /images/],
    ['images is empty', { images: [] }, /images/],
    ['a field is unknown', { images: [NGINX], volumeSize: 100 }, /volumeSize/],
    ['an architecture is unknown', { images: [NGINX], architectures: ['amd64'] }, /architectures\.0/],
    ['the layout is unknown', { images: [NGINX], layout: 'split' }, /layout/],
    ['the volume is too large', { images: [NGINX], dataVolume: { sizeGiB: 20000 } }, /dataVolume\.sizeGiB/],
    ['gp3 IOPS exceed 500 per GiB', { images: [NGINX], dataVolume: { sizeGiB: 8, iops: 5000 } }, /dataVolume\.iops/],
    ['throughput exceeds IOPS / 4', { images: [NGINX], dataVolume: { iops: 3000, throughputMiBps: 1000 } }, /dataVolume\.throughputMiBps/],
    ['a KMS key is given without encryption', { images: [NGINX], dataVolume: { encrypted: false, kmsKeyArn: 'arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab' } }, /dataVolume\.kmsKeyArn is set but dataVolume\.encrypted is false/],
    ['a KMS key is given as an alias', { images: [NGINX], dataVolume: { kmsKeyArn: 'alias/x' } }, /dataVolume\.kmsKeyArn: expected a KMS key ARN/],
    ['a KMS key other than the deployed one is given', { images: [NGINX], dataVolume: { kmsKeyArn: 'arn:aws:kms:us-west-2:111122223333:key/0000aaaa-00aa-00aa-00aa-000000000000' } }, /dataVolume\.kmsKeyArn is "arn:aws:kms:.*0000aaaa.*" but the factory may use only the account's default EBS key/],
    ['the execution time limit is given in the input', { images: [NGINX], limits: { executionSeconds: 20000 } }, /limits\.executionSeconds: is a deploy-time setting/],
    ['the subnet ID is malformed', { images: [NGINX], subnetIds: ['my-subnet'] }, /subnetIds\.0: expected a subnet ID/],
    ['the pull limit is below the command timeout', { images: [NGINX], limits: { pullSeconds: 600 } }, /limits\.pullSeconds/],
    ['an image is listed twice', { images: [NGINX, NGINX] }, /images lists "public\.ecr\.aws\/docker\/library\/nginx:1\.27" twice/],
    ['a tag key is reserved', { images: [NGINX], tags: { 'snapshot-factory:x': 'y' } }, /reserved/],
    ['a tag value is too long', { images: [NGINX], tags: { team: 'x'.repeat(257) } }, /tags\.team/],
    ['the AMI pattern lacks {arch} for two architectures', { images: [NGINX], architectures: ['x86_64', 'arm64'], amiParameter: '/my/ami' }, /\{arch\}/],
    ['the recipe name has a slash', { images: [NGINX], recipe: 'a/b' }, /recipe/],
  ])('fails with InvalidInputError when %s', async (_, input, message) => {
    await expect(handler({ executionName: 'exec-1', input })).rejects.toMatchObject({ name: 'InvalidInputError', message: expect.stringMatching(message) });
  });

  it('fails with InvalidImageReferenceError naming the bad image', async () => {
    await expect(handler({ executionName: 'exec-1', input: { images: [NGINX, 'nginx;rm -rf /'] } })).rejects.toMatchObject({
      name: 'InvalidImageReferenceError',
      message: expect.stringContaining('nginx;rm -rf /'),
    });
  });

  it('holds each image once for every build, with a platform digest only where it differs from the image digest', () => {
    // Prepare: the per-architecture builds of one multi-platform image and one single-manifest image.
    const [amd64, arm64] = plan({ architectures: ['x86_64', 'arm64'], images: [NGINX, 'quay.io/team/tool:1'] }).builds;
    const index = `sha256:${'1'.repeat(64)}`;
    const single = `sha256:${'2'.repeat(64)}`;
    const resolved = (build: typeof amd64, platform: string, manifest: string) => ({
      ...build!,
      images: [{ reference: NGINX, digest: index }, { reference: 'quay.io/team/tool:1', digest: single }],
      platformDigests: [
        { reference: NGINX, platform, digest: manifest },
        { reference: 'quay.io/team/tool:1', platform, digest: single },
      ],
    });
    // Act
    const images = commonImages([resolved(amd64, 'linux/amd64', `sha256:${'a'.repeat(64)}`), resolved(arm64, 'linux/arm64', `sha256:${'b'.repeat(64)}`)]);
    // Assess
    expect(images).toEqual([
      { reference: NGINX, digest: index, platformDigests: { 'linux/amd64': `sha256:${'a'.repeat(64)}`, 'linux/arm64': `sha256:${'b'.repeat(64)}` } },
      { reference: 'quay.io/team/tool:1', digest: single },
    ]);
  });

  describe('limits checked before launch (issue 9, items 5-7)', () => {
    it.each([
      ['nginx', 'docker.io/library/nginx:latest'],
      ['nginx', 'index.docker.io/library/nginx'],
      ['bitnami/redis:7', 'docker.io/bitnami/redis:7'],
    ])('fails when images lists %s and %s, one image spelled twice, naming both', (first, second) => {
      // Act / Assess
      expect(() => plan({ images: [first, NGINX, second] })).toThrow(
        expect.objectContaining({
          name: 'InvalidInputError',
          message: expect.stringMatching(new RegExp(`images lists "${first}" and "${second}", the same image \\(docker\\.io/.*entries 1 and 3\\)`)),
        }),
      );
    });

    it('keeps references that only look alike: another tag, another registry, another namespace', () => {
      // Act
      const result = plan({ images: ['nginx:1.27', 'nginx', 'quay.io/library/nginx', 'library/nginx:1.26'] });
      // Assess
      expect(result.builds[0]!.images).toHaveLength(4);
    });

    it('fails when limits.ssmOnlineSeconds is longer than the execution, naming it and the execution limit', () => {
      // Act / Assess
      expect(() => plan({ limits: { ssmOnlineSeconds: 18000 } })).toThrow(
        expect.objectContaining({
          name: 'InvalidInputError',
          message: expect.stringMatching(/need up to 31950 s, more than the execution's time limit of 14400 s \(setting limits\.executionSeconds\).*lower limits\.ssmOnlineSeconds \(18000 s\)/),
        }),
      );
    });

    it('fails when a long pull.commandTimeoutSeconds makes the derived pull limit too long, saying where it came from', () => {
      // Act / Assess
      expect(() => plan({ pull: { commandTimeoutSeconds: 14400 } })).toThrow(
        expect.objectContaining({ message: expect.stringMatching(/lower limits\.pullSeconds \(14700 s\) \(limits\.pullSeconds is pull\.commandTimeoutSeconds \+ 300 when unset\)/) }),
      );
    });

    it('accepts waits that fit the deployed execution limit exactly, and refuses one second more', () => {
      // Prepare: the defaults' worst case, deployed as the execution limit.
      const waits = { ssmOnlineSeconds: 600, pullSeconds: 3900, stopSeconds: 900, snapshotSeconds: 7200 };
      const deployed = buildDefaultsSchema.parse({ limits: { executionSeconds: worstCaseExecutionSeconds(waits) } });
      // Act / Assess
      expect(plan({}, deployed).builds).toHaveLength(1);
      expect(() => plan({ limits: { stopSeconds: 901 } }, deployed)).toThrow(/lower limits\.snapshotSeconds \(7200 s\)/);
    });

    const LONG_LIMITS = { pullSeconds: 180_000, stopSeconds: 86_400, snapshotSeconds: 86_400 };
    it('fails when the polls of two architectures could exceed the 25,000-event history, naming the limit to lower', () => {
      // Prepare: a deployment allowing six days; day-long waits polled at their minimum interval (at most 300 s
      // apart) on each of two builders are over the quota.
      const deployed = buildDefaultsSchema.parse({ limits: { executionSeconds: 6 * 86400 } });
      const input = { architectures: ['x86_64', 'arm64'], limits: LONG_LIMITS };
      // Act / Assess
      expect(() => plan(input, deployed)).toThrow(
        expect.objectContaining({ message: expect.stringMatching(new RegExp(`2 builds .* could log up to \\d+ history events, more than Step Functions' ${HISTORY_EVENT_LIMIT}.*lower limits\\.pullSeconds \\(180000 s\\)`)) }),
      );
      // The same waits on one builder (the combined layout) fit.
      expect(worstCaseHistoryEvents({ ssmOnlineSeconds: 600, ...LONG_LIMITS }, 1)).toBeLessThan(HISTORY_EVENT_LIMIT);
      expect(plan({ ...input, layout: 'combined' }, deployed).builds).toHaveLength(1);
    });

    it('fails when the pull script of 100 of the longest references is larger than one SSM command, naming the size', () => {
      // Prepare: 520-character pinned references, as send-pull-command would receive them.
      const images = longestReferences({ pinned: true }).map((reference) => ({ reference, digest: reference.split('@')[1] }));
      const input = { images, platforms: ['linux/amd64'], concurrency: 4 };
      // Act
      const { bytes } = pullCommandOf(input);
      // Assess
      expect(bytes).toBeGreaterThan(MAX_COMMANDS_BYTES);
      expect(() => pullCommandThatFits(input)).toThrow(
        expect.objectContaining({ name: 'InvalidInputError', message: expect.stringContaining(`the pull script for 100 images (linux/amd64) is ${bytes} bytes, more than one SSM command carries (${MAX_COMMANDS_BYTES} bytes`) }),
      );
      expect(pullCommandThatFits({ ...input, images: images.slice(0, 50) }).bytes).toBeLessThanOrEqual(MAX_COMMANDS_BYTES);
    });
  });
});
