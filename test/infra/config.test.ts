/**
 * Settings validation (infra/config.ts) and what other settings change in the template. Variant apps skip
 * bundling (context aws:cdk:bundling-stacks = []), so these tests stay fast.
 */
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { buildDefaultsSchema } from '../../functions/lib/build-defaults';
import { createApp } from '../../infra/app';
import { CONTEXT_KEY, InvalidSettingsError, parseSettings, settingsFromContext } from '../../infra/config';
import { ALL_FUNCTIONS, type FunctionName } from '../../infra/permissions';
import { actionsOf, allowing, asArray, cdkJsonContext, deploymentWith, statementsOfRole } from './synthesized';
import { settingsFailure } from './settings-failure';

const text = (value: unknown): string => JSON.stringify(value);
const kmsKeyArn = 'arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';

const failure = settingsFailure;

describe('parseSettings', () => {
  it('fills the workflow\'s built-in defaults when nothing is set', () => {
    const settings = parseSettings({}, 'test settings');
    const builtIn = buildDefaultsSchema.parse({});
    expect(settings).toMatchObject({
      kubernetesVersion: builtIn.kubernetesVersion,
      architectures: builtIn.architectures,
      instanceTypes: builtIn.instanceTypes,
      dataVolume: { sizeGiB: builtIn.dataVolume.sizeGiB, iops: builtIn.dataVolume.iops, throughputMiBps: builtIn.dataVolume.throughputMiBps, encrypted: true },
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
    expect(failure({ dataVolume: { kmsKeyArn: 'alias/my-key' } })).toMatch(/setting "dataVolume\.kmsKeyArn" = "alias\/my-key": expected a KMS key ARN/);
    expect(failure({ dataVolume: { kmsKeyArn, encrypted: false } })).toContain('dataVolume.kmsKeyArn is set but dataVolume.encrypted is false');
  });

  it('fails when subnets come without a security group or a VPC to create one in', () => {
    expect(failure({ subnetIds: ['subnet-0123456789abcdef0'] })).toContain('setting "vpcId" = nothing: subnetIds are set without securityGroupIds');
    expect(failure({ securityGroupIds: ['sg-0123456789abcdef0'] })).toContain('setting "subnetIds" = nothing: vpcId or securityGroupIds are set without subnetIds');
  });

  it('fails when the execution limit is shorter than the waits it contains', () => {
    expect(failure({ limits: { executionSeconds: 3600 } })).toMatch(/setting "limits\.executionSeconds" = 3600: expected at least 14202 s: the sum of the wait limits \(12600 s\)/);
  });

  describe('resultParameterName', () => {
    const template = '/platform/bottlerocket/{recipe}/{architecture}/snapshot-id';

    it('accepts a template with both placeholders, whatever builds several architectures', () => {
      const settings = parseSettings({ resultParameterName: template, architectures: ['x86_64', 'arm64'], recipes: [{ name: 'web', images: ['nginx:1'] }, { name: 'ml', images: ['python:3'] }] }, 'test settings');
      expect(settings.resultParameterName).toBe(template);
    });

    it('accepts a name without {architecture} when every build makes one snapshot', () => {
      expect(() => parseSettings({ resultParameterName: '/platform/{recipe}/snapshot-id', recipes: [{ name: 'both', images: ['nginx:1'], layout: 'combined' }, { name: 'arm', images: ['nginx:1'], architectures: ['arm64'] }] }, 'test settings')).not.toThrow();
    });

    it('fails when the name is not a path, has characters Parameter Store refuses, or an unknown placeholder', () => {
      expect(failure({ resultParameterName: 'platform/{recipe}' })).toMatch(/setting "resultParameterName" = "platform\/\{recipe\}": expected a parameter path starting with "\/"/);
      expect(failure({ resultParameterName: '/platform/{recipe}/snapshot id' })).toContain('setting "resultParameterName" = "/platform/{recipe}/snapshot id": expected only the characters Parameter Store accepts');
      expect(failure({ resultParameterName: '/platform/{recipe}/{arch}' })).toContain('setting "resultParameterName" = "/platform/{recipe}/{arch}": unknown placeholder "{arch}"');
      expect(failure({ resultParameterName: '/platform//{recipe}' })).toContain('no empty path level');
    });

    it('fails when the name is under a reserved prefix or the factory\'s own', () => {
      expect(failure({ resultParameterName: '/aws/{recipe}' })).toContain('setting "resultParameterName" = "/aws/{recipe}": names starting with /aws or /ssm are reserved');
      expect(failure({ resultParameterName: '/SSM/{recipe}' })).toContain('reserved by AWS');
      expect(failure({ resultParameterName: '/snapshot-factory/{recipe}/{architecture}/digest-set' })).toContain('the /snapshot-factory/ prefix holds the factory\'s own parameters');
    });

    it('fails when the name is too long for Parameter Store', () => {
      expect(failure({ resultParameterName: `/${'a'.repeat(920)}/{recipe}` })).toMatch(/setting "resultParameterName" = .*: expected at most 950 characters/);
    });

    it('fails without {architecture} when the defaults or a recipe build one snapshot per architecture for several', () => {
      expect(failure({ resultParameterName: '/platform/{recipe}/snapshot-id', architectures: ['x86_64', 'arm64'] })).toMatch(
        /setting "resultParameterName" = "\/platform\/\{recipe\}\/snapshot-id": has no \{architecture\} placeholder but the default settings \(architectures x86_64, arm64\) builds one snapshot per architecture/,
      );
      // A recipe builds both architectures unless it names them.
      expect(failure({ resultParameterName: '/platform/{recipe}/snapshot-id', recipes: [{ name: 'web', images: ['nginx:1'] }] })).toContain('recipe "web" builds one snapshot per architecture');
    });

    it('fails without {recipe} when several recipes are configured', () => {
      const recipes = [{ name: 'web', images: ['nginx:1'], architectures: ['x86_64'] }, { name: 'ml', images: ['python:3'], architectures: ['x86_64'] }];
      expect(failure({ resultParameterName: '/platform/{architecture}/snapshot-id', recipes })).toContain('has no {recipe} placeholder but 2 recipes are configured');
    });
  });

  it('fails when a recipe is invalid, with the recipe field named', () => {
    expect(failure({ recipes: [{ name: 'nightly', images: [] }] })).toContain('setting "recipes.0.images" = []');
  });

  it('fails when a recipe lists one image in two spellings, naming both (prepare-build would refuse every execution)', () => {
    expect(failure({ recipes: [{ name: 'web', images: ['nginx', 'redis:7', 'index.docker.io/library/nginx:latest'] }] })).toMatch(
      /setting "recipes\.0\.images\.2" = "index\.docker\.io\/library\/nginx:latest": lists "nginx" and "index\.docker\.io\/library\/nginx:latest", the same image \(docker\.io\/library\/nginx:latest; entries 1 and 3\)/,
    );
  });
});

describe('settingsFromContext', () => {
  const contextFailure = (value: unknown): string => {
    try {
      settingsFromContext(value, CONTEXT_KEY);
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidSettingsError);
      return (error as Error).message;
    }
    throw new Error('expected the context value to be rejected');
  };

  it('takes cdk.json\'s object as it is, and no value as no settings', () => {
    expect(settingsFromContext({ dataVolume: { sizeGiB: 200 } })).toEqual({ settings: { dataVolume: { sizeGiB: 200 } }, source: 'cdk.json context "snapshotFactory"' });
    expect(settingsFromContext(undefined).settings).toEqual({});
  });

  it('parses the JSON string that `cdk -c snapshotFactory=...` gives', () => {
    const { settings, source } = settingsFromContext('{"dataVolume":{"sizeGiB":200},"recipes":[{"name":"ml","images":["nginx:1.27"]}]}');
    expect(settings).toEqual({ dataVolume: { sizeGiB: 200 }, recipes: [{ name: 'ml', images: ['nginx:1.27'] }] });
    expect(source).toContain('context "snapshotFactory"');
  });

  it('fails when the string is not valid JSON, naming the context key and showing the value', () => {
    const message = contextFailure("{dataVolume:{sizeGiB:200}}");
    expect(message).toContain('context "snapshotFactory"');
    expect(message).toContain('not valid JSON');
    expect(message).toContain('"{dataVolume:{sizeGiB:200}}"');
    expect(message).toContain(`-c snapshotFactory='{"dataVolume":{"sizeGiB":200}}'`);
  });

  it('fails when the settings name a prop of the construct that is no setting', () => {
    expect(contextFailure({ definitionFile: '/tmp/other.asl.json' })).toContain('unknown setting(s) "definitionFile": a prop of the SnapshotFactory construct');
  });

  it('fails when the value is JSON but not an object', () => {
    expect(contextFailure('[1,2]')).toMatch(/context "snapshotFactory".*expected a JSON object of settings, received an array/);
    expect(contextFailure('"big"')).toMatch(/received a string/);
    expect(contextFailure('null')).toMatch(/received null/);
    expect(contextFailure(42)).toMatch(/cdk\.json context "snapshotFactory".*received a number/);
  });
});

describe('synth with settings', () => {
  it('takes the settings from a JSON string in the context, as the CDK CLI passes -c values', () => {
    const { stack } = createApp({ snapshotFactory: '{"dataVolume":{"sizeGiB":200}}', 'aws:cdk:bundling-stacks': [] });
    expect(stack.factory.settings.dataVolume.sizeGiB).toBe(200);
  });

  it('fails when a JSON string in the context holds an unknown setting, naming the setting and not its characters', () => {
    expect(() => createApp({ snapshotFactory: '{"dataVolume":{"size":200}}', 'aws:cdk:bundling-stacks': [] })).toThrow(
      /Invalid snapshot factory settings in context "snapshotFactory" \(a JSON string[^\n]*:\n- unknown setting\(s\) "dataVolume\.size"/,
    );
  });

  it('fails when the context value is not JSON, naming the context key', () => {
    expect(() => createApp({ snapshotFactory: '{"dataVolume":', 'aws:cdk:bundling-stacks': [] })).toThrow(/context "snapshotFactory".*not valid JSON/);
  });

  it('embeds in someone else\'s stack with recipes, schedules and ECR watches, clean under cdk-nag', async () => {
    const { App, Stack, Validations } = await import('aws-cdk-lib');
    const { AwsSolutionsChecks } = await import('cdk-nag');
    const { SnapshotFactory } = await import('../../infra/snapshot-factory');
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    const theirs = new Stack(app, 'PlatformStack');
    new SnapshotFactory(theirs, 'WarmCache', {
      recipes: [
        { name: 'ml', images: ['public.ecr.aws/docker/library/python:3.12'], watchRepositories: ['ml/trainer'] },
        { name: 'web', images: ['nginx:1.27'], schedule: { cron: 'cron(30 1 * * ? *)', timezone: 'Europe/Paris', enabled: false } },
      ],
    });
    expect(() => app.synth()).not.toThrow();
    // Everything the factory created is under its own construct: nothing lands at their stack's top level.
    const ours = theirs.node.children.filter((child) => !['BootstrapVersion', 'CheckBootstrapVersion'].includes(child.node.id));
    expect(ours.map((child) => child.node.id)).toEqual(['WarmCache']);
  });

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
    const { stack, template } = deploymentWith({ dataVolume: { kmsKeyArn }, instanceRoleName: 'platform-builder' });
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
    const { stack, template } = deploymentWith({ dataVolume: { encrypted: false } });
    const runs = allowing(statementsOfRole(stack, template, stack.factory.functions['launch-instance'].role!), 'ec2:RunInstances');
    const volume = runs.find((s) => text(s.Resource).includes(':volume/*'))!;
    expect(volume.Condition).toEqual({ StringEquals: { 'aws:RequestTag/snapshot-factory:managed': 'true' } });
  });

  it('lets publish-snapshot alone write the result parameter, placeholders as wildcards, and passes it the template', () => {
    // One synth (no bundling) with cdk-nag: the new wildcard resource is acknowledged, nothing else is.
    const resultParameterName = '/platform/bottlerocket/{recipe}/{architecture}/snapshot-id';
    const { app, stack } = createApp({ snapshotFactory: { resultParameterName }, 'aws:cdk:bundling-stacks': [] });
    app.synth();
    const template = Template.fromStack(stack);
    const puts = (name: FunctionName) => allowing(statementsOfRole(stack, template, stack.factory.functions[name].role!), 'ssm:PutParameter').flatMap((s) => asArray(s.Resource)).map(text);
    const publish = puts('publish-snapshot');
    expect(publish.some((r) => r.includes(':parameter/platform/bottlerocket/*/*/snapshot-id'))).toBe(true);
    expect(publish.every((r) => r.includes(':parameter/platform/bottlerocket/*/*/snapshot-id') || r.includes(':parameter/snapshot-factory/*'))).toBe(true);
    for (const name of ALL_FUNCTIONS) {
      const env = template.toJSON().Resources[stack.getLogicalId(stack.factory.functions[name].node.defaultChild as never)].Properties.Environment.Variables;
      expect(env.RESULT_PARAMETER_NAME, name).toBe(name === 'publish-snapshot' ? resultParameterName : undefined);
      if (name !== 'publish-snapshot') expect(puts(name).filter((r) => r.includes('/platform/')), name).toEqual([]);
    }
    const reads = ['ssm:GetParameter', 'ssm:GetParameters'].flatMap((action) =>
      ALL_FUNCTIONS.flatMap((name) => allowing(statementsOfRole(stack, template, stack.factory.functions[name].role!), action)),
    );
    expect(reads.flatMap((s) => asArray(s.Resource)).map(text).filter((r) => r.includes('/platform/'))).toEqual([]);
  });

  it('applies the execution time limit and log retention settings', () => {
    const { template } = deploymentWith({ limits: { executionSeconds: 20000 }, logRetentionDays: 7 });
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
