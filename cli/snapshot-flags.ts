/**
 * The flags of the original `snapshot.sh`, kept so its users' commands keep working.
 *
 * `snapshot.sh` used multi-letter short flags (`-sg`, `-sn`, `-op`) that no argument parser accepts as short
 * options, so they are rewritten to their long names before parsing; every other flag is parsed strictly
 * (an unknown flag is an error, never an image name as in the old script).
 */

const LEGACY_MULTI_LETTER_FLAGS: Record<string, string> = {
  '-sg': '--security-group-id',
  '-sn': '--subnet-id',
  '-op': '--output-parameter',
};

/** Rewrites `snapshot.sh`'s multi-letter short flags (also in `-sg=sg-1` form) to their long names. */
export const rewriteLegacyFlags = (argv: readonly string[]): string[] =>
  argv.map((arg) => {
    const [flag, ...value] = arg.split('=');
    const long = flag ? LEGACY_MULTI_LETTER_FLAGS[flag] : undefined;
    if (!long) return arg;
    return value.length ? `${long}=${value.join('=')}` : long;
  });

/** `amd64` / `arm64` (snapshot.sh's `-A`) or `x86_64` / `arm64` (EC2's names) to EC2 architectures. */
export const architecturesFromPlatforms = (list: string): ('x86_64' | 'arm64')[] => {
  const architectures = list
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean)
    .map((item) => {
      if (item === 'amd64' || item === 'x86_64' || item === 'linux/amd64') return 'x86_64' as const;
      if (item === 'arm64' || item === 'aarch64' || item === 'linux/arm64') return 'arm64' as const;
      throw new Error(`unknown platform "${item}" in "${list}": use amd64, arm64 or both (comma-separated)`);
    });
  if (architectures.length === 0) throw new Error('no platform given: use amd64, arm64 or both (comma-separated)');
  return [...new Set(architectures)];
};

/** Parses `true`/`false` the way snapshot.sh's `-p` did, rejecting anything else. */
export const parseBooleanFlag = (name: string) => (value: string): boolean => {
  if (/^(true|yes|1)$/i.test(value)) return true;
  if (/^(false|no|0)$/i.test(value)) return false;
  throw new Error(`${name} must be true or false, got "${value}"`);
};

/** Parses a positive whole number of GiB. */
export const parsePositiveInteger = (name: string) => (value: string): number => {
  const number = Number(value);
  if (!Number.isInteger(number) || number <= 0) throw new Error(`${name} must be a positive whole number, got "${value}"`);
  return number;
};

/** Splits snapshot.sh's comma-separated image list, refusing empty entries rather than dropping them. */
export const splitImageList = (list: string): string[] => {
  const images = list.split(',').map((image) => image.trim());
  const empty = images.findIndex((image) => image === '');
  if (empty >= 0) throw new Error(`image list "${list}" has an empty entry at position ${empty + 1}`);
  return images;
};
