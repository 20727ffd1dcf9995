/**
 * The flags of the original `snapshot.sh` (aws-samples/bottlerocket-images-cache, snapshot.sh: `print_help` and the
 * `case $key in` loop), kept so its users' commands keep working, short and long as the script spelled them.
 *
 * `snapshot.sh` used multi-letter short flags (`-sg`, `-sn`, `-op`) that no argument parser accepts as short
 * options, so they are rewritten to their long names before parsing; every other flag is parsed strictly
 * (an unknown flag is an error, never an image name as in the old script).
 */

/** An EC2 architecture the factory builds for. */
export type Architecture = 'x86_64' | 'arm64';

/** A flag or value the CLI refuses before anything is started. */
export class InvalidFlagError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidFlagError';
  }
}

const LEGACY_MULTI_LETTER_FLAGS: Record<string, string> = {
  '-sg': '--security-group-id',
  '-sn': '--subnet-id',
  '-op': '--output-parameter-name',
};

/** Rewrites `snapshot.sh`'s multi-letter short flags (also in `-sg=sg-1` form) to their long names. */
export const rewriteLegacyFlags = (argv: readonly string[]): string[] => {
  const end = argv.indexOf('--');
  return argv.map((arg, index) => {
    if (end >= 0 && index > end) return arg;
    const [flag, ...value] = arg.split('=');
    const long = flag ? LEGACY_MULTI_LETTER_FLAGS[flag] : undefined;
    if (!long) return arg;
    return value.length ? `${long}=${value.join('=')}` : long;
  });
};

/**
 * snapshot.sh flags whose choice moved to deploy time: the factory's IAM lets it pass only its own builder role,
 * so a per-build role cannot work. Each is refused before anything starts, naming the setting.
 */
export const DEPLOY_TIME_FLAGS: readonly { flags: string; option: string; setting: string; why: string }[] = [
  {
    flags: '-R/--instance-role',
    option: 'instanceRole',
    setting: 'instanceRoleName',
    why: 'the factory may pass only the builder role it was deployed with to EC2',
  },
];

/** Throws for the first deploy-time flag that was given. */
export const refuseDeployTimeFlags = (options: Record<string, unknown>): void => {
  for (const flag of DEPLOY_TIME_FLAGS) {
    if (options[flag.option] !== undefined) {
      throw new InvalidFlagError(
        `${flag.flags}: a deploy-time setting now: set ${flag.setting} in cdk.json and redeploy (docs/configuration.md); ${flag.why}`,
      );
    }
  }
};

/** `amd64` / `arm64` (snapshot.sh's `-A`) or `x86_64` / `arm64` (EC2's names) to EC2 architectures. */
export const architecturesFromPlatforms = (list: string): Architecture[] => {
  const architectures = list
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean)
    .map((item) => {
      if (item === 'amd64' || item === 'x86_64' || item === 'linux/amd64') return 'x86_64' as const;
      if (item === 'arm64' || item === 'aarch64' || item === 'linux/arm64') return 'arm64' as const;
      throw new InvalidFlagError(`-A/--arch: unknown platform "${item}" in "${list}": use amd64, arm64 or both (comma-separated)`);
    });
  if (architectures.length === 0) throw new InvalidFlagError('-A/--arch: no platform given: use amd64, arm64 or both (comma-separated)');
  return [...new Set(architectures)];
};

/** Parses `true`/`false` the way snapshot.sh's `-p` did, rejecting anything else. */
export const parseBooleanFlag = (name: string) => (value: string): boolean => {
  if (/^(true|yes|1)$/i.test(value)) return true;
  if (/^(false|no|0)$/i.test(value)) return false;
  throw new InvalidFlagError(`${name} must be true or false, got "${value}"`);
};

/** Parses a positive whole number. */
export const parsePositiveInteger = (name: string) => (value: string): number => {
  const number = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(number) || number <= 0) {
    throw new InvalidFlagError(`${name} must be a positive whole number, got "${value}"`);
  }
  return number;
};

/** Splits snapshot.sh's comma-separated image list, refusing empty entries rather than dropping them. */
export const splitImageList = (list: string): string[] => {
  const images = list.split(',').map((image) => image.trim());
  const empty = images.findIndex((image) => image === '');
  if (empty >= 0) throw new InvalidFlagError(`image list "${list}" has an empty entry at position ${empty + 1}`);
  return images;
};
