/**
 * A real OCI registry for tests: the CNCF distribution registry (`/usr/bin/docker-registry`, Debian package
 * `docker-registry`) serving on 127.0.0.1, plus hand-made OCI images pushed into it with `skopeo`.
 *
 * API (shared with the digest-resolution tests):
 *
 * ```ts
 * const registry = await startRegistry();                       // anonymous pulls and pushes
 * const priv = await startRegistry({ auth: { username: 'u', password: 'p' } }); // htpasswd basic auth
 * registry.host;                                                // '127.0.0.1:<port>'
 * const pushed = await registry.pushImage('team/app', 'v1', { platforms: ['linux/amd64', 'linux/arm64'] });
 * pushed.reference;       // '127.0.0.1:<port>/team/app:v1'
 * pushed.digest;          // digest the tag resolves to (the image index when several platforms, else the manifest)
 * pushed.platformDigests; // { 'linux/amd64': 'sha256:…', 'linux/arm64': 'sha256:…' } (per-platform manifests)
 * pushed.platformSizes;   // { 'linux/amd64': <manifest's config + layer bytes>, … }
 * await registry.stop();                                        // kills the registry, removes its storage
 * ```
 *
 * `pushImage` options: `platforms` (default `['linux/amd64']`; one platform pushes a plain manifest, several
 * push an image index), `layerBytes` (size of an incompressible file in the layer, default 1 KiB; use MiBs to fill
 * a small disk), `index` (force an image index even for one platform), `seed` (varies the content so two pushes of
 * the same repo differ; default: repo:tag). Digests are computed locally from the bytes written and pushed with
 * `--preserve-digests`, then checked against the registry's `Docker-Content-Digest`, so they are the registry's.
 *
 * Needs root-free tools only, but the binaries must be installed (`scripts/test-tools.sh`); {@link requireTools}
 * throws a clear message when they are not, so a test never skips silently.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { stopProcess } from './process';

const run = promisify(execFile);

export const REGISTRY_BINARY = '/usr/bin/docker-registry';

export interface RegistryAuth {
  username: string;
  password: string;
}

export interface PushOptions {
  /** containerd platforms, e.g. `linux/amd64`. @default ['linux/amd64'] */
  platforms?: string[];
  /** Bytes of random (incompressible) data in each platform's layer. @default 1024 */
  layerBytes?: number;
  /** Push an image index even for a single platform. @default platforms.length > 1 */
  index?: boolean;
  /** Varies the content. @default `${repo}:${tag}` */
  seed?: string;
}

export interface PushedImage {
  repo: string;
  tag: string;
  /** `<host>/<repo>:<tag>` */
  reference: string;
  /** What the tag resolves to: the index digest for an index, else the manifest digest. */
  digest: string;
  /** Per-platform manifest digest. */
  platformDigests: Record<string, string>;
  /** Per-platform compressed size: config + layers as listed in the manifest. */
  platformSizes: Record<string, number>;
  mediaType: string;
}

export interface TestRegistry {
  /** `127.0.0.1:<port>` */
  host: string;
  port: number;
  auth?: RegistryAuth;
  /** Storage directory (filesystem driver). */
  storageDir: string;
  pushImage(repo: string, tag: string, options?: PushOptions): Promise<PushedImage>;
  /** HEAD /v2/<repo>/manifests/<ref>: the registry's Docker-Content-Digest, or undefined on 404. */
  headDigest(repo: string, ref: string): Promise<string | undefined>;
  stop(): Promise<void>;
}

/** Throws a message naming the missing tools and how to install them. */
export const requireTools = (tools: Record<string, string>): void => {
  const missing = Object.entries(tools)
    .filter(([, path]) => !existsSync(path))
    .map(([name]) => name);
  if (missing.length > 0) {
    throw new Error(
      `These tests run real tools and ${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} missing. ` +
        `Run 'bash scripts/test-tools.sh' as root (apt-get install -y containerd docker-registry skopeo apache2-utils).`,
    );
  }
};

export const requireRegistryTools = (): void =>
  requireTools({ 'docker-registry': REGISTRY_BINARY, skopeo: '/usr/bin/skopeo', htpasswd: '/usr/bin/htpasswd' });

/** A TCP port free right now on 127.0.0.1. */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });

const sha256 = (data: Buffer | string): string => createHash('sha256').update(data).digest('hex');

/** A minimal ustar archive of regular files (enough for an image layer). */
export const tarFiles = (files: Record<string, Buffer>): Buffer => {
  const blocks: Buffer[] = [];
  for (const [name, content] of Object.entries(files)) {
    const header = Buffer.alloc(512);
    header.write(name, 0, 100, 'utf8');
    header.write('0000644\0', 100, 'ascii');
    header.write('0000000\0', 108, 'ascii');
    header.write('0000000\0', 116, 'ascii');
    header.write(content.length.toString(8).padStart(11, '0') + '\0', 124, 'ascii');
    header.write('00000000000\0', 136, 'ascii');
    header.write('        ', 148, 'ascii');
    header.write('0', 156, 'ascii');
    header.write('ustar\0', 257, 'ascii');
    header.write('00', 263, 'ascii');
    let sum = 0;
    for (const byte of header) sum += byte;
    header.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'ascii');
    blocks.push(header, content, Buffer.alloc((512 - (content.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
};

interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { architecture: string; os: string };
  annotations?: Record<string, string>;
}

const MEDIA = {
  index: 'application/vnd.oci.image.index.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layer: 'application/vnd.oci.image.layer.v1.tar+gzip',
};

/** Writes an OCI image layout for `tag` under `dir`; returns what the tag points at. */
const writeOciLayout = async (
  dir: string,
  tag: string,
  platforms: string[],
  options: { layerBytes: number; index: boolean; seed: string },
): Promise<Omit<PushedImage, 'repo' | 'tag' | 'reference'>> => {
  const blobDir = join(dir, 'blobs', 'sha256');
  await mkdir(blobDir, { recursive: true });
  const putBlob = async (data: Buffer, mediaType: string): Promise<Descriptor> => {
    const hex = sha256(data);
    await writeFile(join(blobDir, hex), data);
    return { mediaType, digest: `sha256:${hex}`, size: data.length };
  };

  const platformDigests: Record<string, string> = {};
  const platformSizes: Record<string, number> = {};
  const manifests: Descriptor[] = [];
  for (const platform of platforms) {
    const [os = 'linux', architecture = 'amd64'] = platform.split('/');
    // Random bytes do not compress, so layerBytes is close to what the layer costs on disk.
    const tar = tarFiles({
      'etc/snapshot-factory-test': Buffer.from(`${options.seed} ${platform}\n`),
      'data/payload.bin': options.layerBytes > 0 ? randomBytes(options.layerBytes) : Buffer.alloc(0),
    });
    const layer = await putBlob(gzipSync(tar), MEDIA.layer);
    const config = await putBlob(
      Buffer.from(
        JSON.stringify({
          architecture,
          os,
          config: { Labels: { 'snapshot-factory.test': options.seed } },
          rootfs: { type: 'layers', diff_ids: [`sha256:${sha256(tar)}`] },
        }),
      ),
      MEDIA.config,
    );
    const manifest = await putBlob(
      Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.manifest, config, layers: [layer] })),
      MEDIA.manifest,
    );
    platformDigests[platform] = manifest.digest;
    platformSizes[platform] = config.size + layer.size;
    manifests.push({ ...manifest, platform: { architecture, os } });
  }

  let top: Descriptor;
  if (options.index) {
    top = await putBlob(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.index, manifests })), MEDIA.index);
  } else {
    const { platform: _platform, ...manifest } = manifests[0]!;
    top = manifest;
  }
  await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await writeFile(
    join(dir, 'index.json'),
    JSON.stringify({ schemaVersion: 2, manifests: [{ ...top, annotations: { 'org.opencontainers.image.ref.name': tag } }] }),
  );
  return { digest: top.digest, platformDigests, platformSizes, mediaType: top.mediaType };
};

const waitForRegistry = async (url: string, child: ChildProcess, logs: () => string): Promise<void> => {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited with ${child.exitCode}: ${logs()}`);
    try {
      const response = await fetch(`${url}/v2/`);
      if (response.status === 200 || response.status === 401) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`docker-registry did not answer ${url}/v2/ within 20 s: ${logs()}`);
};

/**
 * Starts a registry on 127.0.0.1:<free port> with filesystem storage in a temp dir; with `auth`, pushes and
 * pulls need basic-auth credentials (htpasswd, bcrypt). Call `stop()` in `afterAll`.
 */
export const startRegistry = async (options: { auth?: RegistryAuth } = {}): Promise<TestRegistry> => {
  requireRegistryTools();
  const root = await mkdtemp(join(tmpdir(), 'sf-registry-'));
  const storageDir = join(root, 'storage');
  await mkdir(storageDir);
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const { auth } = options;

  let authConfig = '';
  if (auth) {
    const htpasswd = join(root, 'htpasswd');
    await run('htpasswd', ['-Bbc', htpasswd, auth.username, auth.password]);
    authConfig = `auth:\n  htpasswd:\n    realm: snapshot-factory-test\n    path: ${htpasswd}\n`;
  }
  const configPath = join(root, 'config.yml');
  await writeFile(
    configPath,
    `version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: ${storageDir}\n  delete:\n    enabled: true\n` +
      `http:\n  addr: ${host}\n${authConfig}`,
  );

  let output = '';
  const child = spawn(REGISTRY_BINARY, ['serve', configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  const keep = (chunk: Buffer): void => {
    output = (output + chunk.toString()).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  try {
    await waitForRegistry(`http://${host}`, child, () => output);
  } catch (error) {
    child.kill('SIGKILL');
    await rm(root, { recursive: true, force: true });
    throw error;
  }

  const authHeader: Record<string, string> = auth
    ? { authorization: `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}` }
    : {};

  const headDigest = async (repo: string, ref: string): Promise<string | undefined> => {
    const response = await fetch(`http://${host}/v2/${repo}/manifests/${ref}`, {
      method: 'HEAD',
      headers: { ...authHeader, accept: [MEDIA.index, MEDIA.manifest].join(', ') },
    });
    if (response.status === 404) return undefined;
    if (!response.ok) throw new Error(`HEAD ${repo}:${ref} answered ${response.status}`);
    return response.headers.get('docker-content-digest') ?? undefined;
  };

  const pushImage = async (repo: string, tag: string, push: PushOptions = {}): Promise<PushedImage> => {
    const platforms = push.platforms ?? ['linux/amd64'];
    const layoutDir = await mkdtemp(join(root, 'oci-'));
    const image = await writeOciLayout(layoutDir, tag, platforms, {
      layerBytes: push.layerBytes ?? 1024,
      index: push.index ?? platforms.length > 1,
      seed: push.seed ?? `${repo}:${tag}`,
    });
    const args = ['copy', '--quiet', '--insecure-policy', '--dest-tls-verify=false', '--preserve-digests', '--all'];
    if (auth) args.push('--dest-creds', `${auth.username}:${auth.password}`);
    args.push(`oci:${layoutDir}:${tag}`, `docker://${host}/${repo}:${tag}`);
    try {
      await run('skopeo', args, { maxBuffer: 16 * 1024 * 1024 });
    } catch (error) {
      const stderr = (error as { stderr?: string }).stderr ?? String(error);
      throw new Error(`skopeo could not push ${repo}:${tag} to ${host}: ${stderr}`);
    } finally {
      await rm(layoutDir, { recursive: true, force: true });
    }
    const served = await headDigest(repo, tag);
    if (served !== image.digest) {
      throw new Error(`registry serves ${repo}:${tag} as ${served}, expected ${image.digest}`);
    }
    return { repo, tag, reference: `${host}/${repo}:${tag}`, ...image };
  };

  const stop = async (): Promise<void> => {
    await stopProcess(child);
    await rm(root, { recursive: true, force: true });
  };

  return { host, port, auth, storageDir, pushImage, headDigest, stop };
};
