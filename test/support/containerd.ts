/**
 * A real containerd for tests, standing in for a Bottlerocket host: its own root, state and gRPC socket under a
 * temp dir (optionally on a size-limited tmpfs, to play a data volume that is too small), plus a `bin/`
 * directory to put first on PATH with stand-ins for the host tools the pull script calls, each as faithful to the
 * real one as its comment says (and naming what it leaves out):
 *
 * - `apiclient exec admin sheltie <cmd...>` runs `<cmd...>` here with its stderr JOINED to its stdout, stdin
 *   passed and the exit code returned, as Bottlerocket's apiclient does; until the admin container "runs"
 *   (`adminReadyAfterMs`, `adminNotRunningFor(ms)`) it answers {@link ADMIN_NOT_RUNNING} with status 1. It records,
 *   for `ctr ... images pull`, when each pull started and ended (`pullIntervals()`), never the arguments (they may
 *   carry credentials), and how many calls it refused (`adminRefusals()`).
 * - `systemctl` records its arguments (`systemctlCalls()`) and succeeds (no kubelet here); `is-active` answers.
 * - `systemd-run` records its arguments (`systemdRunCalls()`); `shutdown()` runs the ExecStop= of those units.
 * - with `containerdMajor: 2`, a `ctr` that behaves as containerd 2.x's (transfer-service pulls unpack only the
 *   host's platform; `skippedUnpacks()`), see {@link CTR_2X}.
 * - `hostContainersDir`: a `/local/host-containers` with the admin SSH host keys and the SSM agent's state.
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

/** The test machine's platform: what containerd 2.x's default unpack configuration covers. */
export const HOST_PLATFORM = `linux/${process.arch === 'arm64' ? 'arm64' : 'amd64'}`;

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
  /** How many `apiclient exec` calls were refused because the admin container was not running yet. */
  adminRefusals(): Promise<number>;
  /** Each `systemd-run` call's arguments. */
  systemdRunCalls(): Promise<string[][]>;
  /** containerd 2.x stand-in: the "Unpack configuration not supported, skipping" warnings its pulls logged. */
  skippedUnpacks(): Promise<string[]>;
  /** The fixture's `/local/host-containers` (admin SSH host keys, SSM agent state): {@link writePrivateHostState}. */
  hostContainersDir: string;
  /** Plays the instance's stop: runs the ExecStop= of every unit the script registered with systemd-run. */
  shutdown(): Promise<void>;
  /** The admin container is not running from now on, for `ms` (as just after boot). */
  adminNotRunningFor(ms: number): Promise<void>;
  /**
   * Test-only fault, not host behaviour: after each successful `ctr images pull`, the stand-in apiclient runs this
   * bash text with the pull's command line as `$@` (`$CTR` is `ctr -a <address> -n k8s.io`), e.g. to remove a
   * layer or a snapshot the pull stored, as a disk error or another process could. Its output goes to a log.
   */
  afterPull(bash: string): Promise<void>;
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

/**
 * The not-running answer of `apiclient exec admin ...` before host-ctr has started the admin container's task.
 * apiserver runs `ctr -a <host containerd> task exec --exec-id <id> admin <cmd>` (bottlerocket-core-kit
 * sources/api/apiserver/src/server/exec/child.rs); ctr loads the task (containerd client/container.go `loadTask`:
 * "no running task found: %w" around the tasks service's "task <id> not found: not found") and prints its error as
 * `ctr: <error>` with exit status 1, which comes back through apiclient's joined output and exit code. (While the
 * container does not exist at all yet, ctr says `container "admin" in namespace "default": not found` instead,
 * containerd core/metadata/containers.go; the stand-in answers the task form only.)
 */
export const ADMIN_NOT_RUNNING = 'ctr: no running task found: task admin not found: not found';

/**
 * Stand-in for Bottlerocket's apiclient, as it behaves in the control container where SSM runs our script:
 * - `apiclient exec <target> <cmd...>` runs <cmd...> in the target host container with stdin passed through and
 *   closed at EOF, and exits with <cmd>'s exit code (apiclient src/exec.rs: the close frame's reason carries it).
 * - stdout and stderr of <cmd> are ONE stream, delivered on apiclient's stdout: without a TTY the apiserver gives the
 *   child one OS pipe for both (core-kit sources/api/apiserver/src/server/exec/child.rs `pipe_fds`;
 *   sources/api/api-exec.md "We use an OS pipe to combine stdout and stderr"). So `2>file` on the caller's side
 *   receives nothing, and anything the command says on stderr is mixed into its stdout.
 * - until the admin container runs (SF_ADMIN_READY_AT, ms since the epoch), every exec answers ADMIN_NOT_RUNNING
 *   with exit status 1, as ctr task exec does for a task that is not there.
 * Left out: the WebSocket transport, the heartbeat, the PTY mode (only used when stdin/stdout are terminals), other
 * targets than `admin` and commands other than `sheltie <cmd>` (sheltie is `nsenter -t 1 -a -- "$@"`,
 * bottlerocket-admin-container sheltie: the stand-in runs <cmd> right here, as the host).
 */
const APICLIENT = `#!/bin/bash
# Milliseconds since the epoch from bash's own clock: the script calls apiclient hundreds of times per test file, and a
# date and a cat process per call were a second or two of the file's CPU time.
now_ms() { local us=\${EPOCHREALTIME/[.,]/}; REPLY=$((us / 1000)); }
if [ "\${1:-}" != exec ] || [ "\${2:-}" != admin ] || [ "\${3:-}" != sheltie ]; then
  echo "stand-in apiclient: only 'exec admin sheltie <cmd...>' is supported" >&2
  exit 2
fi
shift 3
now_ms; now=$REPLY
read -r ready_at <"$SF_TEST_DIR/admin-ready-at"
if [ "$now" -lt "$ready_at" ]; then
  echo "$now" >>"$SF_TEST_DIR/admin-refused.log"
  echo '${ADMIN_NOT_RUNNING}'
  exit 1
fi
is_pull=0
if [ "\${1:-}" = ctr ]; then
  for ((k = 2; k < $#; k++)); do
    if [ "\${!k}" = images ]; then n=$((k + 1)); [ "\${!n}" = pull ] && is_pull=1; break; fi
  done
fi
if [ $is_pull = 1 ]; then
  now_ms; start=$REPLY
  "$@" 2>&1
  rc=$?
  now_ms; printf '%s %s\\n' "$start" "$REPLY" >>"$SF_TEST_DIR/pulls.log"
  # Test-only fault: something on the host alters containerd's store right after a pull (afterPull()).
  if [ $rc = 0 ] && [ -x "$SF_TEST_DIR/after-pull" ]; then "$SF_TEST_DIR/after-pull" "$@" >>"$SF_TEST_DIR/after-pull.log" 2>&1; fi
  exit $rc
fi
exec "$@" 2>&1
`;

/**
 * `ctr` as containerd 2.x's behaves, built on Debian's ctr 1.6 (the only containerd here). Sources, containerd
 * release/2.1: cmd/ctr/commands/images/pull.go (without `--local` the pull goes to the transfer service with
 * `image.WithUnpack(platform)` for each --platform; `--local` fetches in the client and unpacks every platform given,
 * without a snapshotter-platform check); core/transfer/local/pull.go (each requested unpack must match the service's
 * unpack configuration, else containerd logs "Unpack configuration not supported, skipping" and the pull still
 * succeeds, fetched but not unpacked); plugins/transfer/plugin_defaults_other.go (the default unpack configuration is
 * the host's platform only, `platforms.DefaultSpec()`).
 * So: `version` reports v2.1.4; `images pull --local` is ctr 1.6's own pull (the same client-side path);
 * `images pull` of the host's platform pulls and unpacks; of another platform it fetches without unpacking
 * (ctr 1.6 `content fetch`, which stores the image with its labels) and logs the warning to transfer.log.
 * Left out: the transfer service's progress output format and its other options.
 */
const CTR_2X = `#!/bin/bash
REAL=/usr/bin/ctr
args=("$@")
for ((k = 0; k < \${#args[@]}; k++)); do
  case "\${args[$k]}" in
    version)
      "$REAL" "$@" | sed -E 's/^( *Version: *).*/\\1v2.1.4/'
      exit "\${PIPESTATUS[0]}" ;;
    images|image|i)
      [ "\${args[$((k + 1))]:-}" = pull ] || exec "$REAL" "$@"
      use_local=0 platform='' rest=()
      for ((m = k + 2; m < \${#args[@]}; m++)); do
        a=\${args[$m]}
        if [ "$a" = --local ]; then use_local=1; continue; fi
        if [ "$a" = --platform ]; then platform=\${args[$((m + 1))]}; fi
        rest+=("$a")
      done
      if [ $use_local = 1 ] || [ "$platform" = "$SF_HOST_PLATFORM" ] || [ -z "$platform" ]; then
        exec "$REAL" "\${args[@]:0:$k}" images pull "\${rest[@]}"
      fi
      printf 'level=warning msg="Unpack configuration not supported, skipping" platform=%s snapshotter=\\n' "$platform" >>"$SF_TEST_DIR/transfer.log"
      exec "$REAL" "\${args[@]:0:$k}" content fetch "\${rest[@]}" ;;
    -*) ;;
  esac
done
exec "$REAL" "$@"
`;

/**
 * Stand-in for the host's systemctl: records its arguments and succeeds (there is no kubelet in the tests), except
 * `is-active [--quiet] <unit>`, which answers as systemctl does: "active" and 0 for a unit systemd-run registered,
 * else "inactive" and 3 (systemctl(1), "is-active": non-zero when not active; LSB status 3 "not running").
 */
const SYSTEMCTL = `#!/bin/bash
printf '%s\\n' "$*" >>"$SF_TEST_DIR/systemctl.log"
if [ "\${1:-}" = is-active ]; then
  quiet=0 unit=''
  for a in "\${@:2}"; do case "$a" in --quiet|-q) quiet=1 ;; *) unit=$a ;; esac; done
  if grep -q -F -- "--unit=$unit" "$SF_TEST_DIR/systemd-run.log" 2>/dev/null; then
    [ $quiet = 1 ] || echo active
    exit 0
  fi
  [ $quiet = 1 ] || echo inactive
  exit 3
fi
`;

/**
 * Stand-in for the host's systemd-run: records each call (arguments separated by TAB) and succeeds. The unit is not
 * started: `shutdown()` plays what systemd does to it when the instance stops (runs its ExecStop=).
 */
const SYSTEMD_RUN = `#!/bin/bash
(IFS=$'\\t'; printf '%s\\n' "$*") >>"$SF_TEST_DIR/systemd-run.log"
`;

/**
 * Starts containerd. With `diskBytes`, its root lives on a tmpfs of that size (a too-small data volume).
 */
export interface ContainerdOptions {
  /** Bytes of the tmpfs the containerd root lives on (a data volume that is too small; needs root: mount). */
  diskBytes?: number;
  /**
   * The admin container does not run until this long after start: apiclient exec answers {@link ADMIN_NOT_RUNNING}.
   * On a real host it starts when host-ctr has pulled and started it, some seconds after boot. @default 0
   */
  adminReadyAfterMs?: number;
  /** 2 puts the containerd 2.x `ctr` stand-in ({@link CTR_2X}) first on PATH. @default 1 (Debian's ctr 1.6 as is) */
  containerdMajor?: 1 | 2;
}

/** The instance ID whose SSM agent state the fixture's host-containers directory holds. */
export const FIXTURE_INSTANCE_ID = 'i-0123456789abcdef0';

/**
 * Writes, under `<dir>/host-containers`, the builder's private state as Bottlerocket lays it out on the data volume
 * (host-ctr mounts `/local/host-containers/<name>` at `/.bottlerocket/host-containers/current`, core-kit
 * sources/host-ctr/cmd/host-ctr/main.go `withDefaultMounts`): the admin container's SSH host keys
 * (bottlerocket-admin-container start_admin.sh, `${PERSISTENT_STORAGE_BASE_DIR}/etc/ssh/ssh_host_<alg>_key[.pub]`
 * for rsa, ecdsa, ed25519) and the SSM agent's state (bottlerocket-control-container Dockerfile links
 * /var/lib/amazon/ssm to `current/ssm`; amazon-ssm-agent agent/appconfig: `<instance>/document/orchestration`,
 * `.../document/state/completed`, `credentials`, `Vault`).
 */
const writePrivateHostState = async (hostContainers: string): Promise<void> => {
  const ssh = join(hostContainers, 'admin', 'etc', 'ssh');
  const ssm = join(hostContainers, 'control', 'ssm');
  const orchestration = join(ssm, FIXTURE_INSTANCE_ID, 'document', 'orchestration', '5f1b2c3d-0000-4000-8000-000000000000', 'awsrunShellScript', '0.awsrunShellScript');
  const completed = join(ssm, FIXTURE_INSTANCE_ID, 'document', 'state', 'completed');
  await Promise.all([mkdir(ssh, { recursive: true }), mkdir(orchestration, { recursive: true }), mkdir(completed, { recursive: true }), mkdir(join(ssm, 'Vault', 'Store'), { recursive: true })]);
  for (const alg of ['rsa', 'ecdsa', 'ed25519']) {
    await writeFile(join(ssh, `ssh_host_${alg}_key`), `private ${alg} host key\n`, { mode: 0o600 });
    await writeFile(join(ssh, `ssh_host_${alg}_key.pub`), `public ${alg} host key\n`);
  }
  await writeFile(join(orchestration, '_script.sh'), 'the pull script\n');
  await writeFile(join(orchestration, 'stdout'), 'SNAPSHOT_FACTORY_SUMMARY\n');
  await writeFile(join(completed, '5f1b2c3d-0000-4000-8000-000000000000'), '{"DocumentInformation":{}}\n');
  await writeFile(join(ssm, 'credentials'), '[default]\naws_access_key_id = ASIAEXAMPLE\n');
};

export const startContainerd = async (options: ContainerdOptions = {}): Promise<TestContainerd> => {
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
  const tools: Record<string, string> = { apiclient: APICLIENT, systemctl: SYSTEMCTL, 'systemd-run': SYSTEMD_RUN };
  if (options.containerdMajor === 2) tools.ctr = CTR_2X;
  for (const [name, text] of Object.entries(tools)) {
    await writeFile(join(binDir, name), text);
    await chmod(join(binDir, name), 0o755);
  }
  const hostContainersDir = join(dir, 'local', 'host-containers');
  await writePrivateHostState(hostContainersDir);
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

  // The host "starts" now that containerd serves: the admin container runs adminReadyAfterMs later.
  await writeFile(join(dir, 'admin-ready-at'), String(Date.now() + (options.adminReadyAfterMs ?? 0)));

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
    env: { ...process.env, PATH: `${binDir}:${process.env.PATH ?? '/usr/bin:/bin'}`, SF_TEST_DIR: dir, SF_HOST_PLATFORM: HOST_PLATFORM },
    images,
    pullIntervals: async () =>
      (await readLines(join(dir, 'pulls.log'))).map((line) => line.split(' ').map(Number) as [number, number]),
    systemctlCalls: () => readLines(join(dir, 'systemctl.log')),
    adminRefusals: async () => (await readLines(join(dir, 'admin-refused.log'))).length,
    systemdRunCalls: async () => (await readLines(join(dir, 'systemd-run.log'))).map((line) => line.split('\t')),
    skippedUnpacks: () => readLines(join(dir, 'transfer.log')),
    hostContainersDir,
    afterPull: async (bash: string) => {
      await writeFile(join(dir, 'after-pull'), `#!/bin/bash\nCTR=(/usr/bin/ctr -a '${address}' -n k8s.io)\n${bash}\n`);
      await chmod(join(dir, 'after-pull'), 0o755);
    },
    adminNotRunningFor: (ms: number) => writeFile(join(dir, 'admin-ready-at'), String(Date.now() + ms)),
    shutdown: async () => {
      // What systemd does to a transient unit when the instance stops: runs its ExecStop= command line.
      for (const call of (await readLines(join(dir, 'systemd-run.log'))).map((line) => line.split('\t'))) {
        const stops = call.flatMap((arg, index) => {
          const value = arg.startsWith('--property=') ? arg.slice(11) : call[index - 1] === '-p' ? arg : '';
          return value.startsWith('ExecStop=') ? [value.slice('ExecStop='.length)] : [];
        });
        for (const line of stops) {
          const [file = '', ...args] = line.split(' ').filter(Boolean);
          await run(file, args);
        }
      }
    },
    ctr,
    stop,
  };
};
