/**
 * "Deploys" the synthesized template into the simulated account: gives every resource a physical ID and ARN
 * and resolves the intrinsics of what the simulation reads: IAM roles and their policies, the builder's
 * instance profile, the Lambda functions (role, environment), the state machine, the factory's subnets and
 * security group.
 *
 * Physical names follow CloudFormation's generated-name rule ("Name type", AWS CloudFormation User Guide,
 * https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-name.html): stack name, logical
 * ID and a random suffix, cut to the type's length limit; here the suffix is a hash of the logical ID, so a
 * deployment is the same on every run. What each type's `Ref` and `Fn::GetAtt` return is from its resource
 * page ("Return values"). A Ref or attribute of any other type throws, naming it.
 */
import { createHash } from 'node:crypto';
import { resolveIntrinsics, UnsupportedIntrinsicError, type ResolverContext } from './intrinsics';
import { managedPolicyDocument } from './managed-policies';
import { synthesizedTemplate, type SynthesizedStack } from './template';

/** An IAM policy document, intrinsics resolved. */
export interface PolicyDocument {
  Version?: string;
  Statement: Record<string, unknown>[] | Record<string, unknown>;
}

export interface DeployedRole {
  logicalId: string;
  name: string;
  arn: string;
  /** Inline policies (AWS::IAM::Policy, the role's Policies) and managed policies (by ARN), resolved. */
  policies: { name: string; document: PolicyDocument }[];
}

export interface DeployedFunction {
  /** File name in functions/, e.g. `launch-instance` (from the function's Description). */
  name: string;
  logicalId: string;
  functionName: string;
  arn: string;
  role: DeployedRole;
  environment: Record<string, string>;
  /** The function's Timeout in seconds; CloudFormation's default is 3 (AWS::Lambda::Function, Timeout). */
  timeoutSeconds: number;
  /** The function's MemorySize in MB; CloudFormation's default is 128 (AWS::Lambda::Function, MemorySize). */
  memoryMb: number;
}

export interface DeployedInstanceProfile {
  name: string;
  arn: string;
  role: DeployedRole;
}

/** The factory as the simulated account holds it after deploy. */
export interface Deployment {
  accountId: string;
  region: string;
  stackName: string;
  roles: DeployedRole[];
  /** By file name in functions/. */
  functions: Record<string, DeployedFunction>;
  instanceProfiles: DeployedInstanceProfile[];
  stateMachine?: { name: string; arn: string };
  /** EventBridge rules with an event pattern (not schedules), and the factory functions they invoke. */
  eventRules: DeployedEventRule[];
  subnetIds: string[];
  securityGroupIds: string[];
  vpcIds: string[];
}

export interface DeployedEventRule {
  logicalId: string;
  /** The rule's EventPattern, intrinsics resolved. */
  eventPattern: Record<string, unknown>;
  /** File names in functions/ of the Lambda targets (the whole event is their input: no Input or InputPath). */
  functionTargets: string[];
  /** ARNs of SNS topic targets (the failure notification topic): recorded, their delivery is not modelled. */
  topicTargets: string[];
}

type Resources = SynthesizedStack['template']['Resources'];

const suffix = (logicalId: string, length = 12): string =>
  createHash('sha256').update(logicalId).digest('hex').toUpperCase().slice(0, length);
const hex17 = (logicalId: string): string => createHash('sha256').update(logicalId).digest('hex').slice(0, 17);

/** `<stack>-<logical ID>-<suffix>`, the logical ID cut so the whole fits `max` characters. */
const generatedName = (stackName: string, logicalId: string, max: number): string => {
  const tail = `-${suffix(logicalId)}`;
  const head = `${stackName}-${logicalId}`;
  return head.slice(0, max - tail.length) + tail;
};

/** Physical ID (what Ref returns) and attributes of one resource, per type. */
const physical = (stackName: string, logicalId: string, resource: Resources[string], account: string, region: string) => {
  const p = resource.Properties ?? {};
  const literal = (value: unknown) => (typeof value === 'string' ? value : undefined);
  switch (resource.Type) {
    case 'AWS::IAM::Role': {
      const name = literal(p.RoleName) ?? generatedName(stackName, logicalId, 64);
      return { ref: name, attributes: { Arn: `arn:aws:iam::${account}:role${literal(p.Path) ?? '/'}${name}`, RoleId: `AROA${suffix(logicalId, 17)}` } };
    }
    case 'AWS::IAM::InstanceProfile': {
      const name = literal(p.InstanceProfileName) ?? generatedName(stackName, logicalId, 128);
      return { ref: name, attributes: { Arn: `arn:aws:iam::${account}:instance-profile${literal(p.Path) ?? '/'}${name}` } };
    }
    case 'AWS::IAM::ManagedPolicy': {
      const name = literal(p.ManagedPolicyName) ?? generatedName(stackName, logicalId, 128);
      const arn = `arn:aws:iam::${account}:policy/${name}`;
      return { ref: arn, attributes: { PolicyArn: arn } };
    }
    case 'AWS::IAM::Policy':
      return { ref: `${stackName}-${suffix(logicalId)}`, attributes: {} };
    case 'AWS::Lambda::Function': {
      const name = literal(p.FunctionName) ?? generatedName(stackName, logicalId, 64);
      return { ref: name, attributes: { Arn: `arn:aws:lambda:${region}:${account}:function:${name}` } };
    }
    case 'AWS::StepFunctions::StateMachine': {
      const name = literal(p.StateMachineName) ?? `${logicalId}-${suffix(logicalId)}`;
      const arn = `arn:aws:states:${region}:${account}:stateMachine:${name}`;
      return { ref: arn, attributes: { Arn: arn, Name: name } };
    }
    case 'AWS::Logs::LogGroup': {
      const name = literal(p.LogGroupName) ?? generatedName(stackName, logicalId, 512);
      return { ref: name, attributes: { Arn: `arn:aws:logs:${region}:${account}:log-group:${name}:*` } };
    }
    case 'AWS::EC2::VPC':
      return { ref: `vpc-${hex17(logicalId)}`, attributes: { VpcId: `vpc-${hex17(logicalId)}` } };
    case 'AWS::EC2::Subnet':
      return { ref: `subnet-${hex17(logicalId)}`, attributes: { SubnetId: `subnet-${hex17(logicalId)}` } };
    case 'AWS::EC2::SecurityGroup':
      // In a VPC, Ref returns the group ID (AWS::EC2::SecurityGroup, "Return values").
      return { ref: `sg-${hex17(logicalId)}`, attributes: { GroupId: `sg-${hex17(logicalId)}` } };
    case 'AWS::KMS::Key': {
      const id = [8, 4, 4, 4, 12].map((n, i) => hex17(`${logicalId}${i}`).slice(0, n)).join('-');
      return { ref: id, attributes: { Arn: `arn:aws:kms:${region}:${account}:key/${id}`, KeyId: id } };
    }
    case 'AWS::SNS::Topic': {
      // Ref returns the topic ARN (AWS::SNS::Topic, "Return values"); generated names are cut to 256 characters.
      const name = literal(p.TopicName) ?? generatedName(stackName, logicalId, 256);
      const arn = `arn:aws:sns:${region}:${account}:${name}`;
      return { ref: arn, attributes: { TopicArn: arn, TopicName: name } };
    }
    case 'AWS::Events::Rule': {
      const name = literal(p.Name) ?? generatedName(stackName, logicalId, 64);
      return { ref: name, attributes: { Arn: `arn:aws:events:${region}:${account}:rule/${name}` } };
    }
    default:
      return undefined;
  }
};

const asArray = <T>(value: T | T[] | undefined): T[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

/**
 * Deploys `stack` into the account `accountId`/`region` of the simulation.
 *
 * @example deploy(synthesizedTemplate()).functions['launch-instance'].role.policies
 */
export const deploy = (stack: SynthesizedStack, options: { accountId?: string; region?: string } = {}): Deployment => {
  const accountId = options.accountId ?? '111122223333';
  const region = options.region ?? 'us-west-2';
  const { Resources: resources, Mappings, Parameters } = stack.template;
  const resourceOf = (logicalId: string, where: string) => {
    const resource = resources[logicalId];
    if (!resource) throw new UnsupportedIntrinsicError(`${where}: no resource ${logicalId} in the template`);
    const ids = physical(stack.stackName, logicalId, resource, accountId, region);
    if (!ids) throw new UnsupportedIntrinsicError(`${where}: the simulated deploy gives no physical ID to ${resource.Type} (${logicalId}); add the type to simulation/deploy/deployment.ts`);
    return ids;
  };
  const ctx: ResolverContext = {
    accountId,
    region,
    partition: 'aws',
    urlSuffix: 'amazonaws.com',
    stackName: stack.stackName,
    mappings: Mappings,
    parameters: Parameters,
    ref: (logicalId, where) => resourceOf(logicalId, where).ref,
    getAtt: (logicalId, attribute, where) => {
      const value = (resourceOf(logicalId, where).attributes as Record<string, string>)[attribute];
      if (value === undefined) throw new UnsupportedIntrinsicError(`${where}: attribute ${attribute} of ${resources[logicalId]!.Type} (${logicalId}) is not supported`);
      return value;
    },
  };
  const resolve = <T>(value: unknown, where: string): T => resolveIntrinsics(value, ctx, where) as T;
  const ofType = (type: string) => Object.entries(resources).filter(([, resource]) => resource.Type === type);

  const roles = new Map<string, DeployedRole>();
  for (const [logicalId, resource] of ofType('AWS::IAM::Role')) {
    const p = resource.Properties ?? {};
    const policies: DeployedRole['policies'] = asArray(p.Policies as { PolicyName: unknown; PolicyDocument: unknown }[]).map((policy, i) => ({
      name: resolve<string>(policy.PolicyName, `${logicalId}.Policies[${i}].PolicyName`),
      document: resolve<PolicyDocument>(policy.PolicyDocument, `${logicalId}.Policies[${i}].PolicyDocument`),
    }));
    for (const [i, arn] of resolve<string[]>(asArray(p.ManagedPolicyArns), `${logicalId}.ManagedPolicyArns`).entries()) {
      const customer = ofType('AWS::IAM::ManagedPolicy').find(([id]) => resourceOf(id, logicalId).ref === arn);
      const document = customer
        ? resolve<PolicyDocument>(customer[1].Properties.PolicyDocument, `${customer[0]}.PolicyDocument`)
        : managedPolicyDocument(arn, `${logicalId}.ManagedPolicyArns[${i}]`);
      policies.push({ name: arn, document });
    }
    const { ref: name, attributes } = resourceOf(logicalId, logicalId);
    roles.set(logicalId, { logicalId, name, arn: attributes.Arn!, policies });
  }
  const roleRef = (value: unknown, where: string): DeployedRole => {
    const logicalId = (value as { Ref?: string }).Ref ?? (value as { 'Fn::GetAtt'?: [string, string] })['Fn::GetAtt']?.[0];
    const role = logicalId ? roles.get(logicalId) : undefined;
    if (!role) throw new UnsupportedIntrinsicError(`${where}: expected a Ref or GetAtt of a role of this template, got ${JSON.stringify(value)}`);
    return role;
  };
  // Policies attach to roles (AWS::IAM::Policy Roles; customer managed policies' Roles).
  for (const type of ['AWS::IAM::Policy', 'AWS::IAM::ManagedPolicy']) {
    for (const [logicalId, resource] of ofType(type)) {
      const p = resource.Properties;
      const document = resolve<PolicyDocument>(p.PolicyDocument, `${logicalId}.PolicyDocument`);
      for (const [i, ref] of asArray(p.Roles).entries()) {
        roleRef(ref, `${logicalId}.Roles[${i}]`).policies.push({ name: (p.PolicyName as string | undefined) ?? logicalId, document });
      }
    }
  }

  const functions: Record<string, DeployedFunction> = {};
  for (const [logicalId, resource] of ofType('AWS::Lambda::Function')) {
    const p = resource.Properties;
    const name = /functions\/([a-z0-9-]+)\.ts/.exec(String(p.Description ?? ''))?.[1];
    if (!name) continue; // not one of the factory's handlers (e.g. a CDK custom resource provider)
    const { ref: functionName, attributes } = resourceOf(logicalId, logicalId);
    functions[name] = {
      name,
      logicalId,
      functionName,
      arn: attributes.Arn!,
      role: roleRef(p.Role, `${logicalId}.Role`),
      environment: resolve<Record<string, string>>(p.Environment?.Variables ?? {}, `${logicalId}.Environment.Variables`),
      timeoutSeconds: Number(p.Timeout ?? 3),
      memoryMb: Number(p.MemorySize ?? 128),
    };
  }
  const instanceProfiles = ofType('AWS::IAM::InstanceProfile').map(([logicalId, resource]) => {
    const [role, ...more] = asArray(resource.Properties.Roles);
    if (!role || more.length) throw new Error(`${logicalId}: an instance profile holds exactly one role (IAM quota), found ${asArray(resource.Properties.Roles).length}`);
    const { ref: name, attributes } = resourceOf(logicalId, logicalId);
    return { name, arn: attributes.Arn!, role: roleRef(role, `${logicalId}.Roles[0]`) };
  });
  const machine = ofType('AWS::StepFunctions::StateMachine')[0];
  const stateMachine = machine ? (() => { const ids = resourceOf(machine[0], machine[0]); return { name: ids.attributes.Name!, arn: ids.ref }; })() : undefined;
  const eventRules = ofType('AWS::Events::Rule')
    .filter(([, resource]) => resource.Properties?.EventPattern)
    .map(([logicalId, resource]): DeployedEventRule => {
      const targets = resolve<{ Arn: string; Input?: unknown; InputPath?: unknown; InputTransformer?: unknown }[]>(asArray(resource.Properties.Targets), `${logicalId}.Targets`);
      const functionTargets: string[] = [];
      const topicTargets: string[] = [];
      for (const [i, target] of targets.entries()) {
        if (target.Input !== undefined || target.InputPath !== undefined || target.InputTransformer !== undefined) {
          throw new UnsupportedIntrinsicError(`${logicalId}.Targets[${i}]: the simulation delivers the whole event; Input, InputPath and InputTransformer are not modelled`);
        }
        if (/^arn:aws:sns:/.test(target.Arn)) {
          topicTargets.push(target.Arn);
          continue;
        }
        const fn = Object.values(functions).find((f) => f.arn === target.Arn);
        if (!fn) throw new UnsupportedIntrinsicError(`${logicalId}.Targets[${i}]: ${target.Arn} is not one of the factory's functions`);
        functionTargets.push(fn.name);
      }
      return { logicalId, eventPattern: resolve<Record<string, unknown>>(resource.Properties.EventPattern, `${logicalId}.EventPattern`), functionTargets, topicTargets };
    });
  return {
    accountId,
    region,
    stackName: stack.stackName,
    eventRules,
    roles: [...roles.values()],
    functions,
    instanceProfiles,
    stateMachine,
    subnetIds: ofType('AWS::EC2::Subnet').map(([id]) => resourceOf(id, id).ref),
    securityGroupIds: ofType('AWS::EC2::SecurityGroup').map(([id]) => resourceOf(id, id).ref),
    vpcIds: ofType('AWS::EC2::VPC').map(([id]) => resourceOf(id, id).ref),
  };
};

const deployments = new WeakMap<SynthesizedStack, Map<string, Deployment>>();

/** The default deployment (cdk.json's settings) in the given account, memoized per process and template. */
export const defaultDeployment = (options: { accountId?: string; region?: string } = {}): Deployment => {
  const stack = synthesizedTemplate();
  const byAccount = deployments.get(stack) ?? new Map<string, Deployment>();
  deployments.set(stack, byAccount);
  const accountId = options.accountId ?? '111122223333';
  const region = options.region ?? 'us-west-2';
  const key = `${accountId}/${region}`;
  let deployment = byAccount.get(key);
  if (!deployment) {
    deployment = deploy(stack, { accountId, region });
    byAccount.set(key, deployment);
  }
  return deployment;
};
