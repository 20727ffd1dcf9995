import { describe, expect, it } from 'vitest';
import { createSimulatedAccount } from '../../simulation/aws/account';
import { defaultDeployment } from '../../simulation/deploy/deployment';
import { iamRequestsFor } from '../../simulation/iam/requests';

const launchInput = (kmsKeyId?: string, profile = defaultDeployment().instanceProfiles[0]!.name) => ({
  ImageId: 'ami-00000000000000001',
  InstanceType: 'm7i.xlarge',
  MinCount: 1,
  MaxCount: 1,
  IamInstanceProfile: { Name: profile },
  MetadataOptions: { HttpTokens: 'required' },
  BlockDeviceMappings: [{ DeviceName: '/dev/xvdb', Ebs: { VolumeSize: 100, VolumeType: 'gp3', Encrypted: true, ...(kmsKeyId ? { KmsKeyId: kmsKeyId } : {}) } }],
  NetworkInterfaces: [{ DeviceIndex: 0, SubnetId: 'subnet-0123456789abcdef0', Groups: ['sg-0123456789abcdef0'] }],
  TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'snapshot-factory:managed', Value: 'true' }] }],
});

describe('the IAM requests of RunInstances', () => {
  const ctx = () => ({ account: createSimulatedAccount(), deployment: defaultDeployment() });

  it('asks for the KMS permissions EBS needs via EC2 when a customer managed key encrypts a volume', () => {
    // Act
    const requests = iamRequestsFor(ctx(), 'ec2', 'RunInstances', launchInput('1234abcd-12ab-34cd-56ef-1234567890ab'));
    // Assess
    const kms = requests.filter((r) => r.action.startsWith('kms:'));
    expect(kms.map((r) => r.action)).toEqual(['kms:CreateGrant', 'kms:GenerateDataKeyWithoutPlaintext', 'kms:Decrypt', 'kms:DescribeKey']);
    for (const request of kms) {
      expect(request.resources).toEqual([{ arn: 'arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab' }]);
      expect(request.context?.['kms:ViaService']).toBe('ec2.us-west-2.amazonaws.com');
    }
    expect(kms[0]?.context?.['kms:GrantIsForAWSResource']).toBe('true');
  });

  it('asks for no KMS permission with the AWS managed aws/ebs key', () => {
    // Act
    const requests = iamRequestsFor(ctx(), 'ec2', 'RunInstances', launchInput());
    // Assess
    expect(requests.filter((r) => r.action.startsWith('kms:'))).toEqual([]);
    expect(requests.map((r) => r.action)).toEqual(expect.arrayContaining(['ec2:RunInstances', 'ec2:CreateTags', 'iam:PassRole']));
    const resources = requests.filter((r) => r.action === 'ec2:RunInstances').flatMap((r) => r.resources.map((x) => x.arn));
    expect(resources).toEqual([
      'arn:aws:ec2:us-west-2:111122223333:instance/*',
      'arn:aws:ec2:us-west-2:111122223333:volume/*',
      'arn:aws:ec2:us-west-2:111122223333:network-interface/*',
      'arn:aws:ec2:us-west-2:111122223333:subnet/subnet-0123456789abcdef0',
      'arn:aws:ec2:us-west-2:111122223333:security-group/sg-0123456789abcdef0',
      'arn:aws:ec2:us-west-2::image/ami-00000000000000001',
    ]);
  });

  it('fails like EC2 when the instance profile is not deployed', () => {
    expect(() => iamRequestsFor(ctx(), 'ec2', 'RunInstances', launchInput(undefined, 'someone-elses-profile'))).toThrow(
      expect.objectContaining({ name: 'InvalidParameterValue', message: expect.stringContaining('Invalid IAM Instance Profile name') }),
    );
  });

  it('fails when an operation has no entry in the table', () => {
    expect(() => iamRequestsFor(ctx(), 'ec2', 'ModifyInstanceAttribute', {})).toThrow(/maps no IAM request for ec2:ModifyInstanceAttribute/);
  });
});
