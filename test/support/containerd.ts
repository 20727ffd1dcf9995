/**
 * A real containerd for tests, standing in for a Bottlerocket host: its own root, state and gRPC socket under a
 * temp dir (optionally on a size-limited tmpfs, to play a data volume that is too small), plus a `bin/`
 * directory to put first on PATH with stand-ins for the host tools the pull script calls:
 *
 * - `apiclient exec admin sheltie <cmd...>` runs `<cmd...>` here and records, for `ctr ... images pull`, when each
 *   pull started and ended (`pullIntervals()`), so a test can show pulls overlapped. It records no arguments
 *   (they may carry credentials).
 * - `systemctl` records its arguments (`systemctlCalls()`) and succeeds: there is no kubelet here.
 *
 * ```ts
 * const host = await startContainerd({ diskBytes: 24 * 1024 ** 2 });  // diskBytes optional (needs root: mount)
 * host.address; host.root; host.binDir; host.env;                        // env: PATH with binDir first
 * await host.images();                                                    // [{ name, digest, labels }] in k8s.io
 * await host.stop();
 * ```
 *
 * Needs root and the Debian `containerd` package; {@link requireContainerdTools} throws a clear message otherwise.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { requireTools } from './registry';
import { stopProcess } from './process';

const run = promisify(execFile);

export interface ContainerdImage {
  name: string;
  type: string;
  digest: string;
  labels: Record<string, string>;
}

export interface TestContainerd {
  address: string;
  /** containerd root (content + snapshots): the pull script's free-space check looks here. */
  root: string;
  binDir: string;
  /** process.env with PATH starting at binDir. */
  env: NodeJS.ProcessEnv;
  images(): Promise<ContainerdImage[]>;
  /** [start, end] in ms of each `ctr images pull` that went through the stand-in apiclient. */
  pullIntervals(): Promise<Array<[number, number]>>;
  systemctlCalls(): Promise<string[]>;
  /** Runs `ctr -a <address> -n k8s.io <args>`. */
  ctr(...args: string[]): Promise<string>;
  stop(): Promise<void>;
}

export const requireContainerdTools = (): void => {
  requireTools({ containerd: '/usr/bin/containerd', ctr: '/usr/bin/ctr' });
  if (process.getuid?.() !== 0) {
    throw new Error('These tests run a real containerd and need root (CI runs as root); run them as root after scripts/test-tools.sh.');
  }
};

const APICLIENT = `#!/bin/bash
# Stand-in for Bottlerocket's apiclient: "apiclient exec admin sheltie <cmd...>" runs <cmd...> on this host.
if [ "\${1:-}" != exec ] || [ "\${2:-}" != admin ] || [ "\${3:-}" != sheltie ]; then
  echo "stand-in apiclient: only 'exec admin sheltie <cmd...>' is supported" >&2
  exit 2
fi
shift 3
is_pull=0
if [ "\${1:-}" = ctr ]; then
  for ((k = 2; k < $#; k++)); do
    if [ "\${!k}" = images ]; then n=$((k + 1)); [ "\${!n}" = pull ] && is_pull=1; break; fi
  done
fi
if [ $is_pull = 1 ]; then
  start=$(date +%s%3N)
  "$@"
  rc=$?
  printf '%s %s\\n' "$start" "$(date +%s%3N)" >>"$SF_TEST_DIR/pulls.log"
  exit $rc
fi
exec "$@"
`;

const SYSTEMCTL = `#!/bin/bash
# Stand-in for the host's systemctl: there is no kubelet in the tests.
printf '%s\\n' "$*" >>"$SF_TEST_DIR/systemctl.log"
`;

/**
 * Starts containerd. With `diskBytes`, its root lives on a tmpfs of that size (a too-small data volume).
 */
export const startContainerd = async (options: { diskBytes?: number } = {}): Promise<TestContainerd> => {
  requireContainerdTools();
  const dir = await mkdtemp(join(tmpdir(), 'sf-containerd-'));
  const root = join(dir, 'root');
  const state = join(dir, 'state');
  const binDir = join(dir, 'bin');
  const address = join(dir, 'containerd.sock');
  await Promise.all([mkdir(root), mkdir(state), mkdir(binDir)]);
  let mounted = false;
  if (options.diskBytes) {
    await run('mount', ['-t', 'tmpfs', '-o', `size=${options.diskBytes}`, 'tmpfs', root]);
    mounted = true;
  }
  await writeFile(join(binDir, 'apiclient'), APICLIENT);
  await writeFile(join(binDir, 'systemctl'), SYSTEMCTL);
  await Promise.all([chmod(join(binDir, 'apiclient'), 0o755), chmod(join(binDir, 'systemctl'), 0o755)]);
  const config = join(dir, 'config.toml');
  await writeFile(
    config,
    [
      'version = 2',
      `root = "${root}"`,
      `state = "${state}"`,
      'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
      '[grpc]',
      `  address = "${address}"`,
      '[ttrpc]',
      `  address = "${address}.ttrpc"`,
      '[debug]',
      `  address = ""`,
      '[metrics]',
      `  address = ""`,
      '',
    ].join('\n'),
  );

  let output = '';
  const child: ChildProcess = spawn('/usr/bin/containerd', ['--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  const keep = (chunk: Buffer): void => {
    output = (output + chunk.toString()).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);

  const ctr = async (...args: string[]): Promise<string> =>
    (await run('/usr/bin/ctr', ['-a', address, '-n', 'k8s.io', ...args], { maxBuffer: 16 * 1024 * 1024 })).stdout;

  const stop = async (): Promise<void> => {
    await stopProcess(child);
    // Snapshot mounts (overlay) may outlive containerd; unmount whatever is under the dir before removing it.
    try {
      const mounts = (await readFile('/proc/mounts', 'utf8'))
        .split('\n')
        .map((line) => line.split(' ')[1] ?? '')
        .filter((point) => point.startsWith(dir))
        .sort((a, b) => b.length - a.length);
      for (const point of mounts) await run('umount', ['-l', point]).catch(() => undefined);
    } catch {
      // nothing mounted
    }
    if (mounted) await run('umount', ['-l', root]).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`containerd exited with ${child.exitCode}: ${output}`);
    }
    if (existsSync(address)) {
      try {
        await ctr('version');
        break;
      } catch {
        // not serving yet
      }
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`containerd did not serve ${address} within 20 s: ${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }

  const images = async (): Promise<ContainerdImage[]> => {
    const lines = (await ctr('images', 'ls')).trim().split('\n').slice(1).filter(Boolean);
    return lines.map((line) => {
      const [name = '', type = '', digest = '', ...rest] = line.trim().split(/\s+/);
      const labelText = rest.at(-1) ?? '';
      const labels: Record<string, string> = {};
      for (const pair of labelText.split(',')) {
        const eq = pair.indexOf('=');
        if (eq > 0) labels[pair.slice(0, eq)] = pair.slice(eq + 1);
      }
      return { name, type, digest, labels };
    });
  };

  const readLines = async (file: string): Promise<string[]> =>
    existsSync(file) ? (await readFile(file, 'utf8')).split('\n').filter(Boolean) : [];

  return {
    address,
    root,
    binDir,
    env: { ...process.env, PATH: `${binDir}:${process.env.PATH ?? '/usr/bin:/bin'}`, SF_TEST_DIR: dir },
    images,
    pullIntervals: async () =>
      (await readLines(join(dir, 'pulls.log'))).map((line) => line.split(' ').map(Number) as [number, number]),
    systemctlCalls: () => readLines(join(dir, 'systemctl.log')),
    ctr,
    stop,
  };
};
