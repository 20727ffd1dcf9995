import { describe, expect, it } from 'vitest';
import { karpenterNodeClass, launchTemplateBlockDevices } from '../../cli/node-templates';

describe('node templates', () => {
  it('maps the snapshot onto /dev/xvdb and sizes /dev/xvda explicitly in the Karpenter node class', () => {
    const yaml = karpenterNodeClass({ snapshotId: 'snap-0abc', volumeSizeGiB: 150, kmsKeyId: 'arn:aws:kms:us-west-2:1:key/k' });
    expect(yaml).toMatch(/deviceName: \/dev\/xvda\n\s+ebs:\n\s+volumeSize: 4Gi/);
    expect(yaml).toMatch(/deviceName: \/dev\/xvdb\n\s+ebs:\n\s+volumeSize: 150Gi[\s\S]*kmsKeyID: "arn:aws:kms:us-west-2:1:key\/k"\n\s+snapshotID: snap-0abc/);
    expect(yaml).toContain('amiFamily: Bottlerocket');
  });

  it('leaves the KMS key out of the node class when none is given', () => {
    expect(karpenterNodeClass({ snapshotId: 'snap-0abc', volumeSizeGiB: 100 })).not.toContain('kmsKeyID');
  });

  it('gives launch template block devices with the snapshot on /dev/xvdb', () => {
    const mappings = JSON.parse(launchTemplateBlockDevices({ snapshotId: 'snap-0abc', volumeSizeGiB: 100 })) as {
      BlockDeviceMappings: { DeviceName: string; Ebs: Record<string, unknown> }[];
    };
    expect(mappings.BlockDeviceMappings.map((m) => m.DeviceName)).toEqual(['/dev/xvda', '/dev/xvdb']);
    expect(mappings.BlockDeviceMappings[1]?.Ebs).toMatchObject({ SnapshotId: 'snap-0abc', VolumeSize: 100, Encrypted: true });
  });
});
