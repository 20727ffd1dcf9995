/**
 * The lifecycle settings and resources (issue 10): retention, sharing and notification settings validated at synth,
 * the failure rule and optional SNS topic, and the IAM scope of the new calls. Variant apps skip bundling.
 */
import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { parseSettings } from '../../infra/config';
import { allowing, deploymentWith, statementsOfRole } from './synthesized';
import { settingsFailure } from './settings-failure';

const kmsKeyArn = 'arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const TEAM = '222233334444';

const failure = settingsFailure;

describe('lifecycle settings', () => {
  it('accepts retention, sharing with a customer managed key, and notification addresses', () => {
    const settings = parseSettings(
      { retention: { keepSuperseded: 5, pinnedSnapshotIds: ['snap-0123456789abcdef0'] }, sharing: { accountIds: [TEAM] }, dataVolume: { kmsKeyArn }, notifications: { emailAddresses: ['ops@example.com'] } },
      'test settings',
    );
    expect(settings).toMatchObject({ retention: { keepSuperseded: 5 }, sharing: { accountIds: [TEAM] }, notifications: { emailAddresses: ['ops@example.com'] } });
  });

  it('fails when sharing encrypted snapshots without kmsKeyArn, naming both settings', () => {
    const message = failure({ sharing: { accountIds: [TEAM] } });
    expect(message).toMatch(/setting "sharing\.accountIds".*kmsKeyArn/);
    expect(message).toMatch(/aws\/ebs key cannot be shared/);
  });

  it('fails when snapshots are shared and a copy has no kmsKeyArn, naming the region', () => {
    const message = failure({ dataVolume: { encrypted: false }, sharing: { accountIds: [TEAM] }, copies: [{ region: 'eu-west-1' }] });
    expect(message).toMatch(/setting "copies".*the copies in eu-west-1 have no kmsKeyArn/);
  });

  it('fails when a recipe shares encrypted snapshots without kmsKeyArn', () => {
    const message = failure({ recipes: [{ name: 'ml', images: ['nginx:1'], sharing: { accountIds: [TEAM] } }] });
    expect(message).toMatch(/setting "recipes\.0\.sharing\.accountIds"/);
  });

  it('fails when sharing names an organization ARN, saying why and what to do', () => {
    const message = failure({ dataVolume: { kmsKeyArn }, sharing: { accountIds: ['arn:aws:organizations::111122223333:organization/o-abc123def4'] } });
    expect(message).toMatch(/cannot be shared with an organization.*list the 12-digit IDs/);
  });

  it('fails when keepSuperseded is negative or a pinned ID is not a snapshot ID', () => {
    expect(failure({ retention: { keepSuperseded: -1 } })).toMatch(/retention\.keepSuperseded/);
    expect(failure({ retention: { pinnedSnapshotIds: ['ami-0123456789abcdef0'] } })).toMatch(/retention\.pinnedSnapshotIds\.0.*snapshot ID/);
  });

  it('fails when an email address is not one', () => {
    expect(failure({ notifications: { emailAddresses: ['ops'] } })).toMatch(/notifications\.emailAddresses\.0.*email address/);
  });
});

describe('failure notification resources', () => {
  it('sends FAILED, TIMED_OUT and ABORTED status changes of its own state machine to notify-build-failure', () => {
    const { template } = deploymentWith({});
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.states'],
        'detail-type': ['Step Functions Execution Status Change'],
        detail: { status: ['FAILED', 'TIMED_OUT', 'ABORTED'], stateMachineArn: [Match.anyValue()] },
      },
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('NotifyBuildFailureFunction'), 'Arn'] }, RetryPolicy: { MaximumRetryAttempts: 2 } })],
    });
    template.resourceCountIs('AWS::SNS::Topic', 0);
  });

  it('with emailAddresses, mails Snapshot Build Failed events through an encrypted, TLS-only topic only that rule may publish to', () => {
    const { template } = deploymentWith({ notifications: { emailAddresses: ['ops@example.com'] } });
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ops@example.com' });
    template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { source: ['snapshot-factory'], 'detail-type': ['Snapshot Build Failed'] },
      Targets: [Match.objectLike({ Arn: { Ref: Match.stringLikeRegexp('FailureTopic') } })],
    });
    const policy = Object.values(template.findResources('AWS::SNS::TopicPolicy'))[0]!.Properties.PolicyDocument.Statement as {
      Effect: string;
      Principal?: { Service?: string };
      Condition?: Record<string, Record<string, unknown>>;
    }[];
    const allows = policy.filter((s) => s.Effect === 'Allow');
    expect(allows).toHaveLength(1);
    expect(allows[0]).toMatchObject({
      Principal: { Service: 'events.amazonaws.com' },
      Condition: { ArnEquals: { 'aws:SourceArn': { 'Fn::GetAtt': [expect.stringMatching(/BuildFailedToEmail/), 'Arn'] } }, StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
    });
    expect(policy.some((s) => s.Effect === 'Deny' && JSON.stringify(s.Condition).includes('aws:SecureTransport'))).toBe(true);
  });
});

describe('IAM of the lifecycle functions', () => {
  it('lets share-snapshots add only the configured accounts, never a group, on the factory\'s snapshots', () => {
    const { stack, template } = deploymentWith({ dataVolume: { encrypted: false }, sharing: { accountIds: [TEAM] }, recipes: [{ name: 'ml', images: ['nginx:1'], sharing: { accountIds: ['333344445555'] } }] });
    const statements = allowing(statementsOfRole(stack, template, stack.factory.functions['share-snapshots'].role!), 'ec2:ModifySnapshotAttribute');
    const adding = statements.find((s) => s.Condition?.StringEquals?.['ec2:Add/userId']);
    expect(adding?.Condition).toEqual({
      StringEquals: { 'aws:ResourceTag/snapshot-factory:managed': 'true', 'ec2:Add/userId': ['222233334444', '333344445555'] },
      Null: { 'ec2:Add/group': 'true', 'ec2:Remove/userId': 'true', 'ec2:Remove/group': 'true' },
    });
    for (const statement of statements) expect(JSON.stringify(statement.Resource)).toMatch(/snapshot\/\*/);
  });

  it('lets nothing be added when no setting shares', () => {
    const { stack, template } = deploymentWith({});
    const statements = allowing(statementsOfRole(stack, template, stack.factory.functions['apply-retention'].role!), 'ec2:ModifySnapshotAttribute');
    expect(statements).toHaveLength(1);
    expect(statements[0]!.Condition).toMatchObject({ Null: { 'ec2:Add/userId': 'true', 'ec2:Add/group': 'true', 'ec2:Remove/userId': 'false' } });
  });

  it('lets notify-build-failure read only the state machine\'s executions and put only the factory\'s events', () => {
    const { stack, template } = deploymentWith({});
    const statements = statementsOfRole(stack, template, stack.factory.functions['notify-build-failure'].role!);
    const history = allowing(statements, 'states:GetExecutionHistory');
    expect(history).toHaveLength(1);
    expect(JSON.stringify(history[0]!.Resource)).toMatch(/:execution:/);
    expect(allowing(statements, 'events:PutEvents')[0]!.Condition).toMatchObject({ 'ForAllValues:StringEquals': { 'events:source': 'snapshot-factory' } });
  });
});
