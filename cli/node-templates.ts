/**
 * Apply-able blocks that make nodes use a snapshot: a Karpenter v1 `EC2NodeClass` (YAML, for `kubectl apply -f -`)
 * and EC2 launch template data (JSON, for `aws ec2 create-launch-template --launch-template-data file://...`).
 *
 * Field names and rules, from their sources:
 * - EC2NodeClass v1: aws/karpenter-provider-aws, pkg/apis/crds/karpenter.k8s.aws_ec2nodeclasses.yaml: `role` and
 *   `instanceProfile` are mutually exclusive; `subnetSelectorTerms` and `securityGroupSelectorTerms` (each term `id`
 *   or `tags`); `amiSelectorTerms` with an `alias` like `bottlerocket@latest` (which also implies the family);
 *   `blockDeviceMappings[].ebs` with `volumeSize` as `<n>Gi`, `snapshotID`, `kmsKeyID`, `volumeType`, `iops`,
 *   `throughput` (gp3: at most 1000), `encrypted`, `deleteOnTermination`.
 * - Launch template data: EC2 API reference, RequestLaunchTemplateData and LaunchTemplateEbsBlockDeviceRequest:
 *   "If you are creating a volume from a snapshot, you can't specify an encryption value", so the data volume has
 *   neither `Encrypted` nor a key: a volume made from a snapshot is encrypted as the snapshot is
 *   (EBS User Guide, "Amazon EBS encryption": volumes created from encrypted snapshots are encrypted).
 *   The Karpenter block does the same (Karpenter passes these fields to EC2 launch templates).
 * - Bottlerocket: `/dev/xvda` is the OS volume, `/dev/xvdb` the data volume holding containerd's images
 *   (docs/builder-host.md).
 */
import { stringify } from 'yaml';
import { InvalidFlagError } from './snapshot-flags';

/** The snapshot and the volumes nodes make from it. */
export interface VolumeOptions {
  snapshotId: string;
  /** Size of the data volume on nodes; at least the snapshot's size. */
  volumeSizeGiB: number;
  /** Size of the OS volume (`/dev/xvda`). */
  osVolumeSizeGiB: number;
  /** gp3 IOPS of the data volume: EBS loads a restored volume lazily, so a fast volume shortens first reads. */
  iops: number;
  throughputMiBps: number;
}

/** Where Karpenter puts nodes and which identity they run with. */
export interface NodeClassOptions extends VolumeOptions {
  name: string;
  role?: string;
  instanceProfile?: string;
  clusterName?: string;
  subnetIds: string[];
  securityGroupIds: string[];
  amiAlias: string;
}

/** Each ID pattern as EC2, IAM and EKS define it (their API references: the ID formats, `RoleName`, `name`). */
export const ID_PATTERNS = {
  snapshot: /^snap-(?:[0-9a-f]{8}|[0-9a-f]{17})$/,
  subnet: /^subnet-(?:[0-9a-f]{8}|[0-9a-f]{17})$/,
  securityGroup: /^sg-(?:[0-9a-f]{8}|[0-9a-f]{17})$/,
  role: /^[\w+=,.@-]{1,64}$/,
  instanceProfile: /^[\w+=,.@-]{1,128}$/,
  cluster: /^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$/,
  // Kubernetes object names: a DNS subdomain (RFC 1123), at most 253 characters.
  nodeClassName: /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/,
  amiAlias: /^bottlerocket@(latest|v\d+\.\d+\.\d+)$/,
} as const;

/** Refuses a value that is not the kind of ID it is given as, quoting it so a hostile value stays visible. */
export const validated = (kind: keyof typeof ID_PATTERNS, flag: string, value: string): string => {
  if (!ID_PATTERNS[kind].test(value)) {
    throw new InvalidFlagError(`${flag} ${JSON.stringify(value)} is not a valid ${kind} ID/name (expected ${ID_PATTERNS[kind].source})`);
  }
  return value;
};

/** A Karpenter v1 `EC2NodeClass` using the snapshot for the Bottlerocket data volume, as YAML. */
export const karpenterNodeClass = (options: NodeClassOptions): string => {
  const selector = (ids: string[]) =>
    ids.length ? ids.map((id) => ({ id })) : [{ tags: { 'karpenter.sh/discovery': options.clusterName! } }];
  const identity = options.role ? { role: options.role } : { instanceProfile: options.instanceProfile! };
  return stringify({
    apiVersion: 'karpenter.k8s.aws/v1',
    kind: 'EC2NodeClass',
    metadata: { name: options.name },
    spec: {
      amiSelectorTerms: [{ alias: options.amiAlias }],
      ...identity,
      subnetSelectorTerms: selector(options.subnetIds),
      securityGroupSelectorTerms: selector(options.securityGroupIds),
      metadataOptions: { httpEndpoint: 'enabled', httpProtocolIPv6: 'disabled', httpPutResponseHopLimit: 1, httpTokens: 'required' },
      blockDeviceMappings: [
        {
          deviceName: '/dev/xvda',
          ebs: { volumeSize: `${options.osVolumeSizeGiB}Gi`, volumeType: 'gp3', encrypted: true, deleteOnTermination: true },
        },
        {
          deviceName: '/dev/xvdb',
          ebs: {
            snapshotID: options.snapshotId,
            volumeSize: `${options.volumeSizeGiB}Gi`,
            volumeType: 'gp3',
            iops: options.iops,
            throughput: options.throughputMiBps,
            deleteOnTermination: true,
          },
        },
      ],
    },
  });
};

/** Launch template data (managed node groups, self-managed nodes) with both Bottlerocket volumes, as JSON. */
export const launchTemplateData = (options: VolumeOptions): string =>
  JSON.stringify(
    {
      BlockDeviceMappings: [
        { DeviceName: '/dev/xvda', Ebs: { VolumeSize: options.osVolumeSizeGiB, VolumeType: 'gp3', Encrypted: true, DeleteOnTermination: true } },
        {
          DeviceName: '/dev/xvdb',
          Ebs: {
            SnapshotId: options.snapshotId,
            VolumeSize: options.volumeSizeGiB,
            VolumeType: 'gp3',
            Iops: options.iops,
            Throughput: options.throughputMiBps,
            DeleteOnTermination: true,
          },
        },
      ],
      MetadataOptions: { HttpTokens: 'required', HttpPutResponseHopLimit: 2, HttpEndpoint: 'enabled' },
    },
    null,
    2,
  );
