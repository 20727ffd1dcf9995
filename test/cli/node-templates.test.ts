import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { karpenterNodeClass, launchTemplateData, validated } from '../../cli/node-templates';

const VOLUMES = { snapshotId: 'snap-0123456789abcdef0', volumeSizeGiB: 150, osVolumeSizeGiB: 4, iops: 3000, throughputMiBps: 500 };
const NODE_CLASS = { ...VOLUMES, name: 'cached', amiAlias: 'bottlerocket@latest', subnetIds: [], securityGroupIds: [] };

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;

/**
 * The rules of Karpenter's EC2NodeClass v1 CRD (aws/karpenter-provider-aws,
 * pkg/apis/crds/karpenter.k8s.aws_ec2nodeclasses.yaml) that this output could break, as the API server checks them.
 */
const crdViolations = (nodeClass: Any): string[] => {
  const spec = nodeClass.spec ?? {};
  const problems: string[] = [];
  for (const field of ['amiSelectorTerms', 'securityGroupSelectorTerms', 'subnetSelectorTerms']) if (!spec[field]?.length) problems.push(`${field} required`);
  if (Boolean(spec.role) === Boolean(spec.instanceProfile)) problems.push("must specify exactly one of ['role', 'instanceProfile']");
  if (spec.amiSelectorTerms?.some((t: Any) => t.alias) && spec.amiSelectorTerms.length !== 1) problems.push('alias is mutually exclusive');
  for (const term of spec.subnetSelectorTerms ?? []) if (term.id && !/^subnet-[0-9a-z]+$/.test(term.id)) problems.push(`subnet id ${term.id}`);
  for (const term of spec.securityGroupSelectorTerms ?? []) if (term.id && !/^sg-[0-9a-z]+$/.test(term.id)) problems.push(`sg id ${term.id}`);
  for (const mapping of spec.blockDeviceMappings ?? []) {
    const ebs = mapping.ebs ?? {};
    if (!ebs.snapshotID && !ebs.volumeSize) problems.push('snapshotID or volumeSize must be defined');
    if (ebs.volumeSize && !/^([1-9][0-9]{0,3}|[1-4][0-9]{4}|5[0-8][0-9]{3}|59000)Gi$/.test(ebs.volumeSize)) problems.push(`volumeSize ${ebs.volumeSize}`);
    if (ebs.snapshotID && 'encrypted' in ebs) problems.push("encrypted given for a volume from a snapshot (EC2 refuses it)");
    if (ebs.throughput > 1000) problems.push('throughput above 1000');
  }
  return problems;
};

describe('node templates', () => {
  it('gives an EC2NodeClass the CRD accepts, with discovery tags by cluster name', () => {
    // Act
    const nodeClass = parse(karpenterNodeClass({ ...NODE_CLASS, role: 'KarpenterNodeRole-demo', clusterName: 'demo' })) as Any;
    // Assess
    expect(crdViolations(nodeClass)).toEqual([]);
    expect(nodeClass.spec.subnetSelectorTerms).toEqual([{ tags: { 'karpenter.sh/discovery': 'demo' } }]);
    expect(nodeClass.spec.blockDeviceMappings[1]).toEqual({
      deviceName: '/dev/xvdb',
      ebs: { snapshotID: VOLUMES.snapshotId, volumeSize: '150Gi', volumeType: 'gp3', iops: 3000, throughput: 500, deleteOnTermination: true },
    });
  });

  it('gives ID selector terms and an instance profile when those are given', () => {
    // Act
    const nodeClass = parse(
      karpenterNodeClass({ ...NODE_CLASS, instanceProfile: 'nodes', subnetIds: ['subnet-0123456789abcdef0', 'subnet-0123456789abcdef1'], securityGroupIds: ['sg-0123456789abcdef0'] }),
    ) as Any;
    // Assess
    expect(crdViolations(nodeClass)).toEqual([]);
    expect(nodeClass.spec.instanceProfile).toBe('nodes');
    expect(nodeClass.spec.role).toBeUndefined();
    expect(nodeClass.spec.subnetSelectorTerms).toEqual([{ id: 'subnet-0123456789abcdef0' }, { id: 'subnet-0123456789abcdef1' }]);
  });

  it('gives launch template data without an encryption value on the volume from the snapshot', () => {
    // Act
    const data = JSON.parse(launchTemplateData(VOLUMES)) as { BlockDeviceMappings: { DeviceName: string; Ebs: Record<string, unknown> }[]; MetadataOptions: Record<string, unknown> };
    // Assess
    expect(data.BlockDeviceMappings.map((m) => m.DeviceName)).toEqual(['/dev/xvda', '/dev/xvdb']);
    expect(data.BlockDeviceMappings[0]!.Ebs).toMatchObject({ VolumeSize: 4, Encrypted: true });
    expect(Object.keys(data.BlockDeviceMappings[1]!.Ebs).sort()).toEqual(['DeleteOnTermination', 'Iops', 'SnapshotId', 'Throughput', 'VolumeSize', 'VolumeType']);
    expect(data.MetadataOptions.HttpTokens).toBe('required');
  });

  it.each([
    ['snapshot', 'x; rm -rf /'],
    ['snapshot', 'snap-123'],
    ['subnet', 'subnet-0123456789abcdef0 '],
    ['role', 'role/with/slash'],
    ['cluster', '-demo'],
    ['nodeClassName', 'Upper'],
  ] as const)('fails when a %s value is %j, quoting it', (kind, value) => {
    expect(() => validated(kind, '--flag', value)).toThrow(`--flag ${JSON.stringify(value)} is not a valid ${kind}`);
  });
});
