/**
 * The default deployment (cdk.json settings), synthesized once in-process without AWS credentials:
 * security defaults, wiring, least privilege per function, outputs.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildDefaultsSchema } from '../../functions/lib/build-defaults';
import { ALL_FUNCTIONS, STAGE_FUNCTIONS, type FunctionName } from '../../infra/permissions';
import { pascalCase } from '../../infra/snapshot-factory';
import type { SnapshotFactoryStack } from '../../infra/stack';
import { sdkActionsOf } from './sdk-calls';
import { actionsOf, allowing, asArray, defaultDeployment, statementsOfRole } from './synthesized';
import type { Template } from 'aws-cdk-lib/assertions';

let stack: SnapshotFactoryStack;
let template: Template;
beforeAll(() => {
  ({ stack, template } = defaultDeployment());
});

const functionsDir = join(import.meta.dirname, '..', '..', 'functions');
const text = (value: unknown): string => JSON.stringify(value);
const roleStatements = (name: FunctionName) => statementsOfRole(stack, template, stack.factory.functions[name].role!);

/**
 * Permissions a call needs besides its own action, accepted on top of the source's commands:
 * writing the function's own log group, tagging on create, passing the builder role, the volume key.
 */
const IMPLICIT: Record<string, string[]> = {
  '*': ['logs:CreateLogStream', 'logs:PutLogEvents'],
  'ec2:RunInstances': ['ec2:CreateTags', 'iam:PassRole', 'kms:CreateGrant', 'kms:GenerateDataKeyWithoutPlaintext', 'kms:Decrypt', 'kms:DescribeKey', 'kms:ReEncryptFrom', 'kms:ReEncryptTo'],
  'ec2:CreateSnapshot': ['ec2:CreateTags'],
};

describe('the default deployment', () => {
  it('synthesizes offline with no unacknowledged cdk-nag AwsSolutions finding', () => {
    // defaultDeployment() ran app.synth(), which throws on any finding; here: the stack is really there.
    template.resourceCountIs('AWS::StepFunctions::StateMachine', 1);
    template.resourceCountIs('AWS::Lambda::Function', ALL_FUNCTIONS.length);
  });

  it('bundles one arm64 Node.js 22+ function per file with JSON logs into its own log group with bounded retention', () => {
    for (const name of ALL_FUNCTIONS) {
      const fn = stack.factory.functions[name];
      const props = template.toJSON().Resources[stack.getLogicalId(fn.node.defaultChild as never)].Properties;
      expect(props.Runtime, name).toMatch(/^nodejs(2[2-9]|[3-9]\d)\.x$/);
      expect(props.Architectures, name).toEqual(['arm64']);
      expect(props.Handler, name).toBe('index.handler');
      expect(props.LoggingConfig.LogFormat, name).toBe('JSON');
      expect(props.Environment.Variables.POWERTOOLS_SERVICE_NAME, name).toBe('snapshot-factory');
      expect(props.Environment.Variables.POWERTOOLS_LOG_LEVEL, name).toBe('INFO');
      const logGroupId = props.LoggingConfig.LogGroup.Ref as string;
      expect(template.toJSON().Resources[logGroupId].Properties.RetentionInDays, name).toBe(30);
    }
  });

  it('gives prepare-build the deployed defaults as compact JSON that its own schema accepts', () => {
    const props = template.toJSON().Resources[stack.getLogicalId(stack.factory.functions['prepare-build'].node.defaultChild as never)].Properties;
    const value = props.Environment.Variables.FACTORY_DEFAULTS as { 'Fn::Join': [string, unknown[]] };
    // Created resources' IDs are references until deploy: put well-formed IDs in their place.
    const samples = ['snapshot-factory-builder', 'subnet-0123456789abcdef0', 'subnet-0123456789abcdef1', 'sg-0123456789abcdef0'];
    let next = 0;
    const json = value['Fn::Join'][1].map((part) => (typeof part === 'string' ? part : samples[next++])).join('');
    expect(next).toBe(4);
    expect(json).not.toMatch(/\n/);
    const defaults = buildDefaultsSchema.parse(JSON.parse(json));
    expect(defaults).toMatchObject({
      instanceProfileName: 'snapshot-factory-builder',
      subnetIds: ['subnet-0123456789abcdef0', 'subnet-0123456789abcdef1'],
      securityGroupIds: ['sg-0123456789abcdef0'],
      associatePublicIp: true,
      kubernetesVersion: '1.35',
      dataVolume: { sizeGiB: 100, encrypted: true },
    });
  });

  it('creates the state machine from the ASL file with every function substituted, logs without execution data, tracing and a time limit', () => {
    const [machine] = Object.values(template.findResources('AWS::StepFunctions::StateMachine'));
    const props = machine!.Properties;
    for (const name of STAGE_FUNCTIONS) {
      const fnId = stack.getLogicalId(stack.factory.functions[name].node.defaultChild as never);
      expect(props.DefinitionSubstitutions[`${pascalCase(name)}FunctionArn`], name).toEqual({ 'Fn::GetAtt': [fnId, 'Arn'] });
    }
    const definition = JSON.parse(props.DefinitionString);
    expect(definition.TimeoutSeconds).toBe(stack.factory.settings.limits.executionSeconds);
    expect(props.LoggingConfiguration).toMatchObject({ Level: 'ALL', IncludeExecutionData: false });
    expect(props.TracingConfiguration).toEqual({ Enabled: true });
    const logGroupId = props.LoggingConfiguration.Destinations[0].CloudWatchLogsLogGroup.LogGroupArn['Fn::GetAtt'][0];
    expect(template.toJSON().Resources[logGroupId].Properties.RetentionInDays).toBe(30);
  });

  it('lets the state machine invoke each stage function and nothing else', () => {
    const machineRole = stack.factory.stateMachine.role;
    const statements = statementsOfRole(stack, template, machineRole);
    const invoked = allowing(statements, 'lambda:InvokeFunction').flatMap((s) => asArray(s.Resource)).map(text);
    for (const name of STAGE_FUNCTIONS) {
      const fnId = stack.getLogicalId(stack.factory.functions[name].node.defaultChild as never);
      expect(invoked.some((resource) => resource.includes(fnId)), name).toBe(true);
    }
    for (const name of ['start-build', 'reap-builders'] as const) {
      const fnId = stack.getLogicalId(stack.factory.functions[name].node.defaultChild as never);
      expect(invoked.some((resource) => resource.includes(fnId)), name).toBe(false);
    }
  });

  describe('each function role allows exactly the AWS calls its source makes', () => {
    it.each(ALL_FUNCTIONS.map((name) => [name]))('%s', (name) => {
      const called = sdkActionsOf(join(functionsDir, `${name}.ts`));
      const allowed = actionsOf(roleStatements(name));
      const implicit = new Set([...IMPLICIT['*']!, ...called.flatMap((action) => IMPLICIT[action] ?? [])]);
      const missing = called.filter((action) => !allowed.includes(action));
      const extra = allowed.filter((action) => !called.includes(action) && !implicit.has(action));
      expect({ missing, extra }).toEqual({ missing: [], extra: [] });
    });
  });

  it('lets launch-instance start only tagged, IMDSv2-only instances with encrypted volumes and the builder profile', () => {
    const runs = allowing(roleStatements('launch-instance'), 'ec2:RunInstances');
    const instance = runs.find((s) => text(s.Resource).includes(':instance/*'))!;
    expect(instance.Condition).toMatchObject({
      StringEquals: { 'aws:RequestTag/snapshot-factory:managed': 'true', 'ec2:MetadataHttpTokens': 'required' },
      ArnEquals: { 'ec2:InstanceProfile': expect.anything() },
    });
    const volume = runs.find((s) => text(s.Resource).includes(':volume/*'))!;
    expect(volume.Condition).toEqual({ StringEquals: { 'aws:RequestTag/snapshot-factory:managed': 'true' }, Bool: { 'ec2:Encrypted': 'true' } });
    const image = runs.find((s) => text(s.Resource).includes(':image/*'))!;
    expect(image.Condition).toEqual({ StringEquals: { 'ec2:Owner': 'amazon' } });
    // Every other resource of the call is named: the factory's subnets and security group, interfaces.
    const unconditioned = runs.filter((s) => !s.Condition).flatMap((s) => asArray(s.Resource)).map(text);
    expect(unconditioned.some((r) => r.includes(':subnet/'))).toBe(true);
    expect(unconditioned.some((r) => r.includes(':security-group/'))).toBe(true);
    expect(unconditioned.every((r) => !r.endsWith(':*"') && r !== '"*"')).toBe(true);
  });

  it('allows ec2:CreateTags only while creating, or on the factory\'s own snapshots', () => {
    for (const name of ALL_FUNCTIONS) {
      for (const statement of allowing(roleStatements(name), 'ec2:CreateTags')) {
        const condition = statement.Condition?.StringEquals ?? {};
        const onCreate = ['RunInstances', 'CreateSnapshot'].includes(String(condition['ec2:CreateAction']));
        const onOwnSnapshot = condition['aws:ResourceTag/snapshot-factory:managed'] === 'true' && text(statement.Resource).includes(':snapshot/*');
        expect(onCreate || onOwnSnapshot, `${name}: ${text(statement)}`).toBe(true);
      }
    }
  });

  it('conditions every mutating EC2 action on the factory tag', () => {
    const mutating = ['ec2:StopInstances', 'ec2:TerminateInstances', 'ec2:DeleteSnapshot'];
    for (const name of ALL_FUNCTIONS) {
      for (const action of mutating) {
        for (const statement of allowing(roleStatements(name), action)) {
          expect(statement.Condition, `${name} ${action}`).toEqual({ StringEquals: { 'aws:ResourceTag/snapshot-factory:managed': 'true' } });
        }
      }
      const snapshots = allowing(roleStatements(name), 'ec2:CreateSnapshot');
      if (snapshots.length === 0) continue;
      expect(snapshots.find((s) => text(s.Resource).includes(':volume/*'))!.Condition).toEqual({
        StringEquals: { 'aws:ResourceTag/snapshot-factory:managed': 'true' },
      });
      expect(snapshots.find((s) => text(s.Resource).includes(':snapshot/*'))!.Condition).toEqual({
        StringEquals: { 'aws:RequestTag/snapshot-factory:managed': 'true' },
      });
    }
  });

  it('passes only the builder role, only to EC2', () => {
    const passes = ALL_FUNCTIONS.flatMap((name) => allowing(roleStatements(name), 'iam:PassRole').map((s) => ({ name, s })));
    expect(passes.map((p) => p.name)).toEqual(['launch-instance']);
    const builderRoleId = stack.getLogicalId(stack.factory.builderRole.node.defaultChild as never);
    expect(passes[0]!.s.Resource).toEqual({ 'Fn::GetAtt': [builderRoleId, 'Arn'] });
    expect(passes[0]!.s.Condition).toEqual({ StringEquals: { 'iam:PassedToService': 'ec2.amazonaws.com' } });
  });

  it('sends only AWS-RunShellScript, only to instances tagged as the factory\'s', () => {
    const sends = allowing(roleStatements('send-pull-command'), 'ssm:SendCommand');
    expect(sends).toHaveLength(2);
    expect(text(sends.find((s) => text(s.Resource).includes(':document/'))!.Resource)).toContain(':document/AWS-RunShellScript');
    expect(sends.find((s) => text(s.Resource).includes(':instance/*'))!.Condition).toEqual({
      StringEquals: { 'ssm:resourceTag/snapshot-factory:managed': 'true' },
    });
  });

  it('reads parameters only under Bottlerocket\'s public path and the factory\'s prefix, and writes only its prefix', () => {
    for (const name of ALL_FUNCTIONS) {
      for (const action of ['ssm:GetParameter', 'ssm:GetParameters', 'ssm:PutParameter']) {
        for (const resource of allowing(roleStatements(name), action).flatMap((s) => asArray(s.Resource)).map(text)) {
          const ok = resource.includes(':parameter/snapshot-factory/*') || (action !== 'ssm:PutParameter' && resource.includes('::parameter/aws/service/bottlerocket/*'));
          expect(ok, `${name} ${action} ${resource}`).toBe(true);
        }
      }
    }
  });

  it('starts and describes executions of this state machine only', () => {
    const machineId = stack.getLogicalId(stack.factory.stateMachine.node.defaultChild as never);
    const [start] = allowing(roleStatements('start-build'), 'states:StartExecution');
    expect(start!.Resource).toEqual({ Ref: machineId });
    const [describe] = allowing(roleStatements('reap-builders'), 'states:DescribeExecution');
    expect(text(describe!.Resource)).toContain(`:execution:`);
    expect(text(describe!.Resource)).toContain(machineId);
  });

  it('lets the builder pull exactly Bottlerocket\'s control and admin containers from every Bottlerocket registry account', () => {
    const statements = statementsOfRole(stack, template, stack.factory.builderRole);
    const hostContainers = statements.filter((s) => (s as { Sid?: string }).Sid === 'BottlerocketHostContainers');
    expect(hostContainers).toHaveLength(1);
    expect(asArray(hostContainers[0]!.Action).sort()).toEqual(['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer']);
    expect(hostContainers[0]!.Condition).toBeUndefined();
    // The accounts of Bottlerocket's schnauzer ECR map (infra/bottlerocket-registries.ts names the commit), written
    // out here so that a change to the list is a visible change to this test.
    const accounts = [
      '183470599484', '183901325759', '253897149516', '288123944683', '328549459982', '347163068887', '375569722642',
      '386774335080', '388230364387', '509306038620', '553577323255', '586180183710', '589460436674', '620625777247',
      '731751899352', '764716012617', '851725293737', '861738308508', '917644944286',
    ];
    const expected = accounts.flatMap((account) =>
      ['bottlerocket-admin', 'bottlerocket-control'].map((repository) => ({
        'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:ecr:*:${account}:repository/${repository}`]],
      })),
    );
    expect(asArray(hostContainers[0]!.Resource)).toEqual(expected);
    // ecr:GetAuthorizationToken has no resource-level permission: it stays on *, alone.
    expect(allowing(statements, 'ecr:GetAuthorizationToken').map((s) => s.Resource)).toEqual(['*']);
  });

  it('gives the builder instance only SSM core, its host containers and ECR read, through an instance profile', () => {
    const builder = stack.factory.builderRole;
    const roleId = stack.getLogicalId(builder.node.defaultChild as never);
    const role = template.toJSON().Resources[roleId].Properties;
    expect(text(role.AssumeRolePolicyDocument)).toContain('ec2.amazonaws.com');
    expect(role.ManagedPolicyArns.map(text)).toEqual([expect.stringContaining(':iam::aws:policy/AmazonSSMManagedInstanceCore')]);
    expect(actionsOf(statementsOfRole(stack, template, builder))).toEqual([
      'ecr:BatchCheckLayerAvailability',
      'ecr:BatchGetImage',
      'ecr:GetAuthorizationToken',
      'ecr:GetDownloadUrlForLayer',
    ]);
    template.hasResourceProperties('AWS::IAM::InstanceProfile', { Roles: [{ Ref: roleId }] });
  });

  it('creates a builder security group with no inbound rule and HTTPS-only egress, in a VPC without NAT', () => {
    const groups = template.findResources('AWS::EC2::SecurityGroup');
    const builder = Object.values(groups).find((g) => String(g.Properties.GroupDescription).startsWith('Snapshot builder'))!;
    expect(builder.Properties.SecurityGroupIngress).toBeUndefined();
    template.resourceCountIs('AWS::EC2::SecurityGroupIngress', 0);
    expect(builder.Properties.SecurityGroupEgress).toEqual([
      expect.objectContaining({ CidrIp: '0.0.0.0/0', IpProtocol: 'tcp', FromPort: 443, ToPort: 443 }),
    ]);
    template.resourceCountIs('AWS::EC2::NatGateway', 0);
    template.hasResourceProperties('AWS::EC2::FlowLog', { TrafficType: 'REJECT' });
  });

  it('reaps leftover builders and unpublished snapshots every hour', () => {
    const reaperId = stack.getLogicalId(stack.factory.functions['reap-builders'].node.defaultChild as never);
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 hour)',
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [reaperId, 'Arn'] } })],
    });
  });

  it('cleans up an execution of this state machine that timed out, was aborted or failed, from its status-change event', () => {
    const cleanupId = stack.getLogicalId(stack.factory.functions['cleanup-build'].node.defaultChild as never);
    const machineId = stack.getLogicalId(stack.factory.stateMachine.node.defaultChild as never);
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.states'],
        'detail-type': ['Step Functions Execution Status Change'],
        detail: { status: ['FAILED', 'TIMED_OUT', 'ABORTED'], stateMachineArn: [{ Ref: machineId }] },
      },
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [cleanupId, 'Arn'] } })],
    });
  });

  it('sweeps an execution again only after every launch in flight has timed out', () => {
    const definition = JSON.parse(readFileSync(join(functionsDir, '..', 'statemachine', 'snapshot-factory.asl.json'), 'utf8')) as { States: Record<string, { Seconds?: number }> };
    const launchId = stack.getLogicalId(stack.factory.functions['launch-instance'].node.defaultChild as never);
    const launchTimeout = (template.toJSON().Resources[launchId].Properties as { Timeout: number }).Timeout;
    expect(definition.States.WaitForLaunchesInFlight!.Seconds).toBeGreaterThan(launchTimeout);
  });

  it('outputs the state machine ARN and a ready-to-paste start-execution command', () => {
    const outputs = template.toJSON().Outputs;
    const machineId = stack.getLogicalId(stack.factory.stateMachine.node.defaultChild as never);
    expect(outputs.StateMachineArn.Value).toEqual({ Ref: machineId });
    const command = text(outputs.StartBuildCommand.Value);
    expect(command).toContain('aws stepfunctions start-execution --state-machine-arn ');
    expect(command).toContain('--input');
  });
});
