/**
 * cdk-nag acknowledgements of the factory, each with its reason. Wildcard resources (AwsSolutions-IAM5) are
 * acknowledged one by one, and only when they match a pattern below: a new wildcard nobody thought about
 * still fails synth.
 */
import { Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { IConstruct } from 'constructs';
import { BOTTLEROCKET_HOST_CONTAINER_REPOSITORIES, bottlerocketEcrAccounts } from './bottlerocket-registries';

const REGION = String.raw`(?:<AWS::Region>|[a-z0-9-]+|\*)`;
const ACCOUNT = String.raw`(?:<AWS::AccountId>|\d{12}|\*)`;
const arn = (service: string, account: string, rest: string): RegExp =>
  new RegExp(String.raw`^arn:(?:<AWS::Partition>|aws[a-z-]*):${service}:${REGION}:${account}:${rest}$`);

/** Why each kind of wildcard resource is there (docs/security.md has the full model). */
export const WILDCARD_REASONS: ReadonlyArray<{ readonly pattern: RegExp; readonly reason: string }> = [
  {
    pattern: /^\*$/,
    reason:
      'Only for actions that support no resource-level permission: ec2:Describe*, ssm:DescribeInstanceInformation, ssm:GetCommandInvocation, ssm:ListCommandInvocations, ecr:GetAuthorizationToken, and the X-Ray / log-delivery calls of the state machine.',
  },
  {
    pattern: /^<[A-Za-z0-9]+\.Arn>:\*$/,
    reason: 'Step Functions may invoke the versions and aliases of this one function (the lambda:invoke integration grant), nothing else.',
  },
  {
    pattern: arn('ec2', `(?:${ACCOUNT})?`, String.raw`(?:instance|volume|snapshot|network-interface)/\*`),
    reason:
      'Builder instances, volumes, interfaces and snapshots get their IDs at run time; every mutating statement on them requires the snapshot-factory:managed tag (aws:RequestTag on create, aws:ResourceTag / ssm:resourceTag otherwise).',
  },
  {
    pattern: arn('ec2', '', String.raw`image/\*`),
    reason: 'The Bottlerocket AMI ID changes with every release; the statement requires ec2:Owner = amazon.',
  },
  {
    pattern: arn('ecr', ACCOUNT, String.raw`repository/.*\*.*`),
    reason: 'Repositories the builder may pull from, as configured by the ecrRepositoryArns setting (default: this account\'s repositories).',
  },
  {
    // Exactly Bottlerocket's registry accounts and its two host-container repositories; only the region is a wildcard.
    pattern: new RegExp(
      String.raw`^arn:<AWS::Partition>:ecr:\*:(?:${bottlerocketEcrAccounts().join('|')}):repository/(?:${BOTTLEROCKET_HOST_CONTAINER_REPOSITORIES.join('|')})$`,
    ),
    reason:
      "Bottlerocket's own registries (one account per region group, from Bottlerocket's schnauzer ECR map), from which host-ctr pulls the control container (SSM agent) and the admin container at boot with the instance role. Any region, because a region missing from Bottlerocket's map pulls from us-east-1's registry; read-only (BatchGetImage, GetDownloadUrlForLayer) on those two repositories only.",
  },
  {
    pattern: arn('ssm', '', String.raw`parameter/aws/service/bottlerocket/\*`),
    reason: 'Public Bottlerocket AMI parameters (one per Kubernetes version, flavour and architecture), read-only.',
  },
  {
    pattern: arn('ssm', ACCOUNT, String.raw`parameter/snapshot-factory/\*`),
    reason: 'The factory\'s own parameter prefix: one snapshot-id and one digest-set parameter per recipe and architecture.',
  },
  {
    pattern: arn('states', ACCOUNT, String.raw`execution:<[A-Za-z0-9]+\.Name>:\*`),
    reason: 'Executions of this factory\'s state machine only.',
  },
];

/** CloudFormation reference -> the flat text cdk-nag uses in finding IDs. */
const flatten = (node: unknown): string => {
  if (node === undefined) return '';
  if (typeof node === 'string') return node.replace(/\$\{/g, '<').replace(/\}/g, '>');
  const object = node as Record<string, unknown>;
  if (object['Fn::Join']) {
    const [delimiter, items] = object['Fn::Join'] as [string, unknown[]];
    return items.map(flatten).join(delimiter);
  }
  if (object['Fn::Sub']) return flatten(object['Fn::Sub']);
  if (object['Fn::GetAtt']) {
    const [resource, attribute] = object['Fn::GetAtt'] as [unknown, unknown];
    return `<${flatten(resource)}.${flatten(attribute)}>`;
  }
  if (object['Fn::ImportValue']) return flatten(object['Fn::ImportValue']);
  if (object.Ref) return `<${flatten(object.Ref)}>`;
  return JSON.stringify(node);
};

const asArray = <T>(value: T | T[] | undefined): T[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The result parameter (setting `resultParameterName`): its placeholders, and only those, are wildcards. */
export const resultParameterReason = (template: string): { readonly pattern: RegExp; readonly reason: string } => ({
  pattern: arn('ssm', ACCOUNT, `parameter${template.split(/\{recipe\}|\{architecture\}/).map(escape).join(String.raw`\*`)}`),
  reason: 'The result parameter named by the resultParameterName setting: its {recipe} and {architecture} placeholders (any recipe, hand-started ones too; either architecture), write only.',
});

/**
 * Acknowledges, on each IAM policy under `scope`, the wildcard resources that match {@link WILDCARD_REASONS}
 * (and the result parameter's, when `resultParameterName` is set).
 */
export const acknowledgeWildcardResources = (scope: IConstruct, resultParameterName?: string): void => {
  const reasons = resultParameterName ? [...WILDCARD_REASONS, resultParameterReason(resultParameterName)] : WILDCARD_REASONS;
  for (const node of scope.node.findAll()) {
    if (!(node instanceof iam.CfnPolicy)) continue;
    const document = Stack.of(node).resolve(node.policyDocument) as { Statement?: Array<{ Effect: string; Resource?: unknown }> };
    const resources = new Set(
      (document.Statement ?? []).filter((s) => s.Effect === 'Allow').flatMap((s) => asArray(s.Resource).map(flatten)),
    );
    for (const resource of resources) {
      if (!resource.includes('*')) continue;
      const known = reasons.find(({ pattern }) => pattern.test(resource));
      if (known) Validations.of(node).acknowledge({ id: `AwsSolutions::AwsSolutions-IAM5[Resource::${resource}]`, reason: known.reason });
    }
  }
};
