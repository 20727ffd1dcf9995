/**
 * Ready-to-paste blocks that make nodes use a snapshot: a Karpenter `EC2NodeClass` and an EC2 launch template's
 * block device mappings. The data volume (`/dev/xvdb`) comes from the snapshot; the OS volume (`/dev/xvda`) is given
 * explicitly because Karpenter otherwise makes it a 2 GiB gp2 volume when only `/dev/xvdb` is mapped.
 */

export interface NodeTemplateOptions {
  snapshotId: string;
  /** Size of the data volume on nodes; at least the snapshot's size. */
  volumeSizeGiB: number;
  /** Customer managed KMS key the node volumes are encrypted with; AWS managed key when absent. */
  kmsKeyId?: string;
  /** Throughput of the data volume on nodes: EBS loads a restored volume lazily, so a fast volume shortens first reads. */
  throughputMiBps?: number;
  iops?: number;
  nodeClassName?: string;
}

const kmsLine = (indent: string, key?: string): string => (key ? `\n${indent}kmsKeyID: ${JSON.stringify(key)}` : '');

/** A Karpenter v1 `EC2NodeClass` using the snapshot for the Bottlerocket data volume. */
export const karpenterNodeClass = (options: NodeTemplateOptions): string => `apiVersion: karpenter.k8s.aws/v1
kind: EC2NodeClass
metadata:
  name: ${options.nodeClassName ?? 'bottlerocket-cached-images'}
spec:
  amiFamily: Bottlerocket
  amiSelectorTerms:
    - alias: bottlerocket@latest
  # role, subnetSelectorTerms and securityGroupSelectorTerms: as in your other node classes
  blockDeviceMappings:
    - deviceName: /dev/xvda
      ebs:
        volumeSize: 4Gi
        volumeType: gp3
        encrypted: true
    - deviceName: /dev/xvdb
      ebs:
        volumeSize: ${options.volumeSizeGiB}Gi
        volumeType: gp3
        iops: ${options.iops ?? 3000}
        throughput: ${options.throughputMiBps ?? 500}
        encrypted: true${kmsLine('        ', options.kmsKeyId)}
        snapshotID: ${options.snapshotId}
        deleteOnTermination: true
`;

/** The `BlockDeviceMappings` of an EC2 launch template (managed node groups, self-managed nodes). */
export const launchTemplateBlockDevices = (options: NodeTemplateOptions): string =>
  JSON.stringify(
    {
      BlockDeviceMappings: [
        { DeviceName: '/dev/xvda', Ebs: { VolumeSize: 4, VolumeType: 'gp3', Encrypted: true, DeleteOnTermination: true } },
        {
          DeviceName: '/dev/xvdb',
          Ebs: {
            SnapshotId: options.snapshotId,
            VolumeSize: options.volumeSizeGiB,
            VolumeType: 'gp3',
            Iops: options.iops ?? 3000,
            Throughput: options.throughputMiBps ?? 500,
            Encrypted: true,
            ...(options.kmsKeyId ? { KmsKeyId: options.kmsKeyId } : {}),
            DeleteOnTermination: true,
          },
        },
      ],
    },
    null,
    2,
  );
