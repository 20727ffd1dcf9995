/**
 * `snapshot-factory build`: starts a build on the deployed state machine with snapshot.sh-compatible flags,
 * follows it, and prints the snapshot ID(s). Progress goes to stderr; stdout carries only results, so
 * `--quiet` output can be captured by scripts (`SNAP=$(snapshot-factory build -q ...)`).
 */
import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { Command, Option } from 'commander';
import { karpenterNodeClass, launchTemplateBlockDevices } from './node-templates';
import { architecturesFromPlatforms, parseBooleanFlag, parsePositiveInteger, splitImageList } from './snapshot-flags';

export interface BuildOptions {
  region?: string;
  stateMachineArn?: string;
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
  platforms?: string;
  layout?: 'combined' | 'per-architecture';
  outputParameter?: string;
  recipe?: string;
  force?: boolean;
  wait: boolean;
  pollSeconds: number;
  printNodeClass?: boolean;
  /** Step Functions endpoint instead of AWS's, e.g. `snapshot-factory local`'s `http://127.0.0.1:8083`. */
  endpointUrl?: string;
}

/** The execution input for the factory (see docs/input.md) from snapshot.sh-style options. */
export const executionInputFromFlags = (images: string[], options: BuildOptions): Record<string, unknown> => {
  if (options.instanceRole) {
    throw new Error(
      '--instance-role cannot be chosen per build: the factory may pass only its own builder role to EC2 (least privilege). ' +
        'Set `instanceRoleName` in cdk.json and redeploy (docs/configuration.md).',
    );
  }
  const architectures = options.platforms ? architecturesFromPlatforms(options.platforms) : undefined;
  const instanceTypes = options.instanceType?.split(',').map((type) => type.trim());
  const dataVolume = {
    ...(options.snapshotSize !== undefined ? { sizeGiB: options.snapshotSize } : {}),
    ...(options.kmsId ? { encrypted: true, kmsKeyId: options.kmsId } : {}),
  };
  // snapshot.sh's -A put every platform into one snapshot; keep that unless --layout says otherwise.
  const layout = options.layout ?? (architectures && architectures.length > 1 ? 'combined' : undefined);
  return {
    images,
    ...(options.recipe ? { recipe: options.recipe } : {}),
    ...(architectures ? { architectures } : {}),
    ...(layout ? { layout } : {}),
    ...(options.ami ? { amiParameter: amiPattern(options.ami) } : {}),
    ...(instanceTypes
      ? { instanceTypes: Object.fromEntries((architectures ?? ['x86_64']).map((arch) => [arch, instanceTypes])) }
      : {}),
    ...(options.subnetId ? { subnetId: options.subnetId } : {}),
    ...(options.securityGroupId ? { securityGroupIds: options.securityGroupId.split(',').map((id) => id.trim()) } : {}),
    ...(options.publicIp !== undefined ? { associatePublicIp: options.publicIp } : {}),
    ...(Object.keys(dataVolume).length ? { dataVolume } : {}),
    ...(options.force ? { force: true } : {}),
  };
};

/** snapshot.sh took a path for one architecture; the factory needs `{arch}` where x86_64/arm64 goes. */
const amiPattern = (path: string): string => path.replace(/\/(x86_64|arm64)\//, '/{arch}/');

interface PublishedSnapshotOutput {
  architecture: string;
  servesArchitectures?: string[];
  snapshotId: string;
  volumeSizeGiB?: number;
}

interface ExecutionOutput {
  status: 'BUILT' | 'UP_TO_DATE' | 'REPUBLISHED';
  recipe: string;
  snapshots: PublishedSnapshotOutput[];
}

export interface BuildDependencies {
  sfn: Pick<SFNClient, 'send'>;
  ssm: Pick<SSMClient, 'send'>;
  stdout: (line: string) => void;
  stderr: (line: string) => void;
  sleep: (ms: number) => Promise<void>;
}

/** Runs one build to its end; returns the process exit code. */
export const runBuild = async (images: string[], options: BuildOptions, deps: BuildDependencies): Promise<number> => {
  const input = executionInputFromFlags(images, options);
  const progress = options.quiet ? () => undefined : deps.stderr;
  const started = await deps.sfn.send(
    new StartExecutionCommand({ stateMachineArn: options.stateMachineArn, input: JSON.stringify(input) }),
  );
  const executionArn = started.executionArn!;
  progress(`started ${executionArn}`);
  if (!options.wait) {
    deps.stdout(executionArn);
    return 0;
  }

  const status = await followExecution(executionArn, options.pollSeconds, deps, progress);
  if (status.status !== 'SUCCEEDED') {
    deps.stderr(`build ${status.status}: ${status.error ?? ''} ${status.cause ?? ''}`.trim());
    return 1;
  }
  const output = JSON.parse(status.output ?? '{}') as ExecutionOutput;
  const outcome = {
    UP_TO_DATE: 'images unchanged: the current snapshots are up to date',
    REPUBLISHED: 'images unchanged: finished publishing the current snapshots (an earlier publish was incomplete)',
    BUILT: 'snapshots built',
  };
  progress(outcome[output.status] ?? `ended ${output.status}`);
  for (const snapshot of output.snapshots) {
    deps.stdout(options.quiet ? snapshot.snapshotId : `${snapshot.architecture}\t${snapshot.snapshotId}`);
  }
  if (options.outputParameter) await writeOutputParameters(options.outputParameter, output.snapshots, deps, progress);
  if (options.printNodeClass && !options.quiet) {
    for (const snapshot of output.snapshots) {
      const template = { snapshotId: snapshot.snapshotId, volumeSizeGiB: snapshot.volumeSizeGiB ?? options.snapshotSize ?? 100, kmsKeyId: options.kmsId };
      deps.stdout(`\n# Karpenter EC2NodeClass (${snapshot.architecture})\n${karpenterNodeClass(template)}`);
      deps.stdout(`# Launch template block devices (${snapshot.architecture})\n${launchTemplateBlockDevices(template)}`);
    }
  }
  return 0;
};

/** `-op` of snapshot.sh: one snapshot goes to the parameter itself, several to `<name>/<architecture>`. */
const writeOutputParameters = async (
  name: string,
  snapshots: PublishedSnapshotOutput[],
  deps: BuildDependencies,
  progress: (line: string) => void,
): Promise<void> => {
  for (const snapshot of snapshots) {
    const parameter = snapshots.length === 1 ? name : `${name}/${snapshot.architecture}`;
    await deps.ssm.send(new PutParameterCommand({ Name: parameter, Value: snapshot.snapshotId, Type: 'String', Overwrite: true }));
    progress(`wrote ${snapshot.snapshotId} to SSM parameter ${parameter}`);
  }
};

interface FinalStatus {
  status: string;
  output?: string;
  error?: string;
  cause?: string;
}

const TERMINAL = new Set(['SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED']);

/** Polls the execution, printing each state as it is entered, until it ends. */
export const followExecution = async (
  executionArn: string,
  pollSeconds: number,
  deps: Pick<BuildDependencies, 'sfn' | 'sleep'>,
  progress: (line: string) => void,
): Promise<FinalStatus> => {
  const seen = new Set<number>();
  let lastState = '';
  for (;;) {
    const described = await deps.sfn.send(new DescribeExecutionCommand({ executionArn }));
    let nextToken: string | undefined;
    do {
      const page = await deps.sfn.send(new GetExecutionHistoryCommand({ executionArn, nextToken, maxResults: 1000 }));
      for (const event of page.events ?? []) {
        if (seen.has(event.id ?? -1)) continue;
        seen.add(event.id ?? -1);
        const name = event.stateEnteredEventDetails?.name;
        // A wait loop enters its check and wait states again and again; show each stage once per run of it.
        if (!name || /^Wait/.test(name) || name === lastState) continue;
        progress(`[${event.timestamp ? new Date(event.timestamp).toISOString().slice(11, 19) : ''}] ${name}`);
        lastState = name;
      }
      nextToken = page.nextToken;
    } while (nextToken);
    if (TERMINAL.has(described.status ?? '')) {
      return { status: described.status!, output: described.output, error: described.error, cause: described.cause };
    }
    await deps.sleep(pollSeconds * 1000);
  }
};

/** The `build` command's definition (flags as in docs/cli.md). */
export const buildCommand = (): Command =>
  new Command('build')
    .description('build a snapshot on the deployed factory (flags compatible with snapshot.sh)')
    .argument('<images>', 'comma-separated container images', splitImageList)
    .option('-r, --region <region>', 'AWS region (default: AWS_REGION / AWS_DEFAULT_REGION / the CLI config)')
    .addOption(
      new Option('--state-machine-arn <arn>', 'the factory state machine (stack output StateMachineArn)')
        .env('SNAPSHOT_FACTORY_STATE_MACHINE_ARN')
        .makeOptionMandatory(),
    )
    .option('-a, --ami <path>', 'SSM parameter of the Bottlerocket AMI; an x86_64/arm64 segment becomes {arch}')
    .option('-i, --instance-type <types>', 'instance type(s), comma-separated, tried in order')
    .option('-e, --encrypt', 'encrypt the volume and snapshot (always on; accepted for snapshot.sh compatibility)')
    .option('-k, --kms-id <key>', 'KMS key for the volume and snapshot (implies --encrypt)')
    .option('-s, --snapshot-size <GiB>', 'data volume size in GiB', parsePositiveInteger('--snapshot-size'))
    .option('-R, --instance-role <name>', 'not supported per build: set instanceRoleName at deploy time')
    .option('-q, --quiet', 'print only the snapshot ID(s) on stdout, nothing on stderr but errors')
    .option('--security-group-id <ids>', 'security group(s) of the builder (snapshot.sh: -sg)')
    .option('--subnet-id <id>', 'subnet of the builder (snapshot.sh: -sn)')
    .option('-p, --public-ip <bool>', 'associate a public IP (true/false)', parseBooleanFlag('--public-ip'))
    .option('-A, --platforms <list>', 'amd64, arm64 or amd64,arm64 (default: the deployed architectures)')
    .addOption(new Option('--layout <layout>', 'several platforms in one snapshot, or one per architecture').choices(['combined', 'per-architecture']))
    .option('--output-parameter <name>', 'also write the snapshot ID to this SSM parameter (snapshot.sh: -op)')
    .option('--recipe <name>', 'recipe (lineage) the snapshot belongs to')
    .option('--force', 'build even if the current snapshot already holds these image digests')
    .option('--no-wait', 'print the execution ARN and return without following the build')
    .option('--poll-seconds <n>', 'how often to poll the execution', parsePositiveInteger('--poll-seconds'), 10)
    .option('--print-node-class', 'print a Karpenter EC2NodeClass and launch template block for the snapshot(s)')
    .option('--endpoint-url <url>', 'Step Functions endpoint to use instead of AWS\'s, e.g. the one `snapshot-factory local` prints');

/**
 * Region order: the flag, then the SDK's own resolution (AWS_REGION, AWS_DEFAULT_REGION, profile). `endpointUrl`
 * points the Step Functions client only (SSM, for `--output-parameter`, stays AWS's).
 */
export const clientsFor = (region?: string, endpointUrl?: string): Pick<BuildDependencies, 'sfn' | 'ssm'> => ({
  sfn: new SFNClient({ ...(region ? { region } : {}), ...(endpointUrl ? { endpoint: endpointUrl } : {}) }),
  ssm: new SSMClient(region ? { region } : {}),
});
