/**
 * The on-instance pull script sent with SSM Run Command (`AWS-RunShellScript`), and the parser of the report it
 * prints. docs/pull-script.md walks through the script; this file is the only place its text is made.
 *
 * Report format ({@link REPORT_LINES}; stdout, one line per fact, fields separated by TAB, printed only at the very
 * end). GetCommandInvocation keeps only the first 24,000 characters of stdout, so the report is compact and ordered:
 *
 * ```
 * SNAPSHOT_FACTORY_SUMMARY <pulls expected> <pulls ok> <pulls failed>    (first: the verdict survives any cut)
 * SNAPSHOT_FACTORY_ERROR   <reason>                                     (only when the script could not start pulling)
 * SNAPSHOT_FACTORY_VOLUME  <bytes used> <bytes total>                 (the data volume after the pulls, when readable)
 * SNAPSHOT_FACTORY_DISK    <bytes needed (estimate)> <bytes free> <bytes total>   (only when the volume ran out)
 * SNAPSHOT_FACTORY_IMAGE   <image index> <platform index> <bytes> <digest, or "=" when it is DIGESTS[image index]>
 * SNAPSHOT_FACTORY_UNVERIFIED <image index> <platform index> <reason>  (pulled, but no longer complete and unpacked)
 * SNAPSHOT_FACTORY_FAILED  <image index> <platform index> <reason>
 * SNAPSHOT_FACTORY_END                                                  (last: the report is complete)
 * ```
 *
 * Images and platforms are named by their index in the script's `REFS` and `PLATFORMS` arrays (the workflow knows
 * both lists); the digest is printed only when no expected digest was given (a pull whose digest differs from the
 * expected one is a failure). `<bytes>` is the platform's compressed size (config + layers of its manifest).
 * Successes come before failures: at the documented maximum (100 images x 2 platforms) every success line fits in
 * well under a third of the limit ({@link successReportMaxChars}); only long failure reasons can overflow, and the
 * missing `SNAPSHOT_FACTORY_END` line then says the list was cut.
 */
import { InvalidInputError } from './errors';
import { isValidatedReference, parseImageReference, isEcrDomain, type ImageReference } from './image-reference';
import type { PulledImage } from './schemas';

export const REPORT_PREFIX = 'SNAPSHOT_FACTORY_';

/**
 * The report's lines and their fields: the one definition both the script's `printf` formats and
 * {@link reportLine} (used by the simulated SSM agent) are made from, so the two cannot drift apart.
 */
export const REPORT_LINES = {
  summary: { tag: 'SNAPSHOT_FACTORY_SUMMARY', fields: ['expected', 'ok', 'failed'] },
  error: { tag: 'SNAPSHOT_FACTORY_ERROR', fields: ['reason'] },
  disk: { tag: 'SNAPSHOT_FACTORY_DISK', fields: ['neededBytes', 'freeBytes', 'totalBytes'] },
  volume: { tag: 'SNAPSHOT_FACTORY_VOLUME', fields: ['usedBytes', 'totalBytes'] },
  image: { tag: 'SNAPSHOT_FACTORY_IMAGE', fields: ['imageIndex', 'platformIndex', 'bytes', 'digest'] },
  unverified: { tag: 'SNAPSHOT_FACTORY_UNVERIFIED', fields: ['imageIndex', 'platformIndex', 'reason'] },
  failed: { tag: 'SNAPSHOT_FACTORY_FAILED', fields: ['imageIndex', 'platformIndex', 'reason'] },
  end: { tag: 'SNAPSHOT_FACTORY_END', fields: [] },
} as const;
export type ReportLineKind = keyof typeof REPORT_LINES;
/** The digest field of an image line whose digest is the expected one (`DIGESTS[i]`). */
export const EXPECTED_DIGEST_MARK = '=';
/** A failure reason is cut to this many characters by the script (`one_line`). */
export const REASON_MAX_CHARS = 400;
/** Sizes are printed as integers; 16 digits cover any image a volume (at most 16 TiB on gp3) can hold. */
const SIZE_MAX_DIGITS = 16;

/**
 * One report line, exactly as the script prints it (without the newline).
 *
 * @example reportLine('image', [0, 1, 1234, EXPECTED_DIGEST_MARK]); // 'SNAPSHOT_FACTORY_IMAGE\t0\t1\t1234\t='
 */
export const reportLine = (kind: ReportLineKind, values: readonly (string | number)[]): string => {
  const { tag, fields } = REPORT_LINES[kind];
  if (values.length !== fields.length) throw new InvalidInputError(`report line ${tag} takes ${fields.length} fields (${fields.join(', ')}), got ${values.length}`);
  return [tag, ...values.map(String)].join('\t');
};

/** The bash `printf` format of a report line: the tag and one `%s` per field. */
const printfFormat = (kind: ReportLineKind): string => `${REPORT_LINES[kind].tag}${'\\t%s'.repeat(REPORT_LINES[kind].fields.length)}\\n`;

/**
 * The longest report of a run in which every pull succeeds: what must fit in {@link SSM_STDOUT_LIMIT}.
 * An image without an expected digest adds its digest (up to a sha512's 135 characters) to each of its lines.
 */
export const successReportMaxChars = (imageCount: number, platformCount: number, unexpectedDigests = 0): number => {
  const pulls = imageCount * platformCount;
  const indexDigits = String(Math.max(imageCount - 1, 0)).length + String(Math.max(platformCount - 1, 0)).length;
  const summary = reportLine('summary', [pulls, pulls, 0]).length + 1;
  const volume = REPORT_LINES.volume.tag.length + 2 + 2 * SIZE_MAX_DIGITS + 1;
  const imageLine = REPORT_LINES.image.tag.length + 4 + indexDigits + SIZE_MAX_DIGITS + EXPECTED_DIGEST_MARK.length + 1;
  const digestExtra = unexpectedDigests * platformCount * ('sha512:'.length + 128 - EXPECTED_DIGEST_MARK.length);
  return summary + volume + pulls * imageLine + digestExtra + REPORT_LINES.end.tag.length + 1;
};
/** GetCommandInvocation returns at most this many characters of stdout / stderr. */
export const SSM_STDOUT_LIMIT = 24_000;
export const SSM_STDERR_LIMIT = 8_000;

export const DEFAULT_HOST_PREFIX = ['apiclient', 'exec', 'admin', 'sheltie'] as const;
export const DEFAULT_CONTAINERD_ADDRESS = '/run/containerd/containerd.sock';
/** containerd's root on Bottlerocket: the data volume /dev/xvdb is mounted under /local, bound here. */
export const DEFAULT_CONTAINERD_ROOT = '/var/lib/containerd';
/** Where Bottlerocket aws-k8s variants install the kubelet ECR credential provider on the host. */
export const DEFAULT_CREDENTIAL_PROVIDER = '/usr/libexec/kubernetes/kubelet/plugins/ecr-credential-provider';
export const DEFAULT_MIN_FREE_BYTES = 1024 ** 3;
/**
 * How long the script waits for the admin container to accept `apiclient exec`. Bottlerocket's own
 * enter-admin-container (bottlerocket-control-container) gives it 60 s; the script allows more because a failed pull
 * of the admin image is retried by host-ctr (5 attempts with backoff, core-kit sources/host-ctr/cmd/host-ctr/main.go)
 * and then by systemd (`RestartSec=45`, core-kit packages/os/host-containers@.service).
 */
export const DEFAULT_ADMIN_WAIT_SECONDS = 180;
/** Where the host keeps the host containers' persistent storage (host-ctr `withDefaultMounts`: `/local/<dir>/<name>`). */
export const DEFAULT_HOST_CONTAINERS_DIR = '/local/host-containers';
/** Name of the transient systemd unit that wipes the SSM agent's state when the builder stops. */
export const WIPE_UNIT = 'snapshot-factory-wipe-private-state';

export interface PullScriptOptions {
  /** Runs a command on the host. @default ['apiclient','exec','admin','sheltie'] */
  hostPrefix?: readonly string[];
  /** containerd socket on the host. @default '/run/containerd/containerd.sock' */
  containerdAddress?: string;
  /** Directory whose file system holds containerd's content (free-space check). @default '/var/lib/containerd' */
  containerdRoot?: string;
  /** Pull over plain HTTP (tests' loopback registry only). @default false */
  plainHttp?: boolean;
  /** Kubelet credential provider executable on the host. @default the ECR provider's Bottlerocket path */
  credentialProvider?: string;
  /** Which images get credentials from the provider. @default private ECR registries ({@link isEcrDomain}) */
  needsCredentials?: (reference: ImageReference) => boolean;
  /** Stop pulling when the volume's free space falls under this. @default 1 GiB */
  minFreeBytes?: number;
  /** Seconds to wait for the admin container before the first host command. @default {@link DEFAULT_ADMIN_WAIT_SECONDS} */
  adminWaitSeconds?: number;
  /** The host containers' persistent storage on the host. @default {@link DEFAULT_HOST_CONTAINERS_DIR} */
  hostContainersDir?: string;
}

export interface PullScriptInput {
  /** Only references made by {@link parseImageReference}. */
  images: readonly ImageReference[];
  /**
   * Digest each image's reference resolved to before the build (same order as `images`; undefined = not
   * resolved). The script fails a pull whose digest differs: the tag moved since it was resolved.
   */
  expectedDigests?: readonly (string | undefined)[];
  platforms: readonly string[];
  concurrency: number;
}

const PLATFORM_RE = /^linux\/(amd64|arm64)$/;
const SAFE_PATH_RE = /^\/[A-Za-z0-9._/-]*$/;
const DIGEST_RE = /^(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})$/;
const SAFE_WORD_RE = /^[A-Za-z0-9._/-]+$/;

/** Single-quotes a value for bash. Values are validated before they get here; quoting is the second wall. */
export const shellQuote = (value: string): string => `'${value.replaceAll("'", `'\\''`)}'`;

const array = (values: readonly string[]): string => `(${values.map(shellQuote).join(' ')})`;

const refuse = (message: string): never => {
  throw new InvalidInputError(`pull script: ${message}`);
};

/**
 * Generates the bash script that pulls every image for every platform into containerd's `k8s.io` namespace.
 *
 * @throws InvalidInputError when an image did not come from {@link parseImageReference}, or a platform, the
 *   concurrency or an option is not what the script allows. Nothing unvalidated is ever written into the script.
 */
export const generatePullScript = (input: PullScriptInput, options: PullScriptOptions = {}): string => {
  if (input.images.length === 0) refuse('no images');
  const refs = input.images.map((image, index) => {
    // Only the parser's own objects are accepted, and each is re-parsed: a look-alike object or one whose
    // fields were altered after validation cannot carry text into the script.
    if (!isValidatedReference(image)) return refuse(`image #${index + 1} is not a validated reference`);
    if (parseImageReference(image.normalized).normalized !== image.normalized) return refuse(`image #${index + 1} does not round-trip`);
    return image;
  });
  const expected = refs.map((_, index) => input.expectedDigests?.[index] ?? '');
  if (input.expectedDigests && input.expectedDigests.length !== refs.length) refuse('expectedDigests must have one entry per image');
  for (const digest of expected) if (digest !== '' && !DIGEST_RE.test(digest)) refuse(`expected digest ${JSON.stringify(digest)} is not a sha256/sha512 digest`);
  const platforms = [...new Set(input.platforms)];
  if (platforms.length === 0) refuse('no platforms');
  for (const platform of platforms) if (!PLATFORM_RE.test(platform)) refuse(`platform ${JSON.stringify(platform)} is not linux/amd64 or linux/arm64`);
  if (!Number.isInteger(input.concurrency) || input.concurrency < 1 || input.concurrency > 32) refuse('concurrency must be an integer from 1 to 32');

  const hostPrefix = [...(options.hostPrefix ?? DEFAULT_HOST_PREFIX)];
  for (const word of hostPrefix) if (!SAFE_WORD_RE.test(word)) refuse(`host prefix word ${JSON.stringify(word)} is not allowed`);
  const address = options.containerdAddress ?? DEFAULT_CONTAINERD_ADDRESS;
  const root = options.containerdRoot ?? DEFAULT_CONTAINERD_ROOT;
  const provider = options.credentialProvider ?? DEFAULT_CREDENTIAL_PROVIDER;
  const hostContainers = options.hostContainersDir ?? DEFAULT_HOST_CONTAINERS_DIR;
  for (const path of [address, root, provider, hostContainers]) if (!SAFE_PATH_RE.test(path)) refuse(`path ${JSON.stringify(path)} is not allowed`);
  const minFree = options.minFreeBytes ?? DEFAULT_MIN_FREE_BYTES;
  if (!Number.isSafeInteger(minFree) || minFree < 0) refuse('minFreeBytes must be a non-negative integer');
  const adminWait = options.adminWaitSeconds ?? DEFAULT_ADMIN_WAIT_SECONDS;
  if (!Number.isInteger(adminWait) || adminWait < 0 || adminWait > 3600) refuse('adminWaitSeconds must be an integer from 0 to 3600');
  // The admin container's SSH host keys (bottlerocket-admin-container start_admin.sh generates these three, and
  // keeps existing ones): removed now, so a node made from the snapshot generates its own.
  const sshKeys = ['rsa', 'ecdsa', 'ed25519'].flatMap((alg) => [`ssh_host_${alg}_key`, `ssh_host_${alg}_key.pub`]).map((name) => `${hostContainers}/admin/etc/ssh/${name}`);
  // The SSM agent's state (control container: /var/lib/amazon/ssm -> current/ssm) holds this very command, its
  // output and the agent's credentials; the agent is writing it while the script runs, so it is wiped at stop.
  const agentState = `${hostContainers}/control/ssm`;
  const needsCredentials = options.needsCredentials ?? ((reference: ImageReference) => isEcrDomain(reference.domain));

  const pullFlags = ['--label', 'io.cri-containerd.image=managed', '--label', 'io.cri-containerd.pinned=pinned'];
  if (options.plainHttp) pullFlags.push('--plain-http');

  // The report's printf formats, from the one definition the parser and the simulated agent share.
  const F = Object.fromEntries(Object.keys(REPORT_LINES).map((kind) => [kind, shellQuote(printfFormat(kind as ReportLineKind))])) as Record<ReportLineKind, string>;

  return compactScript(
    `set -u -o pipefail
export LC_ALL=C
HOST=${array(hostPrefix)}
CTR=(ctr -a ${shellQuote(address)} -n k8s.io)
PULL_FLAGS=${array(pullFlags)}
ROOT=${shellQuote(root)}
PROVIDER=${shellQuote(provider)}
MIN_FREE=${minFree}
ADMIN_WAIT=${adminWait}
SSH_KEYS=${array(sshKeys)}
AGENT_STATE=${shellQuote(agentState)}
WIPE_UNIT=${shellQuote(WIPE_UNIT)}
CONCURRENCY=${input.concurrency}
REFS=${array(refs.map((ref) => ref.normalized))}
DIGESTS=${array(expected)}
CREDS=(${refs.map((ref) => (needsCredentials(ref) ? '1' : '0')).join(' ')})
PLATFORMS=${array(platforms)}
WORK=$(mktemp -d) || exit 1
trap 'rm -rf "$WORK"' EXIT

log() { printf '%s snapshot-factory: %s\\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
on_host() { "\${HOST[@]}" "$@"; }
ctr_host() { "\${HOST[@]}" "\${CTR[@]}" "$@"; }
one_line() { tr '\\n\\t\\r' '   ' | sed -e 's/  */ /g' -e 's/^ //' -e 's/ $//' | cut -c1-${REASON_MAX_CHARS}; }
` +
      // apiclient exec joins the host command's stderr to its stdout (one pipe), so every parser below picks its own
      // lines out of a stream that may carry the command's warnings too.
    `df_field() { on_host df -B1 --output="$1" "$ROOT" | grep -E '^[[:space:]]*[0-9]+[[:space:]]*$' | tail -n 1 | tr -d ' '; }
total_pulls=$(( \${#REFS[@]} * \${#PLATFORMS[@]} ))

fatal() {
  printf ${F.summary} "$total_pulls" 0 "$total_pulls"
  printf ${F.error} "$1"
  printf ${F.end}
  log "$1"
  exit 1
}

` +
      // Credentials come from the kubelet credential provider on the host (the instance role for ECR). They live in
      // this shell's variables only: never printed, never in a file, never in the SSM command's parameters.
      // The provider logs a klog line before its JSON; apiclient delivers both on one stream: the JSON is the line
      // that starts with "{", the rest is what the provider said (the reason when it fails). Only the rest ever reaches $2.
    `credentials_for() {
  local output response user pass status=0
  output=$(printf '{"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"CredentialProviderRequest","image":"%s"}' "$1" \\
    | on_host env HOME=/root "$PROVIDER" 2>&1) || status=$?
  response=$(printf '%s\\n' "$output" | grep '^[[:space:]]*[{]' | tr -d '\\n\\r')
  user=$(printf '%s' "$response" | sed -n 's/.*"username"[[:space:]]*:[[:space:]]*"\\([^"]*\\)".*/\\1/p')
  pass=$(printf '%s' "$response" | sed -n 's/.*"password"[[:space:]]*:[[:space:]]*"\\([^"]*\\)".*/\\1/p')
  if [ "$status" -ne 0 ] || [ -z "$user" ] || [ -z "$pass" ]; then
    printf '%s\\n' "$output" | grep -v -e '^[[:space:]]*[{]' -e '^[[:space:]]*$' | tail -n 3 >"$2"
    if [ "$status" -ne 0 ]; then echo "(exit status $status)" >>"$2"; else echo "the credential provider answered without a username and password" >>"$2"; fi
    return 1
  fi
  CRED="$user:$pass"
  SECRET="$pass"
}

` +
      // The per-platform manifest of an image index: descriptors are the index's one-level-nested JSON objects.
    `platform_manifest() {
  local os=\${2%%/*} arch=\${2#*/}
  ctr_host content get "$1" | tr -d ' \\n\\r\\t' | grep -oE '[{][^{}]*([{][^{}]*[}][^{}]*)*[}]' \\
    | grep -F "\\"architecture\\":\\"$arch\\"" | grep -F "\\"os\\":\\"$os\\"" \\
    | grep -oE '"digest":"sha[0-9]+:[0-9a-f]+"' | head -n 1 | cut -d '"' -f 4
}

` +
      // One pull: one image for one platform. Every (image, platform) pair is its own background job, so the platforms of
      // an image download and unpack side by side like different images do (the concurrency bounds the pairs).
    `pull_job() {
  local i=$1 j=$2 ref=\${REFS[$1]} platform=\${PLATFORMS[$2]} report="$WORK/$1.$2.report" reason line type digest manifest size
  local CRED='' SECRET=''
  local -a auth=()
  if [ "\${CREDS[$i]}" = 1 ]; then
    if ! credentials_for "$ref" "$WORK/$i.$j.credentials.err"; then
      printf ${F.failed} "$i" "$j" "credential provider failed: $(one_line <"$WORK/$i.$j.credentials.err")" >>"$report"
      return 0
    fi
` +
      // ctr takes the password only on its command line (or from a terminal): visible in the builder's
      // process list for the duration of this pull, nowhere else.
    `    auth=(--user "$CRED")
  fi
  log "pull start $ref $platform"
` +
      // Both of ctr's streams go to the file: through apiclient they are one stream anyway.
    `  if ! ctr_host images pull "\${PULL_FLAGS[@]}" \${auth[@]+"\${auth[@]}"} --platform "$platform" "$ref" >"$WORK/$i.$j.err" 2>&1; then
` +
      // ctr's own error ("ctr: ...") is the reason; containerd's log lines (level=info/warning...) are noise.
    `    reason=$(grep '^ctr: ' "$WORK/$i.$j.err" | tail -n 2 | one_line)
    [ -n "$reason" ] || reason=$(grep -v -e '^[[:space:]]*$' -e 'level=' -e 'elapsed:' -e '|' "$WORK/$i.$j.err" | tail -n 2 | one_line)
    [ -n "$reason" ] || reason=$(grep -v '^[[:space:]]*$' "$WORK/$i.$j.err" | tail -n 3 | one_line)
    if [ -n "$SECRET" ]; then reason=\${reason//"$SECRET"/"<redacted>"}; fi
    if grep -qi 'no space left on device' "$WORK/$i.$j.err"; then : >"$WORK/disk-full"; fi
    printf ${F.failed} "$i" "$j" "\${reason:-ctr exited with an error and no message}" >>"$report"
    log "pull failed $ref $platform"
    check_free
    return 0
  fi
  line=$(ctr_host images ls | awk -v r="$ref" '$1 == r && $3 ~ /^sha(256|512):/ { print $2, $3; exit }')
  type=\${line%% *}
  digest=\${line#* }
  manifest=$digest
  case $type in *index*|*manifest.list*) manifest=$(platform_manifest "$digest" "$platform") ;; esac
  if [ -z "$digest" ] || [ -z "$manifest" ]; then
    printf ${F.failed} "$i" "$j" "pulled, but containerd does not list it for this platform" >>"$report"
    check_free
    return 0
  fi
  ctr_host content get "$manifest" | grep -v '^ctr: ' | tr -d ' \\n\\r\\t' >"$WORK/$i.$j.manifest"
  size=$(grep -oE '"size":[0-9]+' "$WORK/$i.$j.manifest" | cut -d : -f 2 | awk '{ s += $1 } END { print s + 0 }')
  if [ -n "\${DIGESTS[$i]}" ] && [ "$digest" != "\${DIGESTS[$i]}" ]; then
    printf ${F.failed} "$i" "$j" "pulled $digest but the build resolved \${DIGESTS[$i]}: the tag moved since; run the build again" >>"$report"
    check_free
    return 0
  fi
  expected_content "$digest" "$manifest" "$WORK/$i.$j.manifest" >"$WORK/$i.$j.expect"
` +
      // The expected digest is not repeated: the workflow knows it, and the report must fit SSM's stdout limit.
    `  if [ "$digest" = "\${DIGESTS[$i]}" ]; then digest=${EXPECTED_DIGEST_MARK}; fi
  printf ${F.image} "$i" "$j" "$size" "$digest" >>"$report"
  log "pull done $ref $platform"
  check_free
}

` +
      // Checked after every pull: a volume that is filling up stops the remaining pulls early with a clear message
      // instead of grinding on until the SSM execution timeout.
    `check_free() {
  if [ "$(df_field avail)" -lt "$MIN_FREE" ]; then : >"$WORK/disk-full"; fi
}

` +
      // What a complete, unpacked pull leaves in containerd, one "<what> <id>" line each: the tag's target and the
      // platform's manifest, its config and every layer in the content store, and each layer's snapshot (named by its
      // chain ID: ChainID(L0) = DiffID(L0), ChainID(Ln) = sha256(ChainID(Ln-1) + " " + DiffID(Ln)), OCI image-spec
      // config.md) in the snapshotter ctr unpacked into. The same checks as containerd's images.Check and
      // Image.IsUnpacked (core/images/image.go, client/image.go), for this platform, where "ctr images check" only
      // looks at the host's (cmd/ctr/commands/images/images.go passes platforms.Default(), in 1.6, 1.7 and 2.x).
    `expected_content() {
  local target=$1 manifest=$2 text=$3 config k=0 chain='' diff
  printf 'target %s\\n' "$target"
  printf 'manifest %s\\n' "$manifest"
  config=$(grep -oE '"config":[{][^{}]*[}]' "$text" | grep -oE 'sha(256|512):[0-9a-f]+' | head -n 1)
  printf 'config %s\\n' "\${config:--}"
  grep -oE '"layers":\\[[^]]*\\]' "$text" | grep -oE '"digest":"sha(256|512):[0-9a-f]+"' | cut -d '"' -f 4 | sed 's/^/layer /'
  [ -n "$config" ] || return 0
  ctr_host content get "$config" | grep -v '^ctr: ' | tr -d ' \\n\\r\\t' >"$text.config"
` +
      // A plain (single-platform) manifest is pulled whatever --platform says: its config says which platform it is.
    `  printf 'platform %s/%s\\n' "$(grep -oE '"os":"[^"]*"' "$text.config" | head -n 1 | cut -d '"' -f 4)" "$(grep -oE '"architecture":"[^"]*"' "$text.config" | head -n 1 | cut -d '"' -f 4)"
  for diff in $(grep -oE '"diff_ids":\\[[^]]*\\]' "$text.config" | grep -oE 'sha256:[0-9a-f]{64}'); do
    if [ -z "$chain" ]; then chain=$diff; else chain="sha256:$(printf '%s %s' "$chain" "$diff" | sha256sum | cut -d ' ' -f 1)"; fi
    k=$(( k + 1 ))
    printf 'snapshot %s %s\\n' "$chain" "$k"
  done
  [ "$k" -gt 0 ] || printf 'snapshot - 0\\n'
}

` +
      // Issue 10's verification, once every pull has ended (a later pull or containerd's garbage collection could have
      // removed what an earlier one stored): each reported pull must still be complete and unpacked. One listing of the
      // content store and one of the snapshotter serve every pull. A pull that fails it becomes an UNVERIFIED line.
      // Left out: re-hashing the blobs (containerd verified each digest and size when it committed them,
      // core/content/local/writer.go Commit; re-reading 10-50 GB would cost minutes on gp3).
    `verify_pulls() {
  local i j what id n reason
  ctr_host images ls -q | grep -E '^[A-Za-z0-9][A-Za-z0-9._/:@-]*$' >"$WORK/images.now" || true
  ctr_host content ls -q | grep -E '^sha(256|512):[0-9a-f]+$' >"$WORK/content.now" || true
  ctr_host snapshots ls | awk '$NF == "Committed" { print $1 }' >"$WORK/snapshots.now" || true
  for report in "$WORK"/*.report; do
    [ -e "$report" ] || continue
    grep -q '^${REPORT_LINES.image.tag}'$'\\t' "$report" || continue
    IFS=$'\\t' read -r _ i j _ <"$report"
    reason=''
    if ! grep -qxF -- "\${REFS[$i]}" "$WORK/images.now"; then reason="the image is no longer listed in containerd"; fi
    while [ -z "$reason" ] && read -r what id n; do
      case $what:$id in
        config:-) reason="incomplete: the manifest names no config" ;;
        snapshot:-) reason="not unpacked: the config lists no layer diff IDs" ;;
        platform:*)
          [ "$id" = "\${PLATFORMS[$j]}" ] || reason="the image has no \${PLATFORMS[$j]} variant: what was pulled is for $id" ;;
        snapshot:*)
          grep -qxF -- "$id" "$WORK/snapshots.now" || reason="not unpacked: layer $n's snapshot $id is missing from the snapshotter" ;;
        *:*)
          grep -qxF -- "$id" "$WORK/content.now" || reason="incomplete: the $what $id is missing from the content store" ;;
      esac
    done <"$WORK/$i.$j.expect"
    if [ -n "$reason" ]; then
      printf ${F.unverified} "$i" "$j" "$reason" >"$report"
      log "verification failed \${REFS[$i]} \${PLATFORMS[$j]}: $reason"
    fi
  done
}

` +
      // SSM reports the agent Online before the admin container necessarily runs (host-ctr pulls and starts each host
      // container on its own): until it does, every apiclient exec fails. Bottlerocket's enter-admin-container polls
      // "apiclient exec admin true" the same way (bottlerocket-control-container enter-admin-container).
    `wait_for_admin() {
  local deadline=$(( $(date +%s) + ADMIN_WAIT )) output
  until output=$(on_host true 2>&1 </dev/null); do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      fatal "the admin container did not accept apiclient exec within $ADMIN_WAIT s (is [settings.host-containers.admin] enabled in the user data?): $(printf '%s' "$output" | one_line)"
    fi
    [ -n "\${waited:-}" ] || log "waiting for the admin container: $(printf '%s' "$output" | one_line)"
    waited=1
    sleep 1
  done
}

log "waiting for the admin container"
wait_for_admin
log "stopping kubelet"
output=$(on_host systemctl stop kubelet 2>&1) || fatal "could not stop kubelet on the host: $(printf '%s' "$output" | one_line)"

` +
      // containerd 2.x (Bottlerocket aws-k8s-1.33 and later) pulls through its transfer service, which unpacks only the
      // platforms of its unpack configuration (the host's by default) and merely fetches the others; ctr's --local path
      // fetches in the client and unpacks every --platform (containerd cmd/ctr/commands/images/pull.go,
      // core/transfer/local/pull.go). 1.7 takes --local as its default; 1.6 has no such flag.
    `output=$(ctr_host version 2>&1) || fatal "could not reach containerd on the host: $(printf '%s' "$output" | one_line)"
major=$(printf '%s\\n' "$output" | awk '/^Server:/ { s = 1 } s && $1 == "Version:" { v = $2; sub(/^v/, "", v); split(v, p, "."); print p[1] + 0; exit }')
[ -n "$major" ] || fatal "could not read containerd's server version from: $(printf '%s' "$output" | one_line)"
if [ "$major" -ge 2 ]; then PULL_FLAGS+=(--local); fi
log "containerd server major version $major"

` +
      // Private state of the builder that every node made from the snapshot would inherit. SSH host keys: removed now.
      // The SSM agent's state: the agent is running this script and records its output after it ends, so a transient
      // unit wipes it when the instance stops, after the control container has stopped (Before= orders its stop after
      // theirs) and before /local is unmounted (RequiresMountsFor=). The host has no shell: ExecStop is one rm.
    `output=$(on_host rm -f -- "\${SSH_KEYS[@]}" 2>&1) || fatal "could not remove the admin container's SSH host keys: $(printf '%s' "$output" | one_line)"
if ! on_host systemctl is-active --quiet "$WIPE_UNIT" >/dev/null; then
output=$(on_host systemd-run --unit="$WIPE_UNIT" --description="snapshot factory: wipe the SSM agent state before the snapshot" \\
  --property=Type=oneshot --property=RemainAfterExit=yes \\
  --property=Before=host-containers@control.service --property=Before=host-containers@admin.service \\
  --property=RequiresMountsFor="$AGENT_STATE" \\
  --property=ExecStop="/usr/bin/rm -rf --one-file-system $AGENT_STATE \${SSH_KEYS[*]}" \\
  /usr/bin/true 2>&1) || fatal "could not register the unit that wipes the SSM agent state at stop: $(printf '%s' "$output" | one_line)"
fi

log "emptying the k8s.io image store"
names=$(ctr_host images ls -q) || fatal "could not list containerd images: $(printf '%s' "$names" | one_line)"
` +
      // Only words shaped like image names: anything else in the joined stream is ctr's or containerd's chatter.
    `names=$(printf '%s\\n' "$names" | grep -E '^[A-Za-z0-9][A-Za-z0-9._/:@-]*$' || true)
if [ -n "$names" ]; then
  mapfile -t existing <<<"$names"
  output=$(ctr_host images rm --sync "\${existing[@]}" 2>&1) || fatal "could not remove the existing images: $(printf '%s' "$output" | one_line)"
fi
used_start=$(df_field used)
[ -n "$used_start" ] || fatal "could not read the free space of $ROOT"

for i in "\${!REFS[@]}"; do
  for j in "\${!PLATFORMS[@]}"; do
    while [ "$(jobs -pr | wc -l)" -ge "$CONCURRENCY" ]; do sleep 0.2; done
    if [ -e "$WORK/disk-full" ]; then
      printf ${F.failed} "$i" "$j" "not pulled: the data volume is full" >>"$WORK/$i.$j.report"
      continue
    fi
    pull_job "$i" "$j" &
  done
done
wait
log "verifying every pull"
verify_pulls
used_end=$(df_field used)
size_end=$(df_field size)

: >"$WORK/all"
for i in "\${!REFS[@]}"; do
  for j in "\${!PLATFORMS[@]}"; do [ -e "$WORK/$i.$j.report" ] && cat "$WORK/$i.$j.report" >>"$WORK/all"; done
done
ok=$(grep -c '^${REPORT_LINES.image.tag}'$'\\t' "$WORK/all")
failed=$(( total_pulls - ok ))
printf ${F.summary} "$total_pulls" "$ok" "$failed"
if [ -n "$used_end" ] && [ -n "$size_end" ]; then printf ${F.volume} "$used_end" "$size_end"; fi
if [ -e "$WORK/disk-full" ]; then
  per_pull=$(( (used_end - used_start) / (ok > 0 ? ok : 1) ))
  printf ${F.disk} "$(( used_start + per_pull * total_pulls + MIN_FREE ))" "$(df_field avail)" "$size_end"
fi
` +
      // Successes first: they are what the workflow verifies, and they fit; long failure reasons come last.
    `grep '^${REPORT_LINES.image.tag}'$'\\t' "$WORK/all"
grep '^${REPORT_LINES.unverified.tag}'$'\\t' "$WORK/all"
grep '^${REPORT_LINES.failed.tag}'$'\\t' "$WORK/all"
printf ${F.end}
if [ "$failed" -gt 0 ]; then
` +
      // For people reading the invocation: references and platforms by name.
    `  grep -e '^${REPORT_LINES.unverified.tag}'$'\\t' -e '^${REPORT_LINES.failed.tag}'$'\\t' "$WORK/all" | while IFS=$'\\t' read -r tag i j reason; do
    case $tag in ${REPORT_LINES.unverified.tag}) what='verification failed' ;; *) what='pull failed' ;; esac
    printf '%s: %s %s %s\\n' "$what" "\${REFS[$i]}" "\${PLATFORMS[$j]}" "$reason"
  done >&2
  exit 1
fi
exit 0
`,
  );
};

/**
 * The script as sent: without comment lines and indentation. SSM carries at most 64 KB per command
 * (functions/lib/pull-command.ts), and the largest image list needs every byte of it. The comments on the script
 * are JavaScript comments between its template pieces, not bash comments inside them, so the minifier drops them
 * and the two bundles that make the script (send-pull-command, prepare-build) do not carry their 4 KiB (issue 12); a `#` line that still slips in is removed here. Safe because the script has no heredoc
 * and no quoted text spanning lines, and every continued line ends in ` \`.
 */
const compactScript = (script: string): string =>
  script
    .split('\n')
    .map((line) => line.trimStart())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .join('\n') + '\n';

/**
 * The `commands` parameter of `AWS-RunShellScript`: the agent runs these lines with `sh`, so they write the
 * bash script to a temp file and run it with bash (a heredoc, quoted so nothing in it expands; no line of
 * the script can equal the delimiter because no inserted value contains a newline).
 */
export const pullCommands = (script: string): string[] => [
  'script=$(mktemp) || exit 1',
  "cat >\"$script\" <<'SNAPSHOT_FACTORY_SCRIPT_END'",
  ...script.split('\n'),
  'SNAPSHOT_FACTORY_SCRIPT_END',
  'bash "$script"; status=$?',
  'rm -f "$script"',
  'exit $status',
];

export interface PullFailure {
  reference: string;
  platform: string;
  reason: string;
}

/** What the script was generated from, in the same order: the report names images and platforms by index. */
export interface PullReportPlan {
  /** Normalised references, as in the script's `REFS`. */
  references: readonly string[];
  /** Platforms, as in the script's `PLATFORMS` (duplicates removed, first kept). */
  platforms: readonly string[];
  /** Expected digests, as in `DIGESTS` (undefined = none); an image line's `=` stands for this. */
  expectedDigests?: readonly (string | undefined)[];
}

/** The plan of a script generated from `input` ({@link generatePullScript} normalises and de-duplicates the same way). */
export const reportPlanOf = (input: PullScriptInput): PullReportPlan => ({
  references: input.images.map((image) => image.normalized),
  platforms: [...new Set(input.platforms)],
  expectedDigests: input.expectedDigests,
});

export interface PullReport {
  summary?: { expected: number; ok: number; failed: number };
  error?: string;
  disk?: { neededBytes: number; freeBytes: number; totalBytes: number };
  /** The data volume after the pulls and their verification (`SNAPSHOT_FACTORY_VOLUME`). */
  volume?: { usedBytes: number; totalBytes: number };
  failures: PullFailure[];
  /** Pulls that ended but failed the verification (`SNAPSHOT_FACTORY_UNVERIFIED`): incomplete or not unpacked. */
  unverified: PullFailure[];
  images: PulledImage[];
  /**
   * The report is not all there: no `SNAPSHOT_FACTORY_END` line, stdout hit SSM's limit or ended mid-line, or
   * the lines listed do not add up to the summary. Lines may be missing; the summary (printed first) still holds.
   */
  truncated: boolean;
  /** Report lines that did not parse or named an index the plan does not have (a script that does not match the plan). */
  malformed: string[];
}

/** Parses the script's report from a command's stdout (as GetCommandInvocation returns it), against the plan it ran. */
export const parsePullReport = (stdout: string, plan: PullReportPlan): PullReport => {
  const report: PullReport = { failures: [], unverified: [], images: [], truncated: stdout.length >= SSM_STDOUT_LIMIT, malformed: [] };
  const platforms = [...new Set(plan.platforms)];
  const lines = stdout.split('\n');
  // The last piece has no newline after it: complete only when stdout ended with a newline.
  const last = lines.pop() ?? '';
  if (last.length > 0) report.truncated = true;
  let ended = false;
  const pullOf = (imageField: string | undefined, platformField: string | undefined) => {
    const i = Number(imageField);
    const j = Number(platformField);
    const reference = /^\d+$/.test(imageField ?? '') ? plan.references[i] : undefined;
    const platform = /^\d+$/.test(platformField ?? '') ? platforms[j] : undefined;
    return reference !== undefined && platform !== undefined ? { i, reference, platform } : undefined;
  };
  for (const line of lines) {
    if (!line.startsWith(REPORT_PREFIX)) continue;
    const [tag, ...fields] = line.split('\t');
    const bad = () => report.malformed.push(line.slice(0, 200));
    switch (tag) {
      case REPORT_LINES.summary.tag: {
        const [expected, ok, failed] = fields.map(Number);
        if (fields.length === 3 && [expected, ok, failed].every((n) => Number.isSafeInteger(n) && n! >= 0)) report.summary = { expected: expected!, ok: ok!, failed: failed! };
        else bad();
        break;
      }
      case REPORT_LINES.error.tag:
        report.error = fields.join(' ');
        break;
      case REPORT_LINES.disk.tag: {
        const [neededBytes, freeBytes, totalBytes] = fields.map(Number);
        report.disk = { neededBytes: neededBytes ?? 0, freeBytes: freeBytes ?? 0, totalBytes: totalBytes ?? 0 };
        break;
      }
      case REPORT_LINES.volume.tag: {
        const [usedBytes, totalBytes] = fields.map(Number);
        if (fields.length === 2 && [usedBytes, totalBytes].every((n) => Number.isSafeInteger(n) && n! >= 0)) report.volume = { usedBytes: usedBytes!, totalBytes: totalBytes! };
        else bad();
        break;
      }
      case REPORT_LINES.failed.tag:
      case REPORT_LINES.unverified.tag: {
        const pull = pullOf(fields[0], fields[1]);
        const list = tag === REPORT_LINES.failed.tag ? report.failures : report.unverified;
        if (pull && fields.length >= 3) list.push({ reference: pull.reference, platform: pull.platform, reason: fields.slice(2).join(' ') });
        else bad();
        break;
      }
      case REPORT_LINES.image.tag: {
        const pull = pullOf(fields[0], fields[1]);
        const sizeBytes = Number(fields[2]);
        const digest = fields[3] === EXPECTED_DIGEST_MARK ? plan.expectedDigests?.[pull?.i ?? -1] : fields[3];
        if (pull && fields.length === 4 && digest && /^\d+$/.test(fields[2] ?? '') && Number.isSafeInteger(sizeBytes)) {
          report.images.push({ reference: pull.reference, platform: pull.platform, digest, sizeBytes });
        } else bad();
        break;
      }
      case REPORT_LINES.end.tag:
        ended = true;
        break;
      default:
        break;
    }
  }
  const listed = report.images.length + report.failures.length + report.unverified.length;
  if (!ended || (report.summary && !report.error && listed !== report.summary.ok + report.summary.failed)) report.truncated = true;
  return report;
};

/** Formats byte counts as whole GiB, rounded up (needed) or down (free). */
export const gibUp = (bytes: number): number => Math.ceil(bytes / 1024 ** 3);
export const gibDown = (bytes: number): number => Math.floor(bytes / 1024 ** 3);
