/**
 * `snapshot-factory build`: starts a build on the deployed state machine with snapshot.sh's flags, follows it, and
 * prints the snapshot ID(s). Progress goes to stderr; stdout carries only results, so `-q` output can be captured
 * by scripts (`SNAP=$(snapshot-factory build -q ...)`).
 */
import { StartExecutionCommand } from '@aws-sdk/client-sfn';
import { PutParameterCommand } from '@aws-sdk/client-ssm';
import { Command, Option } from 'commander';
import { parseStatesArn, regionFor } from './arns';
import type { AwsClients } from './aws-access';
import { followExecution, printResult, type FollowIo } from './follow-execution';
import { checkInstanceTypes, parseInstanceTypes, type ArchitectureLookup } from './instance-types';
import {
  architecturesFromPlatforms,
  parseBooleanFlag,
  parsePositiveInteger,
  refuseDeployTimeFlags,
  splitImageList,
  type Architecture,
} from './snapshot-flags';

/** The `build` command's options, named as snapshot.sh named its flags. */
export interface BuildOptions {
  region?: string;
  stateMachineArn: string;
  ami?: string;
  instanceType?: string;
  encrypt?: boolean;
  kmsId?: string;
  snapshotSize?: number;
  instanceRole?: string;
  quiet?: boolean;
  securityGroupId?: string;
  subnetId?: string;
  publicIp?: boolean;
  arch?: string;
  layout?: 'combined' | 'per-architecture';
  outputParameterName?: string;
  recipe?: string;
  force?: boolean;
  wait: boolean;
  pollSeconds: number;
  /** Step Functions endpoint instead of AWS's, e.g. `snapshot-factory local`'s `http://127.0.0.1:8083`. */
  endpointUrl?: string;
}

/** The architectures that get a builder: one per architecture, or the combined layout's one (x86_64). */
export const builderArchitectures = (architectures: Architecture[], layout: string | undefined): Architecture[] =>
  layout === 'combined' ? ['x86_64'] : architectures;

/**
 * The execution input for the factory (docs/input.md) from snapshot.sh-style options; refuses deploy-time flags.
 * @example executionInputFromFlags(['nginx:1'], { stateMachineArn, wait: true, pollSeconds: 5, arch: 'arm64' }).architectures // ['arm64']
 */
export const executionInputFromFlags = (images: string[], options: BuildOptions): Record<string, unknown> => {
  refuseDeployTimeFlags(options as unknown as Record<string, unknown>);
  const architectures = options.arch ? architecturesFromPlatforms(options.arch) : undefined;
  // snapshot.sh's -A put every platform into one snapshot; keep that unless --layout says otherwise.
  const layout = options.layout ?? (architectures && architectures.length > 1 ? 'combined' : undefined);
  const instanceTypes = options.instanceType
    ? parseInstanceTypes(options.instanceType, builderArchitectures(architectures ?? ['x86_64'], layout))
    : undefined;
  const dataVolume = {
    ...(options.snapshotSize !== undefined ? { sizeGiB: options.snapshotSize } : {}),
    ...(options.kmsId ? { encrypted: true, kmsKeyArn: options.kmsId } : {}),
  };
  return {
    images,
    ...(options.recipe ? { recipe: options.recipe } : {}),
    ...(architectures ? { architectures } : {}),
    ...(layout ? { layout } : {}),
    ...(options.ami ? { amiParameter: amiPattern(options.ami) } : {}),
    ...(instanceTypes ? { instanceTypes } : {}),
    ...(options.subnetId ? { subnetIds: [options.subnetId] } : {}),
    ...(options.securityGroupId ? { securityGroupIds: options.securityGroupId.split(',').map((id) => id.trim()) } : {}),
    ...(options.publicIp !== undefined ? { associatePublicIp: options.publicIp } : {}),
    ...(Object.keys(dataVolume).length ? { dataVolume } : {}),
    ...(options.force ? { force: true } : {}),
  };
};

/** snapshot.sh took a path for one architecture; the factory needs `{arch}` where x86_64/arm64 goes. */
const amiPattern = (path: string): string => path.replace(/\/(x86_64|arm64)\//, '/{arch}/');

/** What `build` needs besides its flags. */
export interface BuildDependencies extends FollowIo {
  clients: AwsClients;
  instanceTypeLookup: ArchitectureLookup;
}

/** Runs one build to its end; returns the process exit code. Everything is checked before StartExecution. */
export const runBuild = async (images: string[], options: BuildOptions, deps: BuildDependencies): Promise<number> => {
  const input = executionInputFromFlags(images, options);
  if (input.instanceTypes) await checkInstanceTypes(input.instanceTypes as Partial<Record<Architecture, string[]>>, deps.instanceTypeLookup);
  const started = await deps.clients.sfn.send(
    new StartExecutionCommand({ stateMachineArn: options.stateMachineArn, input: JSON.stringify(input) }),
  );
  const executionArn = started.executionArn!;
  deps.stderr(`started ${executionArn}`);
  if (!options.wait) {
    deps.stdout(executionArn);
    return 0;
  }
  const final = await followExecution(executionArn, options.pollSeconds, deps.clients.sfn, deps);
  const snapshots = printResult(final, options.quiet ?? false, deps);
  if (!snapshots) return 1;
  if (options.outputParameterName) await writeOutputParameters(options.outputParameterName, snapshots, deps);
  return 0;
};

/** `-op` of snapshot.sh: one snapshot goes to the parameter itself, several to `<name>/<architecture>`. */
const writeOutputParameters = async (
  name: string,
  snapshots: { architecture: string; snapshotId: string }[],
  deps: BuildDependencies,
): Promise<void> => {
  for (const snapshot of snapshots) {
    const parameter = snapshots.length === 1 ? name : `${name}/${snapshot.architecture}`;
    await deps.clients.ssm.send(new PutParameterCommand({ Name: parameter, Value: snapshot.snapshotId, Type: 'String', Overwrite: true }));
    deps.stderr(`wrote ${snapshot.snapshotId} to SSM parameter ${parameter}`);
  }
};

/** The region a build calls: `--region`, else the state machine ARN's. */
export const buildRegion = (options: Pick<BuildOptions, 'stateMachineArn' | 'region'>): string =>
  regionFor(parseStatesArn(options.stateMachineArn, 'stateMachine', '--state-machine-arn'), options.region);

/** The `build` command's definition (flags as in docs/cli.md; snapshot.sh's spelling first). */
export const buildCommand = (): Command =>
  new Command('build')
    .description('build a snapshot on the deployed factory (flags compatible with snapshot.sh)')
    .argument('<images>', 'comma-separated container images', splitImageList)
    .addOption(
      new Option('--state-machine-arn <arn>', 'the factory state machine (stack output StateMachineArn)')
        .env('SNAPSHOT_FACTORY_STATE_MACHINE_ARN')
        .makeOptionMandatory(),
    )
    .option('-r, --region <region>', "AWS region (default: the state machine ARN's)")
    .option('-a, --ami <path>', 'SSM parameter of the Bottlerocket AMI; an x86_64/arm64 segment becomes {arch}')
    .option('-i, --instance-type <types>', 'instance types tried in order: m7i.large,m6i.large, or per architecture x86_64=m7i.large,arm64=m7g.large')
    .option('-e, --encrypt', 'encrypt the volume and snapshot (always on; accepted for snapshot.sh compatibility)')
    .option('-k, --kms-id <key>', 'KMS key for the volume and snapshot (no longer needs -e)')
    .option('-s, --snapshot-size <GiB>', 'data volume size in GiB', parsePositiveInteger('-s/--snapshot-size'))
    .option('-R, --instance-role <name>', 'refused: a deploy-time setting now (instanceRoleName in cdk.json)')
    .option('-q, --quiet', 'only the snapshot ID(s) on stdout, one per line; progress stays on stderr')
    .option('--security-group-id <ids>', 'security group(s) of the builder, comma-separated (snapshot.sh: -sg)')
    .option('--subnet-id <id>', 'subnet of the builder (snapshot.sh: -sn)')
    .option('-p, --public-ip <bool>', 'associate a public IP (true/false)', parseBooleanFlag('-p/--public-ip'))
    .option('-A, --arch <list>', 'amd64, arm64 or amd64,arm64 (default: the deployed architectures)')
    .addOption(new Option('--layout <layout>', 'several architectures in one snapshot, or one per architecture').choices(['combined', 'per-architecture']))
    .option('--output-parameter-name <name>', 'also write the snapshot ID to this SSM parameter (snapshot.sh: -op)')
    .option('--recipe <name>', 'recipe (lineage) the snapshot belongs to')
    .option('--force', 'build even if the current snapshot already holds these image digests')
    .option('--no-wait', 'print the execution ARN and return without following the build')
    .option('--poll-seconds <n>', 'how often to poll the execution', parsePositiveInteger('--poll-seconds'), 5)
    .option('--endpoint-url <url>', 'Step Functions endpoint to use instead of AWS\'s, e.g. the one `snapshot-factory local` prints');
