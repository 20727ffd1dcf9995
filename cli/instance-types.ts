/**
 * `-i/--instance-type`: which instance types each architecture's builder may use, and the check, before anything is
 * launched, that each type runs that architecture (snapshot.sh launched an x86_64 type for arm64 and failed late).
 *
 * Two forms: `-i m7i.large,m6i.large` (the list for every architecture built) and
 * `-i x86_64=m7i.large,arm64=m7g.large,arm64=m6g.large` (per architecture; `amd64` is accepted for `x86_64`).
 * A type's architecture comes from EC2's DescribeInstanceTypes (`ProcessorInfo.SupportedArchitectures`) when the
 * caller has credentials, else from the naming rule (`architectureFromName`).
 */
import type { EC2Client, _InstanceType } from '@aws-sdk/client-ec2';
import type { Architecture } from './snapshot-flags';

/** An instance type that cannot be used for the architecture it was given for, or is not an instance type. */
export class InstanceTypeArchitectureError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InstanceTypeArchitectureError';
  }
}

/** EC2 instance type syntax: family, generation, capabilities, `.`, size (`m7i.large`, `c7gn.16xlarge`, `u-6tb1.metal`). */
const INSTANCE_TYPE = /^[a-z][a-z0-9-]*\.[a-z0-9-]+$/;

/**
 * Parses `-i` into types per architecture, for the architectures being built.
 * @example parseInstanceTypes('x86_64=m5.large,arm64=m6g.large', ['x86_64', 'arm64']) // { x86_64: ['m5.large'], arm64: ['m6g.large'] }
 */
export const parseInstanceTypes = (value: string, architectures: readonly Architecture[]): Partial<Record<Architecture, string[]>> => {
  const items = value.split(',').map((item) => item.trim());
  if (items.some((item) => item === '')) throw new InstanceTypeArchitectureError(`-i/--instance-type "${value}" has an empty entry`);
  const perArchitecture = items.filter((item) => item.includes('='));
  if (perArchitecture.length > 0 && perArchitecture.length < items.length) {
    throw new InstanceTypeArchitectureError(
      `-i/--instance-type "${value}" mixes plain types and <architecture>=<type>: use one form, e.g. x86_64=m7i.large,arm64=m7g.large`,
    );
  }
  const result: Partial<Record<Architecture, string[]>> = {};
  const add = (architecture: Architecture, type: string): void => {
    if (!INSTANCE_TYPE.test(type)) throw new InstanceTypeArchitectureError(`-i/--instance-type: "${type}" is not an EC2 instance type (e.g. m7i.large)`);
    const list = (result[architecture] ??= []);
    if (!list.includes(type)) list.push(type);
  };
  if (perArchitecture.length === 0) {
    for (const architecture of architectures) for (const type of items) add(architecture, type);
    return result;
  }
  for (const item of items) {
    const [name, type = ''] = item.split('=', 2) as [string, string?];
    const architecture = name === 'amd64' ? 'x86_64' : name;
    if (architecture !== 'x86_64' && architecture !== 'arm64') {
      throw new InstanceTypeArchitectureError(`-i/--instance-type: unknown architecture "${name}" in "${item}": use x86_64 (or amd64) or arm64`);
    }
    if (!architectures.includes(architecture)) {
      throw new InstanceTypeArchitectureError(
        `-i/--instance-type: "${item}" is for ${architecture}, which this build does not launch a builder for (builders: ${architectures.join(', ')})`,
      );
    }
    add(architecture, type);
  }
  return result;
};

/**
 * A type's architecture from its name, the rule aws-cdk-lib applies offline (aws/aws-cdk,
 * packages/aws-cdk-lib/aws-ec2/lib/instance-types.ts, `InstanceType.architecture`): family `a` (a1) or a
 * capability letter `g` after the generation (m7g, c7gn, im4gn, is4gen, x2gd, g5g) is AWS Graviton (arm64),
 * anything else x86_64. Mac families (EC2's `x86_64_mac`, `arm64_mac`) do not run Bottlerocket.
 * Returns undefined when the name does not follow the convention (e.g. `u-6tb1.metal`).
 */
export const architectureFromName = (type: string): Architecture | 'mac' | undefined => {
  const match = /^([a-z]+)(\d{1,2})([a-z-]*)\.([a-z0-9-]+)$/.exec(type);
  if (!match) return undefined;
  const [, family, , capabilities] = match as unknown as [string, string, string, string];
  if (family === 'mac') return 'mac';
  return family === 'a' || capabilities.includes('g') ? 'arm64' : 'x86_64';
};

/** Where each type's architectures came from, for the message that refuses one. */
export interface ArchitectureLookup {
  architecturesOf: (types: string[]) => Promise<Map<string, string[]>>;
  /** `DescribeInstanceTypes` or `the naming rule (no AWS credentials)`. */
  source: string;
}

/** Reads `ProcessorInfo.SupportedArchitectures` of each type with DescribeInstanceTypes (at most 100 per call). */
export const describeInstanceTypes = (ec2: Pick<EC2Client, 'send'>) => async (types: string[]): Promise<Map<string, string[]>> => {
  // Loaded here, not at the top: cli/aws-access.ts says why.
  const { DescribeInstanceTypesCommand } = await import('@aws-sdk/client-ec2');
  const found = new Map<string, string[]>();
  for (let start = 0; start < types.length; start += 100) {
    const page = await ec2.send(new DescribeInstanceTypesCommand({ InstanceTypes: types.slice(start, start + 100) as _InstanceType[] }));
    for (const info of page.InstanceTypes ?? []) {
      if (info.InstanceType) found.set(info.InstanceType, info.ProcessorInfo?.SupportedArchitectures ?? []);
    }
  }
  return found;
};

/** The naming rule as a lookup: `arm64`/`x86_64`, `arm64_mac` for a Mac, nothing when the name says nothing. */
export const architecturesByName = async (types: string[]): Promise<Map<string, string[]>> =>
  new Map(
    types.map((type) => {
      const architecture = architectureFromName(type);
      return [type, architecture === undefined ? [] : architecture === 'mac' ? ['mac'] : [architecture]];
    }),
  );

/** Refuses, naming the type and the architecture, any type that does not run the architecture it is listed for. */
export const checkInstanceTypes = async (
  typesByArchitecture: Partial<Record<Architecture, string[]>>,
  lookup: ArchitectureLookup,
): Promise<void> => {
  const types = [...new Set(Object.values(typesByArchitecture).flat())];
  if (types.length === 0) return;
  const known = await lookup.architecturesOf(types);
  for (const [architecture, list] of Object.entries(typesByArchitecture) as [Architecture, string[]][]) {
    for (const type of list) {
      const supported = known.get(type);
      if (!supported || supported.length === 0) {
        throw new InstanceTypeArchitectureError(
          lookup.source === 'DescribeInstanceTypes'
            ? `-i/--instance-type: EC2 does not know instance type "${type}" in this region (DescribeInstanceTypes)`
            : `-i/--instance-type: cannot tell the architecture of "${type}" from its name (${lookup.source}): give a type named family+generation+capabilities.size, or run with AWS credentials so DescribeInstanceTypes can tell`,
        );
      }
      if (!supported.includes(architecture)) {
        throw new InstanceTypeArchitectureError(
          `-i/--instance-type: "${type}" is ${supported.join('/')} (${lookup.source}), not ${architecture}: ` +
            `give types per architecture, e.g. -i x86_64=m7i.large,arm64=m7g.large`,
        );
      }
    }
  }
};
