/**
 * The on-instance pull script sent with SSM Run Command (`AWS-RunShellScript`), and the parser of the report it
 * prints. docs/pull-script.md walks through the script; this file is the only place its text is made.
 *
 * Report format (stdout, one line per fact, fields separated by TAB, printed only at the very end and with the
 * summary FIRST so that SSM's 24,000-character stdout truncation can only cut image lines, never the verdict):
 *
 * ```
 * SNAPSHOT_FACTORY_SUMMARY <pulls expected> <pulls ok> <pulls failed>
 * SNAPSHOT_FACTORY_ERROR   <reason>                                   (only when the script could not start pulling)
 * SNAPSHOT_FACTORY_DISK    <bytes needed (estimate)> <bytes free> <bytes total>   (only when the volume ran out)
 * SNAPSHOT_FACTORY_FAILED  <reference> <platform> <reason>
 * SNAPSHOT_FACTORY_IMAGE   <reference> <platform> <digest> <bytes>
 * ```
 *
 * `<reference>` is the normalised reference ({@link ImageReference.normalized}); `<digest>` is what containerd
 * stored for it (the tag's digest: an image index for multi-platform images); `<bytes>` is the platform's
 * compressed size (config + layers of its manifest).
 */
import { InvalidInputError } from './errors';
import { isValidatedReference, parseImageReference, isEcrDomain, type ImageReference } from './image-reference';
import type { PulledImage } from './schemas';

export const REPORT_PREFIX = 'SNAPSHOT_FACTORY_';
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
  for (const path of [address, root, provider]) if (!SAFE_PATH_RE.test(path)) refuse(`path ${JSON.stringify(path)} is not allowed`);
  const minFree = options.minFreeBytes ?? DEFAULT_MIN_FREE_BYTES;
  if (!Number.isSafeInteger(minFree) || minFree < 0) refuse('minFreeBytes must be a non-negative integer');
  const needsCredentials = options.needsCredentials ?? ((reference: ImageReference) => isEcrDomain(reference.domain));

  const pullFlags = ['--label', 'io.cri-containerd.image=managed', '--label', 'io.cri-containerd.pinned=pinned'];
  if (options.plainHttp) pullFlags.push('--plain-http');

  return `set -u -o pipefail
export LC_ALL=C
HOST=${array(hostPrefix)}
CTR=(ctr -a ${shellQuote(address)} -n k8s.io)
PULL_FLAGS=${array(pullFlags)}
ROOT=${shellQuote(root)}
PROVIDER=${shellQuote(provider)}
MIN_FREE=${minFree}
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
one_line() { tr '\\n\\t\\r' '   ' | sed -e 's/  */ /g' -e 's/^ //' | cut -c1-400; }
df_field() { on_host df -B1 --output="$1" "$ROOT" | tail -n 1 | tr -d ' '; }
total_pulls=$(( \${#REFS[@]} * \${#PLATFORMS[@]} ))

fatal() {
  printf 'SNAPSHOT_FACTORY_SUMMARY\\t%s\\t0\\t%s\\n' "$total_pulls" "$total_pulls"
  printf 'SNAPSHOT_FACTORY_ERROR\\t%s\\n' "$1"
  log "$1"
  exit 1
}

# Credentials come from the kubelet credential provider on the host (the instance role for ECR). They live in
# this shell's variables only: never printed, never in a file, never in the SSM command's parameters.
credentials_for() {
  local response user pass
  response=$(printf '{"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"CredentialProviderRequest","image":"%s"}' "$1" \\
    | on_host env HOME=/root "$PROVIDER" 2>"$2") || return 1
  response=$(printf '%s' "$response" | tr -d '\\n\\r')
  user=$(printf '%s' "$response" | sed -n 's/.*"username"[[:space:]]*:[[:space:]]*"\\([^"]*\\)".*/\\1/p')
  pass=$(printf '%s' "$response" | sed -n 's/.*"password"[[:space:]]*:[[:space:]]*"\\([^"]*\\)".*/\\1/p')
  if [ -z "$user" ] || [ -z "$pass" ]; then
    echo "the credential provider answered without a username and password" >>"$2"
    return 1
  fi
  CRED="$user:$pass"
  SECRET="$pass"
}

# The per-platform manifest of an image index: descriptors are the index's one-level-nested JSON objects.
platform_manifest() {
  local os=\${2%%/*} arch=\${2#*/}
  ctr_host content get "$1" | tr -d ' \\n\\r\\t' | grep -oE '[{][^{}]*([{][^{}]*[}][^{}]*)*[}]' \\
    | grep -F "\\"architecture\\":\\"$arch\\"" | grep -F "\\"os\\":\\"$os\\"" \\
    | grep -oE '"digest":"sha[0-9]+:[0-9a-f]+"' | head -n 1 | cut -d '"' -f 4
}

pull_job() {
  local i=$1 ref=\${REFS[$1]} report="$WORK/$1.report" j platform reason line type digest manifest size
  local CRED='' SECRET=''
  local -a auth=()
  if [ "\${CREDS[$i]}" = 1 ]; then
    if ! credentials_for "$ref" "$WORK/$i.credentials.err"; then
      reason="credential provider failed: $(one_line <"$WORK/$i.credentials.err")"
      for platform in "\${PLATFORMS[@]}"; do
        printf 'SNAPSHOT_FACTORY_FAILED\\t%s\\t%s\\t%s\\n' "$ref" "$platform" "$reason" >>"$report"
      done
      return 0
    fi
    # ctr takes the password only on its command line (or from a terminal): visible in the builder's
    # process list for the duration of this pull, nowhere else.
    auth=(--user "$CRED")
  fi
  for j in "\${!PLATFORMS[@]}"; do
    platform=\${PLATFORMS[$j]}
    log "pull start $ref $platform"
    if ! ctr_host images pull "\${PULL_FLAGS[@]}" \${auth[@]+"\${auth[@]}"} --platform "$platform" "$ref" >/dev/null 2>"$WORK/$i.$j.err"; then
      # ctr's own error ("ctr: ...") is the reason; containerd's log lines (level=info/warning...) are noise.
      reason=$(grep '^ctr: ' "$WORK/$i.$j.err" | tail -n 2 | one_line)
      [ -n "$reason" ] || reason=$(grep -v -e '^[[:space:]]*$' -e 'level=' "$WORK/$i.$j.err" | tail -n 2 | one_line)
      [ -n "$reason" ] || reason=$(grep -v '^[[:space:]]*$' "$WORK/$i.$j.err" | tail -n 3 | one_line)
      if [ -n "$SECRET" ]; then reason=\${reason//"$SECRET"/"<redacted>"}; fi
      if grep -qi 'no space left on device' "$WORK/$i.$j.err"; then : >"$WORK/disk-full"; fi
      printf 'SNAPSHOT_FACTORY_FAILED\\t%s\\t%s\\t%s\\n' "$ref" "$platform" "\${reason:-ctr exited with an error and no message}" >>"$report"
      log "pull failed $ref $platform"
      continue
    fi
    line=$(ctr_host images ls | awk -v r="$ref" '$1 == r { print $2, $3; exit }')
    type=\${line%% *}
    digest=\${line#* }
    manifest=$digest
    case $type in *index*|*manifest.list*) manifest=$(platform_manifest "$digest" "$platform") ;; esac
    size=$(ctr_host content get "$manifest" 2>/dev/null | tr -d ' \\n\\r\\t' | grep -oE '"size":[0-9]+' | cut -d : -f 2 | awk '{ s += $1 } END { print s + 0 }')
    if [ -z "$digest" ] || [ -z "$manifest" ]; then
      printf 'SNAPSHOT_FACTORY_FAILED\\t%s\\t%s\\t%s\\n' "$ref" "$platform" "pulled, but containerd does not list it for this platform" >>"$report"
      continue
    fi
    if [ -n "\${DIGESTS[$i]}" ] && [ "$digest" != "\${DIGESTS[$i]}" ]; then
      printf 'SNAPSHOT_FACTORY_FAILED\\t%s\\t%s\\t%s\\n' "$ref" "$platform" "pulled $digest but the build resolved \${DIGESTS[$i]}: the tag moved since; run the build again" >>"$report"
      continue
    fi
    printf 'SNAPSHOT_FACTORY_IMAGE\\t%s\\t%s\\t%s\\t%s\\n' "$ref" "$platform" "$digest" "$size" >>"$report"
    log "pull done $ref $platform"
  done
  # Checked after every image: a volume that is filling up stops the remaining pulls early with a clear
  # message instead of grinding on until the SSM execution timeout.
  if [ "$(df_field avail)" -lt "$MIN_FREE" ]; then : >"$WORK/disk-full"; fi
}

log "stopping kubelet"
on_host systemctl stop kubelet || fatal "could not stop kubelet on the host"
log "emptying the k8s.io image store"
names=$(ctr_host images ls -q) || fatal "could not list containerd images"
if [ -n "$names" ]; then
  mapfile -t existing <<<"$names"
  ctr_host images rm --sync "\${existing[@]}" >/dev/null || fatal "could not remove the existing images"
fi
used_start=$(df_field used)
[ -n "$used_start" ] || fatal "could not read the free space of $ROOT"

for i in "\${!REFS[@]}"; do
  while [ "$(jobs -pr | wc -l)" -ge "$CONCURRENCY" ]; do sleep 0.2; done
  if [ -e "$WORK/disk-full" ]; then
    for platform in "\${PLATFORMS[@]}"; do
      printf 'SNAPSHOT_FACTORY_FAILED\\t%s\\t%s\\t%s\\n' "\${REFS[$i]}" "$platform" "not pulled: the data volume is full" >>"$WORK/$i.report"
    done
    continue
  fi
  pull_job "$i" &
done
wait

: >"$WORK/all"
for i in "\${!REFS[@]}"; do [ -e "$WORK/$i.report" ] && cat "$WORK/$i.report" >>"$WORK/all"; done
ok=$(grep -c '^SNAPSHOT_FACTORY_IMAGE' "$WORK/all")
failed=$(( total_pulls - ok ))
printf 'SNAPSHOT_FACTORY_SUMMARY\\t%s\\t%s\\t%s\\n' "$total_pulls" "$ok" "$failed"
if [ -e "$WORK/disk-full" ]; then
  used_now=$(df_field used)
  per_pull=$(( (used_now - used_start) / (ok > 0 ? ok : 1) ))
  printf 'SNAPSHOT_FACTORY_DISK\\t%s\\t%s\\t%s\\n' "$(( used_start + per_pull * total_pulls + MIN_FREE ))" "$(df_field avail)" "$(df_field size)"
fi
grep '^SNAPSHOT_FACTORY_FAILED' "$WORK/all"
grep '^SNAPSHOT_FACTORY_IMAGE' "$WORK/all"
if [ "$failed" -gt 0 ]; then
  grep '^SNAPSHOT_FACTORY_FAILED' "$WORK/all" | cut -f 2- | sed 's/^/pull failed: /' | tr '\\t' ' ' >&2
  exit 1
fi
exit 0
`;
};

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

export interface PullReport {
  summary?: { expected: number; ok: number; failed: number };
  error?: string;
  disk?: { neededBytes: number; freeBytes: number; totalBytes: number };
  failures: PullFailure[];
  images: PulledImage[];
  /** stdout hit SSM's limit or ended mid-line: some lines may be missing. */
  truncated: boolean;
}

/** Parses the script's report from a command's stdout (as GetCommandInvocation returns it). */
export const parsePullReport = (stdout: string): PullReport => {
  const report: PullReport = { failures: [], images: [], truncated: stdout.length >= SSM_STDOUT_LIMIT };
  const lines = stdout.split('\n');
  // The last piece has no newline after it: complete only when stdout ended with a newline.
  const last = lines.pop() ?? '';
  if (last.length > 0) report.truncated = true;
  for (const line of lines) {
    if (!line.startsWith(REPORT_PREFIX)) continue;
    const [kind, ...fields] = line.split('\t');
    switch (kind) {
      case 'SNAPSHOT_FACTORY_SUMMARY': {
        const [expected, ok, failed] = fields.map(Number);
        if ([expected, ok, failed].every((n) => Number.isInteger(n))) report.summary = { expected: expected!, ok: ok!, failed: failed! };
        break;
      }
      case 'SNAPSHOT_FACTORY_ERROR':
        report.error = fields.join(' ');
        break;
      case 'SNAPSHOT_FACTORY_DISK': {
        const [neededBytes, freeBytes, totalBytes] = fields.map(Number);
        report.disk = { neededBytes: neededBytes ?? 0, freeBytes: freeBytes ?? 0, totalBytes: totalBytes ?? 0 };
        break;
      }
      case 'SNAPSHOT_FACTORY_FAILED':
        if (fields.length >= 3) report.failures.push({ reference: fields[0]!, platform: fields[1]!, reason: fields.slice(2).join(' ') });
        break;
      case 'SNAPSHOT_FACTORY_IMAGE': {
        const [reference, platform, digest, bytes] = fields;
        const sizeBytes = Number(bytes);
        if (reference && platform && digest && Number.isSafeInteger(sizeBytes) && sizeBytes >= 0) {
          report.images.push({ reference, platform, digest, sizeBytes });
        }
        break;
      }
      default:
        break;
    }
  }
  return report;
};

/** Formats byte counts as whole GiB, rounded up (needed) or down (free). */
export const gibUp = (bytes: number): number => Math.ceil(bytes / 1024 ** 3);
export const gibDown = (bytes: number): number => Math.floor(bytes / 1024 ** 3);
