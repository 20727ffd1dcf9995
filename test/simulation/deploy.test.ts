import { describe, expect, it } from 'vitest';
import { resolveIntrinsics, type ResolverContext } from '../../simulation/deploy/intrinsics';
import { defaultDeployment, deploy } from '../../simulation/deploy/deployment';

const ctx: ResolverContext = {
  accountId: '111122223333',
  region: 'us-west-2',
  partition: 'aws',
  stackName: 'S',
  urlSuffix: 'amazonaws.com',
  ref: (id) => `ref-of-${id}`,
  getAtt: (id, attribute) => `${attribute}-of-${id}`,
  mappings: { Regions: { 'us-west-2': { Ami: 'ami-1' } } },
};

describe('resolveIntrinsics', () => {
  it('resolves Ref, GetAtt, Join, Sub, Select, Split, FindInMap and pseudo parameters', () => {
    // Prepare
    const value = {
      joined: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':ec2:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }]] },
      sub: { 'Fn::Sub': 'x-${AWS::URLSuffix}-${Role}-${Role.Arn}-${!Literal}' },
      subWithVariables: { 'Fn::Sub': ['${A}/${B}', { A: { Ref: 'Thing' }, B: 'b' }] },
      selected: { 'Fn::Select': [1, { 'Fn::Split': [',', 'a,b,c'] }] },
      mapped: { 'Fn::FindInMap': ['Regions', { Ref: 'AWS::Region' }, 'Ami'] },
      attribute: { 'Fn::GetAtt': ['Group', 'GroupId'] },
    };
    // Act
    const resolved = resolveIntrinsics(value, ctx, 'test');
    // Assess
    expect(resolved).toEqual({
      joined: 'arn:aws:ec2:us-west-2:111122223333',
      sub: 'x-amazonaws.com-ref-of-Role-Arn-of-Role-${Literal}',
      subWithVariables: 'ref-of-Thing/b',
      selected: 'b',
      mapped: 'ami-1',
      attribute: 'GroupId-of-Group',
    });
  });

  it.each([
    ['Fn::If', { 'Fn::If': ['Cond', 'a', 'b'] }, /does not support Fn::If/],
    ['Fn::ImportValue', { 'Fn::ImportValue': 'Exported' }, /does not support Fn::ImportValue/],
    ['Fn::GetAZs', { 'Fn::Select': [0, { 'Fn::GetAZs': '' }] }, /does not support Fn::GetAZs/],
    ['an unknown pseudo parameter', { Ref: 'AWS::NotificationARNs' }, /pseudo parameter AWS::NotificationARNs is not supported/],
    ['a missing mapping', { 'Fn::FindInMap': ['Regions', 'eu-west-1', 'Ami'] }, /mapping Regions\.eu-west-1\.Ami does not exist/],
  ])('fails when the template uses %s', (_name, value, message) => {
    expect(() => resolveIntrinsics({ Policy: value }, ctx, 'MyPolicy')).toThrow(message);
  });
});

describe('deploy', () => {
  it('gives the default deployment its roles, functions, builder profile and network', () => {
    // Act
    const deployment = defaultDeployment();
    // Assess
    expect(Object.keys(deployment.functions)).toHaveLength(22);
    const launch = deployment.functions['launch-instance']!;
    expect(launch.arn).toMatch(/^arn:aws:lambda:us-west-2:111122223333:function:SnapshotFactory-FactoryLaunchInstanceFunction/);
    expect(launch.role.arn).toBe(`arn:aws:iam::111122223333:role/${launch.role.name}`);
    const [profile] = deployment.instanceProfiles;
    expect(profile?.arn).toBe(`arn:aws:iam::111122223333:instance-profile/${profile?.name}`);
    expect(profile?.role.policies.map((p) => p.name)).toContain('arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore');
    expect(deployment.subnetIds).toHaveLength(2);
    expect(deployment.securityGroupIds).toEqual([expect.stringMatching(/^sg-[0-9a-f]{17}$/)]);
    const defaults = JSON.parse(deployment.functions['prepare-build']!.environment.FACTORY_DEFAULTS!) as Record<string, unknown>;
    expect(defaults).toMatchObject({ instanceProfileName: profile?.name, subnetIds: deployment.subnetIds, securityGroupIds: deployment.securityGroupIds });
    expect(deployment.functions['start-build']!.environment.STATE_MACHINE_ARN).toBe(deployment.stateMachine?.arn);
  });

  it('fails when a policy references a resource type it cannot deploy', () => {
    // Prepare
    const stack = {
      stackName: 'S',
      template: {
        Resources: {
          Role: { Type: 'AWS::IAM::Role', Properties: {} },
          Queue: { Type: 'AWS::SQS::Queue', Properties: {} },
          Policy: { Type: 'AWS::IAM::Policy', Properties: { PolicyName: 'p', Roles: [{ Ref: 'Role' }], PolicyDocument: { Statement: [{ Effect: 'Allow', Action: 'sqs:SendMessage', Resource: { Ref: 'Queue' } }] } } },
        },
      },
    };
    // Act / Assess
    expect(() => deploy(stack)).toThrow(/gives no physical ID to AWS::SQS::Queue \(Queue\)/);
  });
});
