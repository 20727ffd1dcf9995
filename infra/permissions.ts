/**
 * The IAM model: which AWS actions each function may call, and on which resources, under which conditions.
 *
 * `FUNCTION_ACTIONS` lists, per function, exactly the actions its code calls (test/infra/iam-least-privilege.test.ts
 * derives the same list from the source and fails on any difference). `statementsFor` scopes each action to the
 * narrowest resources the factory knows at synth time, and adds the implicit permissions a call needs
 * (`IMPLICIT_ACTIONS`: tagging on create, passing the builder role, using the volumes' KMS key).
 */
import { ArnFormat, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { TAG_MANAGED } from '../functions/lib/tags';

/** Every Lambda function of the factory (file name in functions/, kebab-case). */
export const STAGE_FUNCTIONS = [
  'prepare-build',
  'launch-instance',
  'check-ssm-agent',
  'send-pull-command',
  'check-pull-command',
  'stop-instance',
  'check-instance-stopped',
  'create-snapshot',
  'check-snapshot',
  'terminate-instance',
  'enable-fast-snapshot-restore',
  'check-fast-snapshot-restore',
  'copy-snapshot',
  'check-snapshot-copies',
  'cleanup-build',
  'share-snapshots',
  'publish-snapshot',
  'disable-superseded-fast-snapshot-restore',
  'apply-retention',
] as const;
export const OTHER_FUNCTIONS = ['start-build', 'reap-builders', 'notify-build-failure'] as const;
export const ALL_FUNCTIONS = [...STAGE_FUNCTIONS, ...OTHER_FUNCTIONS] as const;
export type FunctionName = (typeof ALL_FUNCTIONS)[number];

/** The AWS actions each function's code calls (one per SDK command it sends). */
export const FUNCTION_ACTIONS: Record<FunctionName, readonly string[]> = {
  'prepare-build': ['ssm:GetParameters', 'ecr:BatchGetImage', 'ec2:DescribeSnapshots'],
  'launch-instance': ['ssm:GetParameter', 'ec2:RunInstances', 'ec2:DescribeInstances'],
  'check-ssm-agent': ['ssm:DescribeInstanceInformation', 'ec2:DescribeInstances'],
  'send-pull-command': ['ssm:ListCommandInvocations', 'ssm:SendCommand', 'ec2:DescribeInstances'],
  'check-pull-command': ['ssm:GetCommandInvocation', 'ec2:DescribeInstances'],
  'stop-instance': ['ec2:DescribeInstances', 'ec2:StopInstances'],
  'check-instance-stopped': ['ec2:DescribeInstances'],
  'create-snapshot': ['ec2:DescribeInstances', 'ec2:DescribeSnapshots', 'ec2:CreateSnapshot'],
  'check-snapshot': ['ec2:DescribeSnapshots'],
  'terminate-instance': ['ec2:TerminateInstances'],
  'enable-fast-snapshot-restore': ['ec2:EnableFastSnapshotRestores'],
  'check-fast-snapshot-restore': ['ec2:DescribeFastSnapshotRestores'],
  'copy-snapshot': ['ec2:DescribeSnapshots', 'ec2:CopySnapshot'],
  'check-snapshot-copies': ['ec2:DescribeSnapshots'],
  'cleanup-build': [
    'ec2:DescribeInstances',
    'ec2:TerminateInstances',
    'ec2:DescribeSnapshots',
    'ec2:DescribeFastSnapshotRestores',
    'ec2:DisableFastSnapshotRestores',
    'ec2:DeleteSnapshot',
    'ssm:GetParameters',
  ],
  'disable-superseded-fast-snapshot-restore': ['ec2:DescribeFastSnapshotRestores', 'ec2:DescribeSnapshots', 'ssm:GetParameters', 'ec2:DisableFastSnapshotRestores'],
  'share-snapshots': ['ec2:DescribeSnapshotAttribute', 'ec2:ModifySnapshotAttribute'],
  'publish-snapshot': ['ssm:GetParameters', 'ec2:CreateTags', 'ssm:PutParameter', 'events:PutEvents'],
  'apply-retention': ['ssm:GetParameters', 'ec2:DescribeSnapshots', 'ec2:DeleteSnapshot', 'ec2:DescribeSnapshotAttribute', 'ec2:ModifySnapshotAttribute'],
  'notify-build-failure': ['states:GetExecutionHistory', 'states:DescribeExecution', 'events:PutEvents'],
  'start-build': ['states:DescribeExecution', 'states:ListExecutions', 'states:StartExecution', 'ecr:BatchGetImage'],
  'reap-builders': ['ec2:DescribeInstances', 'ec2:TerminateInstances', 'states:DescribeExecution', 'ec2:DescribeSnapshots', 'ec2:DeleteSnapshot', 'ssm:GetParameters'],
};

/**
 * Permissions a call needs beyond its own action. Documented in docs/security.md; the least-privilege test
 * accepts exactly these extras (plus logs for the function's own log group and X-Ray tracing).
 */
export const IMPLICIT_ACTIONS: Record<string, readonly string[]> = {
  // Tagging at creation (TagSpecifications) is authorized as ec2:CreateTags with ec2:CreateAction.
  'ec2:RunInstances': ['ec2:CreateTags', 'iam:PassRole', 'kms:CreateGrant', 'kms:GenerateDataKeyWithoutPlaintext', 'kms:Decrypt', 'kms:DescribeKey', 'kms:ReEncryptFrom', 'kms:ReEncryptTo'],
  'ec2:CreateSnapshot': ['ec2:CreateTags'],
  // Tagging the copy at creation; a customer key of a copy region encrypts the copy (EC2 uses it on the caller's behalf).
  'ec2:CopySnapshot': ['ec2:CreateTags', 'kms:CreateGrant', 'kms:GenerateDataKeyWithoutPlaintext', 'kms:Decrypt', 'kms:DescribeKey', 'kms:ReEncryptFrom', 'kms:ReEncryptTo'],
};

/** What the scopes need to know about the deployment. */
export interface ScopeContext {
  readonly stack: Stack;
  readonly builderRoleArn: string;
  readonly instanceProfileArn: string;
  readonly subnetArns: readonly string[];
  readonly securityGroupArns: readonly string[];
  readonly kmsKeyArn?: string;
  readonly encrypted: boolean;
  /** The factory's own parameters (its prefix): read by the skip check and launch, written by publish. */
  readonly ownParameterArns: readonly string[];
  /** The result parameter (setting `resultParameterName`, placeholders as wildcards): written only, by publish. */
  readonly resultParameterArns?: readonly string[];
  readonly ecrRepositoryArns: readonly string[];
  /** ARN of the state machine; absent while the state machine's own functions are scoped. */
  readonly stateMachineArn?: string;
  readonly executionArnPattern?: string;
  /**
   * Accounts the snapshots may be shared with: every account of the deploy-time `sharing` setting and of each
   * recipe's. ec2:ModifySnapshotAttribute may add exactly these (`ec2:Add/userId`); empty: it may add none.
   */
  readonly shareAccountIds?: readonly string[];
  /**
   * Regions snapshots may be copied to (setting `copies`, deploy-time and every recipe's): the factory's snapshot,
   * parameter and event-bus permissions cover them too. A region named only in an execution input is refused by IAM.
   */
  readonly copyRegions?: readonly string[];
  /** Customer managed keys of the copy regions (`copies[].kmsKeyArn`): usable by EC2 in their own region only. */
  readonly copyKmsKeyArns?: readonly string[];
}

const managed = { [`aws:ResourceTag/${TAG_MANAGED}`]: 'true' };
const requestManaged = { [`aws:RequestTag/${TAG_MANAGED}`]: 'true' };

const ec2Arn = (ctx: ScopeContext, resource: string, account = true): string =>
  ctx.stack.formatArn({ service: 'ec2', resource, resourceName: '*', account: account ? undefined : '', arnFormat: ArnFormat.SLASH_RESOURCE_NAME });

/** The factory's snapshots in the home region and in every copy region. */
const snapshotArns = (ctx: ScopeContext): string[] => [
  ec2Arn(ctx, 'snapshot', false),
  ...(ctx.copyRegions ?? []).map((region) =>
    ctx.stack.formatArn({ service: 'ec2', region, account: '', resource: 'snapshot', resourceName: '*', arnFormat: ArnFormat.SLASH_RESOURCE_NAME }),
  ),
];

type Scope = (ctx: ScopeContext) => iam.PolicyStatement[];

/** Bottlerocket's public AMI parameters and the factory's own prefix, read-only. */
const readParameters = (action: string, ctx: ScopeContext): iam.PolicyStatement[] => [
  new iam.PolicyStatement({
    actions: [action],
    resources: [
      ctx.stack.formatArn({ service: 'ssm', account: '', resource: 'parameter', resourceName: 'aws/service/bottlerocket/*', arnFormat: ArnFormat.SLASH_RESOURCE_NAME }),
      ...ctx.ownParameterArns,
    ],
  }),
];
const statement = (props: iam.PolicyStatementProps) => new iam.PolicyStatement(props);
/** Actions AWS does not scope to resources (Describe*, GetCommandInvocation, ...). */
const anyResource = (action: string): Scope => () => [statement({ actions: [action], resources: ['*'] })];

const SCOPES: Record<string, Scope> = {
  'ec2:DescribeInstances': anyResource('ec2:DescribeInstances'),
  'ec2:DescribeSnapshots': anyResource('ec2:DescribeSnapshots'),
  // DescribeFastSnapshotRestores has no resource type (Service Authorization Reference, list_amazonec2.html).
  'ec2:DescribeFastSnapshotRestores': anyResource('ec2:DescribeFastSnapshotRestores'),
  'ssm:DescribeInstanceInformation': anyResource('ssm:DescribeInstanceInformation'),
  'ssm:GetCommandInvocation': anyResource('ssm:GetCommandInvocation'),
  'ssm:ListCommandInvocations': anyResource('ssm:ListCommandInvocations'),
  'ec2:RunInstances': (ctx) => {
    const statements = [
      // The instance: tagged as the factory's, IMDSv2 only, with the factory's instance profile.
      statement({
        actions: ['ec2:RunInstances'],
        resources: [ec2Arn(ctx, 'instance')],
        conditions: {
          StringEquals: { ...requestManaged, 'ec2:MetadataHttpTokens': 'required' },
          ArnEquals: { 'ec2:InstanceProfile': ctx.instanceProfileArn },
        },
      }),
      // Its volumes: tagged, and encrypted when the setting says so.
      statement({
        actions: ['ec2:RunInstances'],
        resources: [ec2Arn(ctx, 'volume')],
        conditions: ctx.encrypted
          ? { StringEquals: requestManaged, Bool: { 'ec2:Encrypted': 'true' } }
          : { StringEquals: requestManaged },
      }),
      // Only Amazon's public AMIs (Bottlerocket's), only the configured subnets and security groups.
      statement({
        actions: ['ec2:RunInstances'],
        resources: [ctx.stack.formatArn({ service: 'ec2', account: '', resource: 'image', resourceName: '*', arnFormat: ArnFormat.SLASH_RESOURCE_NAME })],
        conditions: { StringEquals: { 'ec2:Owner': 'amazon' } },
      }),
      statement({
        actions: ['ec2:RunInstances'],
        resources: [ec2Arn(ctx, 'network-interface'), ...ctx.subnetArns, ...ctx.securityGroupArns],
      }),
      statement({
        actions: ['ec2:CreateTags'],
        resources: [ec2Arn(ctx, 'instance'), ec2Arn(ctx, 'volume'), ec2Arn(ctx, 'network-interface')],
        conditions: { StringEquals: { 'ec2:CreateAction': 'RunInstances' } },
      }),
      statement({
        actions: ['iam:PassRole'],
        resources: [ctx.builderRoleArn],
        conditions: { StringEquals: { 'iam:PassedToService': 'ec2.amazonaws.com' } },
      }),
    ];
    if (ctx.kmsKeyArn) {
      statements.push(
        statement({
          actions: ['kms:GenerateDataKeyWithoutPlaintext', 'kms:Decrypt', 'kms:DescribeKey', 'kms:ReEncryptFrom', 'kms:ReEncryptTo'],
          resources: [ctx.kmsKeyArn],
          conditions: { StringEquals: { 'kms:ViaService': `ec2.${ctx.stack.region}.amazonaws.com` } },
        }),
        statement({
          actions: ['kms:CreateGrant'],
          resources: [ctx.kmsKeyArn],
          conditions: {
            StringEquals: { 'kms:ViaService': `ec2.${ctx.stack.region}.amazonaws.com` },
            Bool: { 'kms:GrantIsForAWSResource': 'true' },
          },
        }),
      );
    }
    return statements;
  },
  'ec2:StopInstances': (ctx) => [
    statement({ actions: ['ec2:StopInstances'], resources: [ec2Arn(ctx, 'instance')], conditions: { StringEquals: managed } }),
  ],
  'ec2:TerminateInstances': (ctx) => [
    statement({ actions: ['ec2:TerminateInstances'], resources: [ec2Arn(ctx, 'instance')], conditions: { StringEquals: managed } }),
  ],
  'ec2:CreateSnapshot': (ctx) => [
    statement({ actions: ['ec2:CreateSnapshot'], resources: [ec2Arn(ctx, 'volume')], conditions: { StringEquals: managed } }),
    statement({ actions: ['ec2:CreateSnapshot'], resources: [ec2Arn(ctx, 'snapshot', false)], conditions: { StringEquals: requestManaged } }),
    statement({
      actions: ['ec2:CreateTags'],
      resources: [ec2Arn(ctx, 'snapshot', false)],
      conditions: { StringEquals: { 'ec2:CreateAction': 'CreateSnapshot' } },
    }),
  ],
  'ec2:DeleteSnapshot': (ctx) => [
    statement({ actions: ['ec2:DeleteSnapshot'], resources: snapshotArns(ctx), conditions: { StringEquals: managed } }),
  ],
  // Enable/DisableFastSnapshotRestores are authorized on the snapshot (resource type snapshot, aws:ResourceTag/*;
  // list_amazonec2.html): only the factory's own snapshots.
  'ec2:EnableFastSnapshotRestores': (ctx) => [
    statement({ actions: ['ec2:EnableFastSnapshotRestores'], resources: [ec2Arn(ctx, 'snapshot', false)], conditions: { StringEquals: managed } }),
  ],
  'ec2:DisableFastSnapshotRestores': (ctx) => [
    statement({ actions: ['ec2:DisableFastSnapshotRestores'], resources: [ec2Arn(ctx, 'snapshot', false)], conditions: { StringEquals: managed } }),
  ],
  'ec2:DescribeSnapshotAttribute': (ctx) => [
    statement({ actions: ['ec2:DescribeSnapshotAttribute'], resources: snapshotArns(ctx), conditions: { StringEquals: managed } }),
  ],
  // Service Authorization Reference (list_amazonec2.html, ModifySnapshotAttribute): ec2:Add/userId, ec2:Add/group,
  // ec2:Remove/userId and ec2:Remove/group are single-valued (String): the handlers send one account per call.
  // Adding: only the factory's own snapshots, only the configured accounts, never a group (`all` is public).
  // Removing: any account, but a removal may not also add anything.
  'ec2:ModifySnapshotAttribute': (ctx) => [
    ...((ctx.shareAccountIds ?? []).length > 0
      ? [
          statement({
            sid: 'ShareWithConfiguredAccounts',
            actions: ['ec2:ModifySnapshotAttribute'],
            resources: snapshotArns(ctx),
            conditions: {
              StringEquals: { ...managed, 'ec2:Add/userId': [...ctx.shareAccountIds!] },
              Null: { 'ec2:Add/group': 'true', 'ec2:Remove/userId': 'true', 'ec2:Remove/group': 'true' },
            },
          }),
        ]
      : []),
    statement({
      sid: 'WithdrawShares',
      actions: ['ec2:ModifySnapshotAttribute'],
      resources: snapshotArns(ctx),
      conditions: { StringEquals: managed, Null: { 'ec2:Add/userId': 'true', 'ec2:Add/group': 'true', 'ec2:Remove/userId': 'false' } },
    }),
  ],
  // publish-snapshot tags an existing snapshot (digest set, publish time): only the factory's own snapshots.
  'ec2:CreateTags': (ctx) => [
    statement({ actions: ['ec2:CreateTags'], resources: snapshotArns(ctx), conditions: { StringEquals: managed } }),
  ],
  // Service Authorization Reference (list_amazonec2.html, CopySnapshot): resource type snapshot, whose permissions
  // "apply to both the snapshot copy and the source snapshot"; its condition keys include aws:RequestTag/* but not
  // aws:ResourceTag/*, so the request's tags are what scopes it: only a copy tagged as the factory's. Tagging at
  // creation is ec2:CreateTags with ec2:CreateAction = CopySnapshot. A customer key of a copy region is used by EC2
  // of that region (kms:ViaService), as the data volume's key is by RunInstances.
  'ec2:CopySnapshot': (ctx) => [
    statement({ actions: ['ec2:CopySnapshot'], resources: snapshotArns(ctx), conditions: { StringEquals: requestManaged } }),
    ...((ctx.copyRegions ?? []).length > 0
      ? [statement({ actions: ['ec2:CreateTags'], resources: snapshotArns(ctx).slice(1), conditions: { StringEquals: { 'ec2:CreateAction': 'CopySnapshot' } } })]
      : []),
    ...(ctx.copyKmsKeyArns ?? []).flatMap((key) => {
      const via = { 'kms:ViaService': `ec2.${key.split(':')[3]}.amazonaws.com` };
      return [
        statement({ actions: ['kms:GenerateDataKeyWithoutPlaintext', 'kms:Decrypt', 'kms:DescribeKey', 'kms:ReEncryptFrom', 'kms:ReEncryptTo'], resources: [key], conditions: { StringEquals: via } }),
        statement({ actions: ['kms:CreateGrant'], resources: [key], conditions: { StringEquals: via, Bool: { 'kms:GrantIsForAWSResource': 'true' } } }),
      ];
    }),
  ],
  'ssm:GetParameter': (ctx) => readParameters('ssm:GetParameter', ctx),
  'ssm:GetParameters': (ctx) => readParameters('ssm:GetParameters', ctx),
  'ssm:PutParameter': (ctx) => [
    statement({ actions: ['ssm:PutParameter'], resources: [...ctx.ownParameterArns, ...(ctx.resultParameterArns ?? [])] }),
  ],
  'ssm:SendCommand': (ctx) => [
    statement({
      actions: ['ssm:SendCommand'],
      resources: [ctx.stack.formatArn({ service: 'ssm', account: '', resource: 'document', resourceName: 'AWS-RunShellScript', arnFormat: ArnFormat.SLASH_RESOURCE_NAME })],
    }),
    statement({
      actions: ['ssm:SendCommand'],
      resources: [ec2Arn(ctx, 'instance')],
      conditions: { StringEquals: { [`ssm:resourceTag/${TAG_MANAGED}`]: 'true' } },
    }),
  ],
  'events:PutEvents': (ctx) => [
    statement({
      actions: ['events:PutEvents'],
      resources: [undefined, ...(ctx.copyRegions ?? [])].map((region) =>
        ctx.stack.formatArn({ service: 'events', region, resource: 'event-bus', resourceName: 'default', arnFormat: ArnFormat.SLASH_RESOURCE_NAME }),
      ),
      // events:source is multivalued (ArrayOfString in the Service Authorization Reference, list_amazoneventbridge.html):
      // IAM needs a set operator for it ("Single-valued vs. multivalued context keys", IAM User Guide); a plain
      // StringEquals never matches. ForAllValues, with Null=false so a request without any source is not let through.
      conditions: { 'ForAllValues:StringEquals': { 'events:source': 'snapshot-factory' }, Null: { 'events:source': 'false' } },
    }),
  ],
  'ecr:BatchGetImage': (ctx) => [statement({ actions: ['ecr:BatchGetImage'], resources: [...ctx.ecrRepositoryArns] })],
  'ecr:DescribeImages': (ctx) => [statement({ actions: ['ecr:DescribeImages'], resources: [...ctx.ecrRepositoryArns] })],
  'ecr:GetAuthorizationToken': anyResource('ecr:GetAuthorizationToken'),
  'states:StartExecution': (ctx) => [statement({ actions: ['states:StartExecution'], resources: [required(ctx.stateMachineArn, 'states:StartExecution')] })],
  // ListExecutions is authorized on the state machine whose executions it lists (Service Authorization Reference,
  // list_awsstepfunctions.html: resource type stateMachine).
  'states:ListExecutions': (ctx) => [statement({ actions: ['states:ListExecutions'], resources: [required(ctx.stateMachineArn, 'states:ListExecutions')] })],
  'states:GetExecutionHistory': (ctx) => [
    statement({ actions: ['states:GetExecutionHistory'], resources: [required(ctx.executionArnPattern, 'states:GetExecutionHistory')] }),
  ],
  'states:DescribeExecution': (ctx) => [
    statement({ actions: ['states:DescribeExecution'], resources: [required(ctx.executionArnPattern, 'states:DescribeExecution')] }),
  ],
};

const required = (value: string | undefined, action: string): string => {
  if (!value) throw new Error(`${action} is scoped to the factory's state machine, which a state-machine stage cannot reference (it would be a cycle)`);
  return value;
};

/** The scoped statements granting `actions` (and their implicit permissions). */
export const statementsFor = (name: FunctionName, ctx: ScopeContext): iam.PolicyStatement[] =>
  FUNCTION_ACTIONS[name].flatMap((action) => {
    const scope = SCOPES[action];
    if (!scope) throw new Error(`No IAM scope is defined for ${action} (function ${name}): add one to infra/permissions.ts`);
    return scope(ctx);
  });
