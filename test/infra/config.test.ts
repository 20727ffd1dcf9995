/**
 * Settings validation (infra/config.ts) and what other settings change in the template. Variant apps skip
 * bundling (context aws:cdk:bundling-stacks = []), so these tests stay fast.
 */
import { describe, expect, it } from 'vitest';
import { buildDefaultsSchema } from '../../functions/lib/build-defaults';
import { createApp } from '../../infra/app';
import { InvalidSettingsError, parseSettings } from '../../infra/config';
import { actionsOf, allowing, asArray, cdkJsonContext, deploymentWith, statementsOfRole } from './synthesized';

const text = (value: unknown): string => JSON.stringify(value);
const kmsKeyArn = 'arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';

const failure = (raw: unknown): string => {
  try {
    parseSettings(raw, 'test settings');
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidSettingsError);
    return (error as Error).message;
  }
  throw new Error('expected the settings to be rejected');
};

describe('parseSettings', () => {
  it('fills the workflow\'s built-in defaults when nothing is set', () => {
    const settings = parseSettings({}, 'test settings');
    const builtIn = buildDefaultsSchema.parse({});
    expect(settings).toMatchObject({
      kubernetesVersion: builtIn.kubernetesVersion,
      architectures: builtIn.architectures,
      instanceTypes: builtIn.instanceTypes,
      dataVolume: { sizeGiB: builtIn.dataVolume.sizeGiB, iops: builtIn.dataVolume.iops, throughputMiBps: builtIn.dataVolume.throughputMiBps },
      encrypted: true,
      subnetIds: [],
      logRetentionDays: 30,
      recipes: [],
    });
  });

  it('accepts the settings of cdk.json', () => {
    expect(() => parseSettings(cdkJsonContext().snapshotFactory, 'cdk.json')).not.toThrow();
  });

  it('fails when a number is out of range, naming the setting, the value and the limit', () => {
    const message = failure({ dataVolume: { sizeGiB: 0 } });
    expect(message).toContain('Invalid snapshot factory settings in test settings');
    expect(message).toContain('setting "dataVolume.sizeGiB" = 0');
    expect(message).toMatch(/>=\s*1/);
  });

  it('fails when the Kubernetes version is malformed', () => {
    expect(failure({ kubernetesVersion: '1.35.2' })).toMatch(/setting "kubernetesVersion" = "1\.35\.2": expected a Kubernetes minor version/);
  });

  it('fails when a setting is unknown, naming it', () => {
    expect(failure({ dataVolume: { size: 50 } })).toContain('unknown setting(s) "dataVolume.size"');
    expect(failure({ subnet: 'subnet-0123456789abcdef0' })).toContain('"subnet"');
  });

  it('fails when the log retention is not one CloudWatch accepts', () => {
    expect(failure({ logRetentionDays: 45 })).toMatch(/setting "logRetentionDays" = 45: expected one of CloudWatch Logs' retention periods: 1, 3/);
  });

  it('fails when the KMS key is an alias, or set while encryption is off', () => {
    expect(failure({ kmsKeyArn: 'alias/my-key' })).toMatch(/setting "kmsKeyArn" = "alias\/my-key": expected a KMS key ARN/);
    expect(failure({ kmsKeyArn, encrypted: false })).toContain('kmsKeyArn is set but encrypted is false');
  });

  it('fails when subnets come without a security group or a VPC to create one in', () => {
    expect(failure({ subnetIds: ['subnet-0123456789abcdef0'] })).toContain('setting "vpcId" = nothing: subnetIds are set without securityGroupIds');
    expect(failure({ securityGroupIds: ['sg-0123456789abcdef0'] })).toContain('setting "subnetIds" = nothing: vpcId or securityGroupIds are set without subnetIds');
  });

  it('fails when the execution limit is shorter than the waits it contains', () => {
    expect(failure({ timeLimits: { executionSeconds: 3600 } })).toMatch(/setting "timeLimits\.executionSeconds" = 3600: expected at least the sum of the wait limits \(12600 s\)/);
  });

  it('fails when a recipe is invalid, with the recipe field named', () => {
    expect(failure({ recipes: [{ name: 'nightly', images: [] }] })).toContain('setting "recipes.0.images" = []');
  });
});

describe('synth with settings', () => {
  it('fails when cdk.json holds an invalid setting, naming the context key and the setting', () => {
    expect(() => createApp({ snapshotFactory: { instanceTypes: { x86_64: ['m7i large'] } }, 'aws:cdk:bundling-stacks': [] })).toThrow(
      /Invalid snapshot factory settings in cdk\.json context "snapshotFactory":\n- setting "instanceTypes\.x86_64\.0" = "m7i large"/,
    );
  });

  it('uses the given subnets and security groups, and creates no network', () => {
    const { stack, template } = deploymentWith({
      subnetIds: ['subnet-0123456789abcdef0', 'subnet-0fedcba9876543210'],
      securityGroupIds: ['sg-0123456789abcdef0'],
    });
    template.resourceCountIs('AWS::EC2::VPC', 0);
    template.resourceCountIs('AWS::EC2::SecurityGroup', 0);
    const runs = allowing(statementsOfRole(stack, template, stack.factory.functions['launch-instance'].role!), 'ec2:RunInstances');
    const resources = runs.flatMap((s) => asArray(s.Resource)).map(text).join(' ');
    expect(resources).toContain(':subnet/subnet-0123456789abcdef0');
    expect(resources).toContain(':subnet/subnet-0fedcba9876543210');
    expect(resources).toContain(':security-group/sg-0123456789abcdef0');
    expect(resources).not.toMatch(/:subnet\/\*/);
  });

  it('creates the builder security group in the named VPC when only subnets and the VPC are given', () => {
    const { template } = deploymentWith({ subnetIds: ['subnet-0123456789abcdef0'], vpcId: 'vpc-0123456789abcdef0' });
    template.resourceCountIs('AWS::EC2::VPC', 0);
    template.hasResourceProperties('AWS::EC2::SecurityGroup', { VpcId: 'vpc-0123456789abcdef0' });
  });

  it('grants the configured KMS key only through EC2, and uses a named instance role instead of creating one', () => {
    const { stack, template } = deploymentWith({ kmsKeyArn, instanceRoleName: 'platform-builder' });
    const statements = statementsOfRole(stack, template, stack.factory.functions['launch-instance'].role!);
    const kms = statements.filter((s) => asArray(s.Action).some((a) => a.startsWith('kms:')));
    expect(kms.length).toBeGreaterThan(0);
    for (const statement of kms) {
      expect(statement.Resource).toBe(kmsKeyArn);
      expect(text(statement.Condition?.StringEquals?.['kms:ViaService'])).toContain('ec2.');
    }
    const grant = allowing(kms, 'kms:CreateGrant')[0]!;
    expect(grant.Condition?.Bool).toEqual({ 'kms:GrantIsForAWSResource': 'true' });
    const [pass] = allowing(statements, 'iam:PassRole');
    expect(text(pass!.Resource)).toContain(':role/platform-builder');
    expect(Object.values(template.findResources('AWS::IAM::Role')).some((r) => text(r.Properties.AssumeRolePolicyDocument).includes('ec2.amazonaws.com'))).toBe(false);
    template.hasResourceProperties('AWS::IAM::InstanceProfile', { Roles: ['platform-builder'] });
  });

  it('has no KMS permission at all when no customer key is configured', () => {
    const { stack, template } = deploymentWith({});
    const launch = actionsOf(statementsOfRole(stack, template, stack.factory.functions['launch-instance'].role!));
    expect(launch.filter((a) => a.startsWith('kms:'))).toEqual([]);
  });

  it('drops the encryption condition only when encryption is turned off', () => {
    const { stack, template } = deploymentWith({ encrypted: false });
    const runs = allowing(statementsOfRole(stack, template, stack.factory.functions['launch-instance'].role!), 'ec2:RunInstances');
    const volume = runs.find((s) => text(s.Resource).includes(':volume/*'))!;
    expect(volume.Condition).toEqual({ StringEquals: { 'aws:RequestTag/snapshot-factory:managed': 'true' } });
  });

  it('applies the execution time limit and log retention settings', () => {
    const { template } = deploymentWith({ timeLimits: { executionSeconds: 20000 }, logRetentionDays: 7 });
    const [machine] = Object.values(template.findResources('AWS::StepFunctions::StateMachine'));
    expect(JSON.parse(machine!.Properties.DefinitionString).TimeoutSeconds).toBe(20000);
    const retentions = Object.values(template.findResources('AWS::Logs::LogGroup')).map((g) => g.Properties.RetentionInDays);
    expect(new Set(retentions)).toEqual(new Set([7]));
  });
});

describe('cdk-nag', () => {
  it('fails synth on a finding nobody acknowledged', async () => {
    const iam = await import('aws-cdk-lib/aws-iam');
    const { app, stack } = createApp({ 'aws:cdk:bundling-stacks': [] });
    const role = new iam.Role(stack, 'Careless', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    role.addToPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: ['arn:aws:s3:::some-bucket/*'] }));
    expect(() => app.synth()).toThrow(/AwsSolutions-IAM5/);
  });
});
