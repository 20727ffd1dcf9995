/**
 * Runs the generated pull script for real: bash + a real containerd (standing in for the Bottlerocket host,
 * reached through a stand-in `apiclient`) + a real registry on loopback. Needs root and the tools from
 * scripts/test-tools.sh; without them these tests FAIL with a message saying so (they never skip).
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseImageReference, type ImageReference } from '../../functions/lib/image-reference';
import { WIPE_UNIT, generatePullScript, parsePullReport, pullCommands, reportPlanOf, type PullScriptOptions } from '../../functions/lib/pull-script';
import { ADMIN_NOT_RUNNING, FIXTURE_INSTANCE_ID, HOST_PLATFORM, startContainerd, type TestContainerd } from '../support/containerd';
import { startRegistry, type PushedImage, type TestRegistry } from '../support/registry';

const run = promisify(execFile);
const BOTH = ['linux/amd64', 'linux/arm64'];
const MiB = 1024 ** 2;

interface ScriptRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the SSM `commands` the way AWS-RunShellScript does: as an sh script. */
const runCommands = async (host: TestContainerd, commands: string[]): Promise<ScriptRun> => {
  const dir = await mkdtemp(join(tmpdir(), 'sf-ssm-'));
  const file = join(dir, '_script.sh');
  await writeFile(file, commands.join('\n') + '\n');
  try {
    return await new Promise<ScriptRun>((resolve) => {
      execFile('/bin/sh', [file], { env: host.env, maxBuffer: 64 * MiB, timeout: 240_000 }, (error, stdout, stderr) => {
        const code = error ? ((error as { code?: number }).code ?? 1) : 0;
        resolve({ code: typeof code === 'number' ? code : 1, stdout, stderr });
      });
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
};

const scriptFor = (host: TestContainerd, images: ImageReference[], platforms: string[], extra: PullScriptOptions = {}): string[] =>
  pullCommands(
    generatePullScript(
      { images, platforms, concurrency: 4 },
      { containerdAddress: host.address, containerdRoot: host.root, hostContainersDir: host.hostContainersDir, plainHttp: true, minFreeBytes: 2 * MiB, ...extra },
    ),
  );

/** The plan the report's indices refer to: the same images and platforms, in the order the script was made from. */
const planFor = (images: ImageReference[], platforms: string[], expectedDigests?: (string | undefined)[]) =>
  reportPlanOf({ images, platforms, expectedDigests, concurrency: 1 });

const maxOverlap = (intervals: Array<[number, number]>): number => {
  const events = intervals.flatMap(([start, end]) => [[start, 1], [end, -1]] as Array<[number, number]>).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let now = 0;
  let max = 0;
  for (const [, delta] of events) max = Math.max(max, (now += delta));
  return max;
};

const writeProvider = async (dir: string, name: string, username: string, password: string): Promise<string> => {
  const file = join(dir, name);
  // Reads the CredentialProviderRequest like the kubelet plugin does, logs as it does, answers a CredentialProviderResponse.
  await writeFile(
    file,
    `#!/bin/bash
request=$(cat)
case "$request" in *'"kind":"CredentialProviderRequest"'*) ;; *) echo "bad request" >&2; exit 1 ;; esac
# cloud-provider-aws cmd/ecr-credential-provider getPrivateCredsData: klog.Infof("Getting creds for private image %s").
echo "I1201 22:40:00.123456    4242 main.go:130] Getting creds for private image $(printf '%s' "$request" | sed 's/.*"image":"\\([^"]*\\)".*/\\1/')" >&2
printf '{"kind":"CredentialProviderResponse","apiVersion":"credentialprovider.kubelet.k8s.io/v1","cacheKeyType":"Registry","auth":{"x":{"username":"%s","password":"%s"}}}\\n' '${username}' '${password}'
`,
  );
  await chmod(file, 0o755);
  return file;
};

describe('pull script against a real containerd and registry', () => {
  let registry: TestRegistry;
  let privateRegistry: TestRegistry;
  let host: TestContainerd;
  let providers: string;
  const pushed: PushedImage[] = [];
  let privateImage: PushedImage;

  beforeAll(async () => {
    [registry, privateRegistry, host] = await Promise.all([
      startRegistry(),
      startRegistry({ auth: { username: 'puller', password: 'Pr1vate-pw' } }),
      startContainerd(),
    ]);
    for (const [index, repo] of ['team/api', 'team/web', 'tools/busy', 'ml/model'].entries()) {
      pushed.push(await registry.pushImage(repo, `v${index}`, { platforms: BOTH, layerBytes: 3 * MiB }));
    }
    privateImage = await privateRegistry.pushImage('private/app', '1.0', { platforms: ['linux/amd64'] });
    providers = await mkdtemp(join(tmpdir(), 'sf-providers-'));
  });

  afterAll(async () => {
    await Promise.all([registry?.stop(), privateRegistry?.stop(), host?.stop()]);
    if (providers) await rm(providers, { recursive: true, force: true });
  });

  it('pulls every image for every platform into k8s.io, pinned and managed, several at once, with the registry digests', async () => {
    // Prepare
    const leftover = await registry.pushImage('old/leftover', 'v1');
    await host.ctr('images', 'pull', '--plain-http', leftover.reference); // the script starts from an empty store
    const images = pushed.map((image) => parseImageReference(image.reference));
    const commands = pullCommands(
      generatePullScript(
        { images, expectedDigests: pushed.map((image) => image.digest), platforms: BOTH, concurrency: 4 },
        { containerdAddress: host.address, containerdRoot: host.root, hostContainersDir: host.hostContainersDir, plainHttp: true, minFreeBytes: 2 * MiB },
      ),
    );

    // Act
    const result = await runCommands(host, commands);

    // Assess
    expect(result.stderr).not.toContain('pull failed');
    expect(result.code).toBe(0);
    const report = parsePullReport(result.stdout, planFor(images, BOTH, pushed.map((image) => image.digest)));
    expect(report.summary).toEqual({ expected: 8, ok: 8, failed: 0 });
    expect(report.truncated).toBe(false);
    expect(report.images).toHaveLength(8);
    // The report names images by index and does not repeat a digest the build expected.
    expect(result.stdout).not.toContain(pushed[0]!.reference);
    expect(result.stdout).not.toContain(pushed[0]!.digest);
    expect(result.stdout.trimEnd().split('\n').at(-1)).toBe('SNAPSHOT_FACTORY_END');
    for (const image of pushed) {
      for (const platform of BOTH) {
        const line = report.images.find((entry) => entry.reference === image.reference && entry.platform === platform);
        expect(line?.digest).toBe(image.digest);
        expect(line?.sizeBytes).toBe(image.platformSizes[platform]);
      }
    }
    const stored = await host.images();
    expect(stored.map((image) => image.name).sort()).toEqual(pushed.map((image) => image.reference).sort());
    for (const image of stored) {
      expect(image.labels['io.cri-containerd.image']).toBe('managed');
      expect(image.labels['io.cri-containerd.pinned']).toBe('pinned');
      expect(image.digest).toBe(pushed.find((p) => p.reference === image.name)?.digest);
    }
    expect(await host.systemctlCalls()).toContain('stop kubelet');
    const intervals = await host.pullIntervals();
    expect(intervals).toHaveLength(8);
    expect(maxOverlap(intervals)).toBeGreaterThanOrEqual(2);
  });

  it('has a stand-in apiclient that behaves as the real one: one output stream, stdin passed, exit code returned', async () => {
    // Act
    const result = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      const child = execFile('apiclient', ['exec', 'admin', 'sheltie', 'bash', '-c', 'read -r line; echo "out $line"; echo "err $line" >&2; exit 7'], { env: host.env }, (error, stdout, stderr) =>
        resolve({ code: (error as { code?: number } | null)?.code ?? 0, stdout, stderr }),
      );
      child.stdin?.end('hello\n');
    });
    // Assess: stderr arrives on stdout (apiserver exec/child.rs pipe_fds), nothing on apiclient's stderr.
    expect(result).toEqual({ code: 7, stdout: 'out hello\nerr hello\n', stderr: '' });
  });

  it('never runs more pulls at once than the concurrency', async () => {
    // Prepare
    const before = (await host.pullIntervals()).length;
    const commands = pullCommands(
      generatePullScript(
        { images: pushed.map((image) => parseImageReference(image.reference)), platforms: ['linux/amd64'], concurrency: 2 },
        { containerdAddress: host.address, containerdRoot: host.root, hostContainersDir: host.hostContainersDir, plainHttp: true, minFreeBytes: 2 * MiB },
      ),
    );
    // Act
    const result = await runCommands(host, commands);
    // Assess
    expect(result.code).toBe(0);
    const intervals = (await host.pullIntervals()).slice(before);
    expect(intervals).toHaveLength(4);
    expect(maxOverlap(intervals)).toBe(2);
  });

  it('pulls the platforms of one image at once, each its own pull, and reports the data volume it used', async () => {
    // Prepare: one two-platform image and room for four pulls: both platforms start together.
    const before = (await host.pullIntervals()).length;
    const image = parseImageReference(pushed[1]!.reference);
    // Act
    const result = await runCommands(host, scriptFor(host, [image], BOTH));
    // Assess
    expect(result.code).toBe(0);
    const intervals = (await host.pullIntervals()).slice(before);
    expect(intervals).toHaveLength(2);
    expect(maxOverlap(intervals)).toBe(2);
    const report = parsePullReport(result.stdout, planFor([image], BOTH));
    const { stdout: df } = await run('df', ['-B1', '--output=used,size', host.root]);
    const [usedNow, size] = df.trim().split('\n').at(-1)!.trim().split(/\s+/).map(Number);
    expect(report.volume?.totalBytes).toBe(size);
    // The volume holds at least the two platforms' compressed content, and no more than is used now.
    expect(report.volume!.usedBytes).toBeGreaterThanOrEqual(pushed[1]!.platformSizes['linux/amd64']! + pushed[1]!.platformSizes['linux/arm64']!);
    expect(report.volume!.usedBytes).toBeLessThanOrEqual(usedNow! + MiB);
  });

  describe('verification of every pull before the builder stops', () => {
    afterAll(() => host.afterPull('exit 0'));

    // Runs the script with `hook` altering containerd's store after the arm64 pull of pushed[0].
    const runAltering = async (hook: string): Promise<{ result: ScriptRun; image: ImageReference }> => {
      const image = parseImageReference(pushed[0]!.reference);
      await host.afterPull(`case " $* " in *" --platform linux/arm64 "*) ;; *) exit 0 ;; esac
[ "\${@: -1}" = '${image.normalized}' ] || exit 0
manifest=$("\${CTR[@]}" content get '${pushed[0]!.platformDigests['linux/arm64']}' | tr -d ' \\n')
${hook}`);
      try {
        return { result: await runCommands(host, scriptFor(host, [image, parseImageReference(pushed[2]!.reference)], BOTH)), image };
      } finally {
        await host.afterPull('exit 0');
      }
    };

    it('fails naming the image and the platform whose layer was removed after its pull, and still vouches for the rest', async () => {
      // Act: the arm64 layer (the manifest's last descriptor) is deleted from the content store right after the pull.
      const { result, image } = await runAltering(`"\${CTR[@]}" content rm "$(printf '%s' "$manifest" | grep -oE 'sha256:[0-9a-f]{64}' | tail -n 1)"`);
      // Assess
      expect(result.code).toBe(1);
      const report = parsePullReport(result.stdout, planFor([image, parseImageReference(pushed[2]!.reference)], BOTH));
      expect(report.summary).toEqual({ expected: 4, ok: 3, failed: 1 });
      expect(report.truncated).toBe(false);
      expect(report.failures).toEqual([]);
      expect(report.unverified).toEqual([{ reference: image.normalized, platform: 'linux/arm64', reason: expect.stringMatching(/^incomplete: the layer sha256:[0-9a-f]{64} is missing from the content store$/) }]);
      expect(report.images.map((pull) => `${pull.reference} ${pull.platform}`)).not.toContain(`${image.normalized} linux/arm64`);
      expect(result.stderr).toContain(`verification failed: ${image.normalized} linux/arm64 incomplete`);
    });

    it('fails naming the image and the platform whose unpacked layer was removed from the snapshotter after its pull', async () => {
      // Act: the arm64 layer's snapshot (one layer: its chain ID is its diff ID, from the config) is removed.
      const { result, image } = await runAltering(`config=$(printf '%s' "$manifest" | grep -oE 'sha256:[0-9a-f]{64}' | head -n 1)
"\${CTR[@]}" snapshots rm "$("\${CTR[@]}" content get "$config" | tr -d ' \\n' | grep -oE '"diff_ids":\\["sha256:[0-9a-f]{64}' | grep -oE 'sha256:[0-9a-f]{64}')"`);
      // Assess
      expect(result.code).toBe(1);
      const report = parsePullReport(result.stdout, planFor([image, parseImageReference(pushed[2]!.reference)], BOTH));
      expect(report.summary).toEqual({ expected: 4, ok: 3, failed: 1 });
      expect(report.unverified).toEqual([{ reference: image.normalized, platform: 'linux/arm64', reason: expect.stringMatching(/^not unpacked: layer 1's snapshot sha256:[0-9a-f]{64} is missing from the snapshotter$/) }]);
    });

    it('fails a single-platform image pulled for a platform it does not have', async () => {
      // Prepare: a plain manifest for amd64: ctr pulls it whatever --platform says.
      const single = await registry.pushImage('tools/amd64-only', 'v1');
      const image = parseImageReference(single.reference);
      // Act
      const result = await runCommands(host, scriptFor(host, [image], BOTH));
      // Assess
      expect(result.code).toBe(1);
      const report = parsePullReport(result.stdout, planFor([image], BOTH));
      expect(report.images.map((pull) => pull.platform)).toEqual(['linux/amd64']);
      expect(report.unverified).toEqual([{ reference: image.normalized, platform: 'linux/arm64', reason: 'the image has no linux/arm64 variant: what was pulled is for linux/amd64' }]);
    });
  });

  it('fails naming the missing image and still reports the others', async () => {
    // Prepare
    const missing = parseImageReference(`${registry.host}/team/absent:v9`);
    const present = parseImageReference(pushed[0]!.reference);

    // Act
    const result = await runCommands(host, scriptFor(host, [present, missing], ['linux/amd64']));

    // Assess
    expect(result.code).not.toBe(0);
    const report = parsePullReport(result.stdout, planFor([present, missing], ['linux/amd64']));
    expect(report.summary).toEqual({ expected: 2, ok: 1, failed: 1 });
    expect(report.images.map((image) => image.reference)).toEqual([present.normalized]);
    expect(report.failures).toHaveLength(1);
    expect(report.failures[0]).toMatchObject({ reference: missing.normalized, platform: 'linux/amd64' });
    expect(report.failures[0]!.reason).toMatch(/not found/i);
    expect(result.stderr).toContain(`pull failed: ${missing.normalized} linux/amd64`);
  });

  it('fails a pull whose digest is not the one the build resolved (the tag moved)', async () => {
    // Prepare
    const image = parseImageReference(pushed[1]!.reference);
    const stale = `sha256:${'0'.repeat(64)}`;
    const commands = pullCommands(
      generatePullScript(
        { images: [image], expectedDigests: [stale], platforms: ['linux/amd64'], concurrency: 1 },
        { containerdAddress: host.address, containerdRoot: host.root, hostContainersDir: host.hostContainersDir, plainHttp: true, minFreeBytes: 2 * MiB },
      ),
    );
    // Act
    const result = await runCommands(host, commands);
    // Assess
    expect(result.code).not.toBe(0);
    const report = parsePullReport(result.stdout, planFor([image], ['linux/amd64'], [stale]));
    expect(report.failures[0]?.reason).toContain(`pulled ${pushed[1]!.digest} but the build resolved ${stale}`);
  });

  it('pulls from a private registry with the credential provider, without printing the password', async () => {
    // Prepare
    const provider = await writeProvider(providers, 'good-provider', 'puller', 'Pr1vate-pw');
    const image = parseImageReference(privateImage.reference);

    // Act
    const result = await runCommands(
      host,
      scriptFor(host, [image], ['linux/amd64'], { credentialProvider: provider, needsCredentials: (ref) => ref.domain === privateRegistry.host }),
    );

    // Assess
    expect(result.code).toBe(0);
    expect(parsePullReport(result.stdout, planFor([image], ['linux/amd64'])).images[0]).toMatchObject({ reference: image.normalized, digest: privateImage.digest });
    expect(result.stdout + result.stderr).not.toContain('Pr1vate-pw');
  });

  it('fails clearly when the registry refuses the credential, without printing it', async () => {
    // Prepare
    const provider = await writeProvider(providers, 'wrong-provider', 'puller', 'Wr0ng-secret');
    const image = parseImageReference(privateImage.reference);
    const commands = scriptFor(host, [image], ['linux/amd64'], { credentialProvider: provider, needsCredentials: () => true });

    // Act
    const result = await runCommands(host, commands);

    // Assess
    expect(result.code).not.toBe(0);
    const report = parsePullReport(result.stdout, planFor([image], ['linux/amd64']));
    expect(report.failures[0]?.reference).toBe(image.normalized);
    expect(report.failures[0]?.reason).toMatch(/unauthorized|401|authoriz/i);
    expect(result.stdout + result.stderr).not.toContain('Wr0ng-secret');
    expect(commands.join('\n')).not.toContain('Wr0ng-secret');
  });

  it('fails when the credential provider cannot answer, with what the host said about it', async () => {
    // Prepare
    const image = parseImageReference(privateImage.reference);
    // Act
    const result = await runCommands(
      host,
      scriptFor(host, [image], ['linux/amd64'], { credentialProvider: join(providers, 'does-not-exist'), needsCredentials: () => true }),
    );
    // Assess: env's own message comes back through apiclient's joined stream.
    expect(result.code).not.toBe(0);
    expect(parsePullReport(result.stdout, planFor([image], ['linux/amd64'])).failures[0]?.reason).toMatch(/^credential provider failed: .*does-not-exist.*No such file or directory/);
  });

  it('fails with the provider\'s own log line when it answers without a credential, never its JSON', async () => {
    // Prepare
    const file = join(providers, 'empty-provider');
    await writeFile(
      file,
      `#!/bin/bash
cat >/dev/null
echo "E1201 22:40:00.123456    4242 main.go:140] Error running credential provider plugin: AccessDeniedException: not authorized to perform ecr:GetAuthorizationToken" >&2
printf '{"kind":"CredentialProviderResponse","auth":{"x":{"password":"half-a-Secret"}}}\\n'
`,
    );
    await chmod(file, 0o755);
    const image = parseImageReference(privateImage.reference);
    // Act
    const result = await runCommands(host, scriptFor(host, [image], ['linux/amd64'], { credentialProvider: file, needsCredentials: () => true }));
    // Assess
    const reason = parsePullReport(result.stdout, planFor([image], ['linux/amd64'])).failures[0]?.reason ?? '';
    expect(reason).toContain('not authorized to perform ecr:GetAuthorizationToken');
    expect(reason).toContain('without a username and password');
    expect(result.stdout + result.stderr).not.toContain('half-a-Secret');
  });

  it('waits for the admin container before its first host command, then pulls', async () => {
    // Prepare: the agent is Online, the admin container is not running yet.
    const refusedBefore = await host.adminRefusals();
    await host.adminNotRunningFor(3_000);
    const image = parseImageReference(pushed[0]!.reference);
    // Act
    const result = await runCommands(host, scriptFor(host, [image], ['linux/amd64']));
    // Assess
    expect(result.code).toBe(0);
    expect(parsePullReport(result.stdout, planFor([image], ['linux/amd64'])).summary).toEqual({ expected: 1, ok: 1, failed: 0 });
    expect((await host.adminRefusals()) - refusedBefore).toBeGreaterThanOrEqual(2);
    expect(result.stderr).toContain(`waiting for the admin container: ${ADMIN_NOT_RUNNING}`);
  });

  it('fails with a clear error when the admin container never comes up within the wait', async () => {
    // Prepare
    await host.adminNotRunningFor(60_000);
    const image = parseImageReference(pushed[0]!.reference);
    try {
      // Act
      const result = await runCommands(host, scriptFor(host, [image], ['linux/amd64'], { adminWaitSeconds: 2 }));
      // Assess
      expect(result.code).not.toBe(0);
      const report = parsePullReport(result.stdout, planFor([image], ['linux/amd64']));
      expect(report.summary).toEqual({ expected: 1, ok: 0, failed: 1 });
      expect(report.error).toContain('the admin container did not accept apiclient exec within 2 s');
      expect(report.error).toContain(ADMIN_NOT_RUNNING);
    } finally {
      await host.adminNotRunningFor(0);
    }
  });

});

describe("pull script and the builder's private state", () => {
  let registry: TestRegistry;
  let host: TestContainerd;
  let pushedImage: PushedImage;

  beforeAll(async () => {
    [registry, host] = await Promise.all([startRegistry(), startContainerd()]);
    pushedImage = await registry.pushImage('team/private-state', 'v1');
  });
  afterAll(async () => {
    await Promise.all([registry?.stop(), host?.stop()]);
  });

  it('removes the admin SSH host keys and leaves the SSM agent state to a unit that wipes it when the builder stops', async () => {
    // Prepare
    const ssh = join(host.hostContainersDir, 'admin', 'etc', 'ssh');
    const ssm = join(host.hostContainersDir, 'control', 'ssm');
    expect(readdirSync(ssh)).toHaveLength(6);
    const image = parseImageReference(pushedImage.reference);

    // Act
    const result = await runCommands(host, scriptFor(host, [image], ['linux/amd64']));

    // Assess: the keys are gone at once; the agent, which is running this script, keeps its state until the stop.
    expect(result.code).toBe(0);
    expect(readdirSync(ssh)).toEqual([]);
    expect(existsSync(join(ssm, FIXTURE_INSTANCE_ID, 'document', 'orchestration'))).toBe(true);
    const units = (await host.systemdRunCalls()).filter((call) => call.includes(`--unit=${WIPE_UNIT}`));
    expect(units).toHaveLength(1);
    expect(units[0]).toEqual(
      expect.arrayContaining([
        '--property=Type=oneshot',
        '--property=RemainAfterExit=yes',
        '--property=Before=host-containers@control.service',
        `--property=RequiresMountsFor=${ssm}`,
        '/usr/bin/true',
      ]),
    );
    await host.shutdown();
    expect(existsSync(ssm)).toBe(false);
    expect(existsSync(join(host.hostContainersDir, 'admin'))).toBe(true);
  });

  it('registers the wipe unit once when the script runs again on the same builder', async () => {
    // Prepare: an earlier test of this host registered it already.
    const before = (await host.systemdRunCalls()).length;
    // Act
    const result = await runCommands(host, scriptFor(host, [parseImageReference(pushedImage.reference)], ['linux/amd64']));
    // Assess
    expect(result.code).toBe(0);
    expect(await host.systemdRunCalls()).toHaveLength(before);
    expect(await host.systemctlCalls()).toContain(`is-active --quiet ${WIPE_UNIT}`);
  });
});

describe('pull script on a data volume that is too small', () => {
  let registry: TestRegistry;
  let host: TestContainerd;
  const images: PushedImage[] = [];

  beforeAll(async () => {
    [registry, host] = await Promise.all([startRegistry(), startContainerd({ diskBytes: 24 * MiB })]);
    for (const repo of ['big/one', 'big/two', 'big/three', 'big/four', 'big/five']) {
      images.push(await registry.pushImage(repo, 'v1', { layerBytes: 4 * MiB }));
    }
  });
  afterAll(async () => {
    await Promise.all([registry?.stop(), host?.stop()]);
  });

  it('fails with how much space is needed instead of running into the time-out', async () => {
    // Act
    const result = await runCommands(host, scriptFor(host, images.map((image) => parseImageReference(image.reference)), ['linux/amd64']));

    // Assess
    expect(result.code).not.toBe(0);
    const report = parsePullReport(result.stdout, planFor(images.map((image) => parseImageReference(image.reference)), ['linux/amd64']));
    expect(report.disk).toBeDefined();
    expect(report.disk!.totalBytes).toBeLessThanOrEqual(24 * MiB);
    expect(report.disk!.neededBytes).toBeGreaterThan(report.disk!.totalBytes);
    expect(report.summary!.failed).toBeGreaterThan(0);
    expect(report.summary!.ok + report.summary!.failed).toBe(5);
    expect(report.failures.length).toBe(report.summary!.failed);
    for (const failure of report.failures) expect(failure.reason).toMatch(/no space left on device|^not pulled: the data volume is full$/);
  });
});

describe('hostile input never reaches a shell', () => {
  it('rejects a reference with a command substitution before any script exists', () => {
    const marker = join(tmpdir(), `pwned-${process.pid}`);
    expect(() => parseImageReference(`docker.io/library/nginx:$(touch ${marker})`)).toThrow(/InvalidImageReference|not allowed/);
    expect(() => parseImageReference(`nginx';touch ${marker};'`)).toThrow(/not allowed/);
    expect(existsSync(marker)).toBe(false);
  });

  it('refuses to generate a script from an object that did not come from the parser', () => {
    const forged = { ...parseImageReference('nginx'), normalized: "nginx'; touch /tmp/pwned; '" } as ImageReference;
    expect(() => generatePullScript({ images: [forged], platforms: ['linux/amd64'], concurrency: 1 })).toThrow(/not a validated reference/);
    expect(() => generatePullScript({ images: ['nginx' as unknown as ImageReference], platforms: ['linux/amd64'], concurrency: 1 })).toThrow(
      /not a validated reference/,
    );
  });

  it('refuses platforms and options outside what the script allows', () => {
    const nginx = parseImageReference('nginx');
    expect(() => generatePullScript({ images: [nginx], platforms: ['linux/amd64;reboot'], concurrency: 1 })).toThrow(/platform/);
    expect(() => generatePullScript({ images: [nginx], platforms: ['linux/amd64'], concurrency: 0 })).toThrow(/concurrency/);
    expect(() => generatePullScript({ images: [nginx], platforms: ['linux/amd64'], concurrency: 1 }, { containerdRoot: '/x $(id)' })).toThrow(/path/);
  });

  it('fails when the admin wait or the host-containers directory is not what the script allows', () => {
    const nginx = parseImageReference('nginx');
    const input = { images: [nginx], platforms: ['linux/amd64'], concurrency: 1 };
    expect(() => generatePullScript(input, { adminWaitSeconds: -1 })).toThrow(/adminWaitSeconds must be an integer from 0 to 3600/);
    expect(() => generatePullScript(input, { adminWaitSeconds: 1.5 })).toThrow(/adminWaitSeconds/);
    expect(() => generatePullScript(input, { hostContainersDir: '/local/host containers' })).toThrow(/path "\/local\/host containers" is not allowed/);
    expect(generatePullScript(input)).toContain("AGENT_STATE='/local/host-containers/control/ssm'");
  });
});

/**
 * Which platforms of a pushed image containerd has unpacked: the unpacker labels the platform's config blob with
 * `containerd.io/gc.ref.snapshot.<snapshotter>=<chain ID>` once its layers are in the snapshotter (containerd
 * core/unpack/unpacker.go; client/image.go in 1.6), so the snapshot stays referenced.
 */
const unpackedPlatforms = async (host: TestContainerd, image: PushedImage): Promise<string[]> => {
  const content = await host.ctr('content', 'ls');
  const unpacked: string[] = [];
  for (const [platform, manifestDigest] of Object.entries(image.platformDigests)) {
    const manifest = JSON.parse(await host.ctr('content', 'get', manifestDigest)) as { config: { digest: string } };
    const line = content.split('\n').find((row) => row.startsWith(manifest.config.digest));
    if (line?.includes('containerd.io/gc.ref.snapshot.overlayfs=')) unpacked.push(platform);
  }
  return unpacked.sort();
};

describe('pull script on containerd 2.x (Bottlerocket aws-k8s-1.33 and later)', () => {
  let registry: TestRegistry;
  let host: TestContainerd;
  const FOREIGN = HOST_PLATFORM === 'linux/amd64' ? 'linux/arm64' : 'linux/amd64';

  beforeAll(async () => {
    [registry, host] = await Promise.all([startRegistry(), startContainerd({ containerdMajor: 2 })]);
  });
  afterAll(async () => {
    await Promise.all([registry?.stop(), host?.stop()]);
  });

  it('leaves a foreign platform fetched but not unpacked when the pull goes through the transfer service (the stand-in is 2.x)', async () => {
    // Prepare
    const image = await registry.pushImage('team/transfer', 'v1', { platforms: BOTH });
    // Act: the pull the script made before it knew of 2.x, one platform at a time, without --local.
    for (const platform of BOTH) {
      await run('apiclient', ['exec', 'admin', 'sheltie', 'ctr', '-a', host.address, '-n', 'k8s.io', 'images', 'pull', '--plain-http', '--platform', platform, image.reference], { env: host.env });
    }
    // Assess
    expect(await unpackedPlatforms(host, image)).toEqual([HOST_PLATFORM]);
    expect(await host.skippedUnpacks()).toEqual([expect.stringContaining(`Unpack configuration not supported, skipping" platform=${FOREIGN}`)]);
    expect((await host.images()).map((stored) => stored.name)).toContain(image.reference);
  });

  it('unpacks both platforms in the combined layout: it sees the 2.x server and pulls with --local', async () => {
    // Prepare
    const image = await registry.pushImage('team/combined', 'v1', { platforms: BOTH });
    const warningsBefore = (await host.skippedUnpacks()).length;
    // Act
    const result = await runCommands(host, scriptFor(host, [parseImageReference(image.reference)], BOTH));
    // Assess
    expect(result.code).toBe(0);
    expect(parsePullReport(result.stdout, planFor([parseImageReference(image.reference)], BOTH)).summary).toEqual({ expected: 2, ok: 2, failed: 0 });
    expect(await unpackedPlatforms(host, image)).toEqual([...BOTH].sort());
    expect(result.stderr).toContain('containerd server major version 2');
    expect(await host.skippedUnpacks()).toHaveLength(warningsBefore);
  });
});
