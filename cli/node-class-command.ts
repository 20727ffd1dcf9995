/**
 * `node-class <snapshot-id>` and `launch-template <snapshot-id>`: print what node launchers apply, YAML or JSON
 * alone on stdout; notes go to stderr.
 *
 * The snapshot's size and KMS key come from EC2 DescribeSnapshots when the caller has credentials (its answer wins
 * over nothing, and a `--volume-size` below the snapshot's size is refused, as EC2 would refuse the launch); without
 * credentials, from the flags.
 */
import { Command } from 'commander';
import { parse } from 'yaml';
import { clientsFor, isMissingCredentials, type AwsClients } from './aws-access';
import { karpenterNodeClass, launchTemplateData, validated, type VolumeOptions } from './node-templates';
import { InvalidFlagError, parsePositiveInteger } from './snapshot-flags';

/** What DescribeSnapshots says about the snapshot, or what the flags say when it cannot be asked. */
export interface SnapshotFacts {
  sizeGiB?: number;
  kmsKeyId?: string;
  encrypted?: boolean;
  source: 'DescribeSnapshots' | 'flags';
}

interface VolumeFlags {
  region?: string;
  volumeSize?: number;
  kmsId?: string;
  osVolumeSize: number;
  iops: number;
  throughput: number;
}

/** Reads the snapshot's size and encryption; `source: 'flags'` when there are no credentials to ask with. */
export const describeSnapshot = async (ec2: AwsClients['ec2'], snapshotId: string): Promise<SnapshotFacts> => {
  try {
    // Loaded here, not at the top: cli/aws-access.ts says why.
    const { DescribeSnapshotsCommand } = await import('@aws-sdk/client-ec2');
    const answer = await ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [snapshotId] }));
    const snapshot = answer.Snapshots?.[0];
    if (!snapshot) throw new InvalidFlagError(`snapshot ${snapshotId} not found (DescribeSnapshots)`);
    if (snapshot.State !== 'completed') {
      throw new InvalidFlagError(`snapshot ${snapshotId} is ${snapshot.State}, not completed: volumes cannot be made from it yet`);
    }
    return { sizeGiB: snapshot.VolumeSize, kmsKeyId: snapshot.KmsKeyId, encrypted: snapshot.Encrypted, source: 'DescribeSnapshots' };
  } catch (error) {
    if (isMissingCredentials(error)) return { source: 'flags' };
    if ((error as { name?: string }).name === 'InvalidSnapshot.NotFound') {
      throw new InvalidFlagError(`snapshot ${snapshotId} not found in this region (DescribeSnapshots: InvalidSnapshot.NotFound)`);
    }
    throw error;
  }
};

/** The volumes, from the snapshot's facts and the flags; refuses a size below the snapshot's. */
export const volumeOptions = (snapshotId: string, facts: SnapshotFacts, flags: VolumeFlags, note: (line: string) => void): VolumeOptions => {
  const sizeGiB = flags.volumeSize ?? facts.sizeGiB;
  if (sizeGiB === undefined) {
    throw new InvalidFlagError(
      `cannot read the size of ${snapshotId}: no AWS credentials for DescribeSnapshots; pass -s/--volume-size <GiB> (at least the snapshot's size)`,
    );
  }
  if (facts.sizeGiB !== undefined && sizeGiB < facts.sizeGiB) {
    throw new InvalidFlagError(`-s/--volume-size ${sizeGiB} is below the size of ${snapshotId} (${facts.sizeGiB} GiB): a volume cannot be smaller than its snapshot`);
  }
  const key = facts.kmsKeyId ?? flags.kmsId;
  if (facts.kmsKeyId && flags.kmsId && flags.kmsId !== facts.kmsKeyId) {
    note(`note: ${snapshotId} is encrypted with ${facts.kmsKeyId}, not ${flags.kmsId} (-k): the data volume will use the snapshot's key`);
  }
  if (key) note(`note: the data volume is encrypted with ${key} (from the snapshot); the nodes' launch role needs kms:CreateGrant and kms:Decrypt on it`);
  else if (facts.source === 'flags') note(`note: no credentials: size from -s, encryption as the snapshot's (not checked)`);
  return { snapshotId, volumeSizeGiB: sizeGiB, osVolumeSizeGiB: flags.osVolumeSize, iops: flags.iops, throughputMiBps: flags.throughput };
};

const splitIds = (kind: 'subnet' | 'securityGroup', flag: string) => (value: string): string[] =>
  value.split(',').map((id) => validated(kind, flag, id.trim()));

const withVolumeFlags = (command: Command): Command =>
  command
    .argument('<snapshot-id>', 'the snapshot, e.g. from the SSM parameter /snapshot-factory/<recipe>/<arch>/snapshot-id')
    .option('-r, --region <region>', 'region of the snapshot (default: AWS_REGION / AWS_DEFAULT_REGION / the profile)')
    .option('-s, --volume-size <GiB>', "data volume size on the nodes (default: the snapshot's size, read with DescribeSnapshots)", parsePositiveInteger('-s/--volume-size'))
    .option('-k, --kms-id <key>', 'KMS key you expect the snapshot to be encrypted with (checked against DescribeSnapshots)')
    .option('--os-volume-size <GiB>', 'OS volume (/dev/xvda) size', parsePositiveInteger('--os-volume-size'), 4)
    .option('--iops <n>', 'gp3 IOPS of the data volume (3000-16000)', parsePositiveInteger('--iops'), 3000)
    .option('--throughput <MiBps>', 'gp3 throughput of the data volume (125-1000)', parsePositiveInteger('--throughput'), 500);

const checkGp3 = (flags: VolumeFlags): void => {
  // gp3 limits as the EC2NodeClass CRD states them (iops 3,000-16,000; throughput 125-1,000 MiB/s).
  if (flags.iops < 3000 || flags.iops > 16000) throw new InvalidFlagError(`--iops ${flags.iops} is outside gp3's 3000-16000`);
  if (flags.throughput < 125 || flags.throughput > 1000) throw new InvalidFlagError(`--throughput ${flags.throughput} is outside gp3's 125-1000 MiB/s`);
};

/** How the commands reach AWS and print (injected so tests see stdout and stderr apart). */
export interface TemplateCommandIo {
  clients: (region?: string) => Pick<AwsClients, 'ec2'>;
  stdout: (text: string) => void;
  stderr: (line: string) => void;
}

const defaultIo: TemplateCommandIo = {
  clients: clientsFor,
  stdout: (text) => process.stdout.write(text),
  stderr: (line) => console.error(line),
};

/** The `node-class` command. */
export const nodeClassCommand = (io: TemplateCommandIo = defaultIo): Command =>
  withVolumeFlags(new Command('node-class').description('print a Karpenter v1 EC2NodeClass that uses the snapshot (YAML, for kubectl apply -f -)'))
    .option('--name <name>', 'metadata.name of the EC2NodeClass', 'bottlerocket-cached-images')
    .option('--role <name>', 'IAM role of the nodes (Karpenter creates their instance profile)')
    .option('--instance-profile <name>', 'instance profile of the nodes, instead of --role')
    .option('--cluster-name <name>', 'select subnets and security groups tagged karpenter.sh/discovery=<name>')
    .option('--subnet-ids <ids>', 'subnets, comma-separated (instead of discovery by --cluster-name)', splitIds('subnet', '--subnet-ids'))
    .option('--security-group-ids <ids>', 'security groups, comma-separated (instead of discovery)', splitIds('securityGroup', '--security-group-ids'))
    .option('--ami-alias <alias>', 'amiSelectorTerms alias: bottlerocket@latest or a pinned bottlerocket@v1.x.y', 'bottlerocket@latest')
    .action(async (snapshotId: string, flags: VolumeFlags & Record<string, string | string[] | undefined>) => {
      validated('snapshot', '<snapshot-id>', snapshotId);
      const { role, instanceProfile, clusterName, name, amiAlias } = flags as Record<string, string | undefined>;
      if (!role === !instanceProfile) throw new InvalidFlagError('give exactly one of --role <name> or --instance-profile <name> (EC2NodeClass: they are mutually exclusive)');
      if (role) validated('role', '--role', role);
      if (instanceProfile) validated('instanceProfile', '--instance-profile', instanceProfile);
      if (clusterName) validated('cluster', '--cluster-name', clusterName);
      validated('nodeClassName', '--name', name!);
      validated('amiAlias', '--ami-alias', amiAlias!);
      const subnetIds = (flags.subnetIds as string[] | undefined) ?? [];
      const securityGroupIds = (flags.securityGroupIds as string[] | undefined) ?? [];
      if (!clusterName && (subnetIds.length === 0 || securityGroupIds.length === 0)) {
        throw new InvalidFlagError('give --cluster-name <name> (discovery tags), or both --subnet-ids and --security-group-ids');
      }
      checkGp3(flags);
      const facts = await describeSnapshot(io.clients(flags.region).ec2, snapshotId);
      const volumes = volumeOptions(snapshotId, facts, flags, io.stderr);
      const yaml = karpenterNodeClass({ ...volumes, name: name!, role, instanceProfile, clusterName, subnetIds, securityGroupIds, amiAlias: amiAlias! });
      parse(yaml); // what is printed must parse: kubectl reads it as YAML
      io.stdout(yaml);
    });

/** The `launch-template` command. */
export const launchTemplateCommand = (io: TemplateCommandIo = defaultIo): Command =>
  withVolumeFlags(
    new Command('launch-template').description('print launch template data that uses the snapshot (JSON, for aws ec2 create-launch-template --launch-template-data)'),
  ).action(async (snapshotId: string, flags: VolumeFlags) => {
    validated('snapshot', '<snapshot-id>', snapshotId);
    checkGp3(flags);
    const facts = await describeSnapshot(io.clients(flags.region).ec2, snapshotId);
    io.stdout(`${launchTemplateData(volumeOptions(snapshotId, facts, flags, io.stderr))}\n`);
  });
