/**
 * `SnapshotFactory`: the whole factory as one construct, for this project's stack or anyone's CDK app.
 *
 * It creates the builder's instance role and profile, its network (unless given), one Lambda per stage,
 * the state machine from statemachine/snapshot-factory.asl.json, the hourly reaper and the recipe triggers,
 * and grants each piece only what its code calls (infra/permissions.ts).
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ArnFormat, CfnResource, Duration, Lazy, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { buildDefaultsSchema, type BuildDefaults } from '../functions/lib/build-defaults';
import { CHECK_TIMEOUT_SECONDS, POLLING_CHECKS } from '../functions/lib/poll-inside';
import type { RecipeSettings } from '../functions/lib/recipes';
import { PARAMETER_PREFIX } from '../functions/lib/current-snapshot';
import { RESULT_PARAMETER_ENV, resultParameterWildcard } from '../functions/lib/result-parameter';
import { InvalidSettingsError, copiesOf, parseSettings, shareAccountIdsOf, type SnapshotFactorySettings, type SnapshotFactorySettingsInput } from './config';
import { ALL_FUNCTIONS, STAGE_FUNCTIONS, statementsFor, type FunctionName, type ScopeContext } from './permissions';
import { HOST_CONTAINER_PULL_ACTIONS, hostContainerRepositoryArns } from './bottlerocket-registries';
import { BUNDLE_HANDLER, bundledCode } from './bundling';
import { acknowledgeWildcardResources } from './nag';
import { RecipeTriggers } from './recipe-triggers';
import { SnapshotLifecycle } from './snapshot-lifecycle';

const projectRoot = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The ASL definition deployed by default. */
export const DEFINITION_FILE = join(projectRoot, 'statemachine', 'snapshot-factory.asl.json');

/** `launch-instance` -> `LaunchInstance`: the name in `${LaunchInstanceFunctionArn}`. */
export const pascalCase = (kebab: string): string =>
  kebab
    .split('-')
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');

/**
 * Props of {@link SnapshotFactory}: the settings of docs/configuration.md. Every field is optional; the
 * defaults are filled and everything is validated in one place (infra/config.ts) when the construct is created.
 */
export interface SnapshotFactoryProps {
  /** Kubernetes version of the Bottlerocket variant the builder boots. @default '1.35' */
  readonly kubernetesVersion?: string;
  /** Bottlerocket variant. @default 'standard' */
  readonly variant?: 'standard' | 'nvidia' | 'fips';
  /** AMI SSM parameter path under /aws/service/bottlerocket/; `{arch}` becomes x86_64/arm64. @default - from kubernetesVersion and variant */
  readonly amiParameter?: string;
  /** Architectures built when an execution names none. @default ['x86_64'] */
  readonly architectures?: Array<'x86_64' | 'arm64'>;
  /** Snapshot layout when an execution names none. @default 'per-architecture' */
  readonly layout?: 'per-architecture' | 'combined';
  /** Instance types tried in order, per architecture. @default { x86_64: ['m7i.xlarge','m6i.xlarge','m5.xlarge'], arm64: ['m7g.xlarge','m6g.xlarge'] } */
  readonly instanceTypes?: { readonly x86_64?: string[]; readonly arm64?: string[] };
  /**
   * Data volume (/dev/xvdb, the snapshot's source): size, performance, encryption (the volumes and so the snapshots)
   * and the customer managed KMS key ARN. @default { sizeGiB: 100, iops: 4000, throughputMiBps: 1000, encrypted: true } and the account's aws/ebs key
   */
  readonly dataVolume?: {
    readonly sizeGiB?: number;
    readonly iops?: number;
    readonly throughputMiBps?: number;
    readonly encrypted?: boolean;
    readonly kmsKeyArn?: string;
  };
  /** OS volume size in GiB. @default 10 */
  readonly osVolumeSizeGiB?: number;
  /**
   * Existing IAM role name for the builder. It must trust ec2.amazonaws.com, allow SSM (AmazonSSMManagedInstanceCore),
   * `ecr:BatchGetImage` and `ecr:GetDownloadUrlForLayer` on Bottlerocket's bottlerocket-control and bottlerocket-admin
   * repositories (see docs/configuration.md) and the pulls of your images.
   * @default - a role with SSM core, Bottlerocket's host containers and ECR read only
   */
  readonly instanceRoleName?: string;
  /** VPC of `subnetIds` (to create the builder security group in). @default - none */
  readonly vpcId?: string;
  /** Subnets the builder may launch in, tried in order while EC2 reports no capacity. @default - a dedicated VPC with public subnets, no NAT */
  readonly subnetIds?: string[];
  /** Builder security groups. @default - one with no inbound rule and TCP 443 egress only */
  readonly securityGroupIds?: string[];
  /** Give the builder a public IP. @default - true in the factory's own VPC, false in given subnets */
  readonly associatePublicIp?: boolean;
  /** ECR repositories the builder (and digest resolution) may read. @default - every repository of this account */
  readonly ecrRepositoryArns?: string[];
  /** The pull: images pulled at once, and the SSM command's timeout. @default { concurrency: 4, commandTimeoutSeconds: 3600 } */
  readonly pull?: { readonly concurrency?: number; readonly commandTimeoutSeconds?: number };
  /** Time limits in seconds. @default { ssmOnlineSeconds: 600, pullSeconds: pull.commandTimeoutSeconds + 300, stopSeconds: 900, snapshotSeconds: 7200, executionSeconds: 14400 } */
  readonly limits?: {
    readonly ssmOnlineSeconds?: number;
    readonly pullSeconds?: number;
    readonly stopSeconds?: number;
    readonly snapshotSeconds?: number;
    /** @default 60 min per TiB of dataVolume.sizeGiB + 1800 */
    readonly fastSnapshotRestoreSeconds?: number;
    /** @default 3600 */
    readonly copySeconds?: number;
    readonly executionSeconds?: number;
  };
  /** Zones in which every new snapshot gets Fast Snapshot Restore before it becomes current (docs/configuration.md). @default - none */
  readonly fastSnapshotRestore?: { readonly availabilityZones: string[] };
  /** Regions every new snapshot is copied to before it is published, each with an optional KMS key ARN there (docs/configuration.md). @default - none */
  readonly copies?: { readonly region: string; readonly kmsKeyArn?: string }[];
  /** Retention of every log group, in days. @default 30 */
  readonly logRetentionDays?: number;
  /** Powertools log level. @default 'INFO' */
  readonly logLevel?: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
  /** Age after which the reaper terminates a builder, in hours. @default 6 */
  readonly reaperMaxAgeHours?: number;
  /** Age after which the reaper deletes a snapshot an ended execution never published, in hours. @default 24 */
  readonly reaperSnapshotGraceHours?: number;
  /** Build recipes (see docs/recipes.md). @default [] */
  readonly recipes?: RecipeSettings[];
  /** Extra tags on every resource builds create. @default {} */
  readonly tags?: Record<string, string>;
  /** Retention of superseded snapshots (docs/configuration.md, "Retention"). @default { keepSuperseded: 2, dryRun: false, pinnedSnapshotIds: [] } */
  readonly retention?: { readonly keepSuperseded?: number; readonly dryRun?: boolean; readonly pinnedSnapshotIds?: string[] };
  /** Accounts granted createVolumePermission on every published snapshot; needs kmsKeyArn when encrypted. @default - shared with no one */
  readonly sharing?: { readonly accountIds?: string[] };
  /** Email addresses subscribed to an SNS topic that receives every Snapshot Build Failed event. @default - no topic */
  readonly notifications?: { readonly emailAddresses?: string[] };
  /**
   * Extra SSM parameter publish-snapshot writes each snapshot ID to (the old script's -op), e.g.
   * `/platform/bottlerocket/{recipe}/{architecture}/snapshot-id`. @default - none: only the factory's own parameters
   */
  readonly resultParameterName?: string;
  /**
   * Where the props came from, named in validation errors.
   * @default 'SnapshotFactory props'
   */
  readonly settingsSource?: string;
  /**
   * ASL file of the state machine (a fork's own definition).
   * @default statemachine/snapshot-factory.asl.json of this project
   */
  readonly definitionFile?: string;
}

// Compile-time check: every prop is a setting of infra/config.ts.
const propsAreSettings = (props: Omit<SnapshotFactoryProps, 'settingsSource' | 'definitionFile'>): SnapshotFactorySettingsInput => props;
void propsAreSettings;

/** The defaults prepare-build applies to every execution (env FACTORY_DEFAULTS), in buildDefaultsSchema's shape. */
export const factoryDefaults = (
  settings: SnapshotFactorySettings,
  network: { instanceProfileName: string; subnetIds: string[]; securityGroupIds: string[]; associatePublicIp: boolean },
): BuildDefaults => ({
  architectures: settings.architectures,
  layout: settings.layout,
  combinedArchitecture: settings.architectures[0] ?? 'x86_64',
  kubernetesVersion: settings.kubernetesVersion,
  variant: settings.variant,
  ...(settings.amiParameter ? { amiParameter: settings.amiParameter } : {}),
  instanceTypes: settings.instanceTypes,
  instanceProfileName: network.instanceProfileName,
  subnetIds: network.subnetIds,
  securityGroupIds: network.securityGroupIds,
  associatePublicIp: network.associatePublicIp,
  osVolumeSizeGiB: settings.osVolumeSizeGiB,
  dataVolume: settings.dataVolume,
  pull: settings.pull,
  // limits.executionSeconds: the definition's TimeoutSeconds is replaced by this same setting below, and
  // prepare-build checks waits against it.
  limits: settings.limits,
  ...(settings.fastSnapshotRestore ? { fastSnapshotRestore: settings.fastSnapshotRestore } : {}),
  ...(settings.copies ? { copies: settings.copies } : {}),
  tags: settings.tags,
  ...(settings.retention ? { retention: settings.retention } : {}),
  ...(settings.sharing ? { sharing: settings.sharing } : {}),
});

/**
 * Checks the deployed defaults against prepare-build's own schema at synth time. IDs of resources created in
 * this deployment are tokens until deploy, so a well-formed stand-in is checked in their place.
 */
const checkDefaults = (defaults: BuildDefaults, source: string): void => {
  const standIn = (value: string, sample: string) => (Token.isUnresolved(value) ? sample : value);
  const checkable = {
    ...defaults,
    instanceProfileName: standIn(defaults.instanceProfileName, 'snapshot-factory-builder'),
    subnetIds: defaults.subnetIds.map((id) => standIn(id, 'subnet-00000000')),
    securityGroupIds: defaults.securityGroupIds.map((id) => standIn(id, 'sg-00000000')),
  };
  const result = buildDefaultsSchema.safeParse(checkable);
  if (!result.success) {
    const issues = result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ');
    throw new InvalidSettingsError(`Invalid snapshot factory settings in ${source}: the workflow defaults they produce are rejected by prepare-build (${issues})`);
  }
};

/**
 * The Bottlerocket Snapshot Factory.
 *
 * @example
 * new SnapshotFactory(stack, 'Factory', { kubernetesVersion: '1.35', dataVolume: { sizeGiB: 200 } });
 */
export class SnapshotFactory extends Construct {
  /** Validated settings, defaults filled. */
  readonly settings: SnapshotFactorySettings;
  readonly stateMachine: sfn.StateMachine;
  /** Every function, by its file name in functions/. */
  readonly functions: Readonly<Record<FunctionName, lambda.Function>>;
  readonly builderRole: iam.IRole;
  readonly instanceProfile: iam.InstanceProfile;
  /** The VPC the factory created, when no subnets were given. */
  readonly vpc?: ec2.Vpc;

  constructor(scope: Construct, id: string, props: SnapshotFactoryProps = {}) {
    super(scope, id);
    const { settingsSource, definitionFile, ...rawSettings } = props;
    const source = settingsSource ?? 'SnapshotFactory props';
    const settings = parseSettings(rawSettings, source);
    this.settings = settings;
    const stack = Stack.of(this);
    const retention = settings.logRetentionDays as logs.RetentionDays;

    // Builder identity: SSM to be driven, ECR to pull private images; nothing else.
    const ecrRepositoryArns = settings.ecrRepositoryArns ?? [
      stack.formatArn({ service: 'ecr', region: '*', resource: 'repository', resourceName: '*', arnFormat: ArnFormat.SLASH_RESOURCE_NAME }),
    ];
    if (settings.instanceRoleName) {
      this.builderRole = iam.Role.fromRoleName(this, 'BuilderRole', settings.instanceRoleName, { mutable: false });
    } else {
      const role = new iam.Role(this, 'BuilderRole', {
        assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
        description: 'Bottlerocket snapshot builder: SSM Run Command, its host containers and ECR pulls only',
        managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('AmazonSSMManagedInstanceCore')],
      });
      role.addToPolicy(new iam.PolicyStatement({ actions: ['ecr:GetAuthorizationToken'], resources: ['*'] }));
      // At boot, host-ctr pulls the control container (the SSM agent) and the admin container from Bottlerocket's
      // own registries with this role: without this statement the SSM agent never starts (infra/bottlerocket-registries.ts).
      role.addToPolicy(
        new iam.PolicyStatement({
          sid: 'BottlerocketHostContainers',
          actions: [...HOST_CONTAINER_PULL_ACTIONS],
          resources: hostContainerRepositoryArns(),
        }),
      );
      role.addToPolicy(
        new iam.PolicyStatement({
          actions: ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchCheckLayerAvailability'],
          resources: ecrRepositoryArns,
        }),
      );
      this.builderRole = role;
    }
    this.instanceProfile = new iam.InstanceProfile(this, 'BuilderInstanceProfile', { role: this.builderRole });

    // Network: the user's subnets, or a small dedicated VPC (public subnets, no NAT gateway to pay for).
    let subnetIds: string[] = settings.subnetIds;
    let securityGroupIds: string[] = settings.securityGroupIds;
    let associatePublicIp = settings.associatePublicIp ?? false;
    if (subnetIds.length === 0) {
      const flowLogs = new logs.LogGroup(this, 'VpcFlowLogs', { retention, removalPolicy: RemovalPolicy.DESTROY });
      this.vpc = new ec2.Vpc(this, 'BuilderVpc', {
        ipAddresses: ec2.IpAddresses.cidr('10.80.0.0/22'),
        maxAzs: 2,
        natGateways: 0,
        subnetConfiguration: [{ name: 'builders', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24, mapPublicIpOnLaunch: false }],
        restrictDefaultSecurityGroup: false,
        flowLogs: { rejected: { destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogs), trafficType: ec2.FlowLogTrafficType.REJECT } },
      });
      subnetIds = this.vpc.publicSubnets.map((subnet) => subnet.subnetId);
      associatePublicIp = settings.associatePublicIp ?? true;
    }
    if (securityGroupIds.length === 0) {
      // No inbound rule at all (SSM needs none); outbound only HTTPS: SSM, ECR, S3 layers and registries.
      // DNS (VPC resolver) and time sync (169.254.169.123) are link-local and not filtered by groups.
      const group = new ec2.CfnSecurityGroup(this, 'BuilderSecurityGroup', {
        groupDescription: 'Snapshot builder: no inbound; HTTPS out to SSM, ECR and registries',
        vpcId: this.vpc?.vpcId ?? settings.vpcId!,
        securityGroupEgress: [
          { ipProtocol: 'tcp', fromPort: 443, toPort: 443, cidrIp: '0.0.0.0/0', description: 'HTTPS to SSM, ECR and container registries' },
        ],
      });
      securityGroupIds = [group.attrGroupId];
    }
    const defaults = factoryDefaults(settings, {
      instanceProfileName: this.instanceProfile.instanceProfileName,
      subnetIds,
      securityGroupIds,
      associatePublicIp,
    });
    checkDefaults(defaults, source);

    const copies = copiesOf(settings);
    // The factory's parameters in its own region and in every copy region (PublishSnapshot writes them there too).
    const ownParameterArns = [undefined, ...copies.regions].map((region) =>
      stack.formatArn({ service: 'ssm', region, resource: 'parameter', resourceName: `${PARAMETER_PREFIX.slice(1)}/*`, arnFormat: ArnFormat.SLASH_RESOURCE_NAME }),
    );
    // The template's placeholders become wildcards: any recipe (hand-started ones too), either architecture.
    const resultParameterArns = settings.resultParameterName
      ? [stack.formatArn({ service: 'ssm', resource: 'parameter', resourceName: resultParameterWildcard(settings.resultParameterName).slice(1), arnFormat: ArnFormat.SLASH_RESOURCE_NAME })]
      : [];
    const ec2ResourceArn = (type: string, resourceId: string) =>
      stack.formatArn({ service: 'ec2', resource: type, resourceName: resourceId, arnFormat: ArnFormat.SLASH_RESOURCE_NAME });
    const iamScope: ScopeContext = {
      stack,
      builderRoleArn: this.builderRole.roleArn,
      instanceProfileArn: this.instanceProfile.instanceProfileArn,
      subnetArns: subnetIds.map((subnet) => ec2ResourceArn('subnet', subnet)),
      securityGroupArns: securityGroupIds.map((group) => ec2ResourceArn('security-group', group)),
      kmsKeyArn: settings.dataVolume.kmsKeyArn,
      encrypted: settings.dataVolume.encrypted,
      ownParameterArns,
      resultParameterArns,
      ecrRepositoryArns,
      shareAccountIds: shareAccountIdsOf(settings),
      copyRegions: copies.regions,
      copyKmsKeyArns: copies.kmsKeyArns,
    };

    // Lambda caps a function's environment at 4 KB; fail at synth rather than in CloudFormation.
    const recipesJson = JSON.stringify(settings.recipes);
    if (recipesJson.length > 3584) {
      throw new InvalidSettingsError(
        `Invalid snapshot factory settings in ${source}:\n- setting "recipes" = ${settings.recipes.length} recipes, ${recipesJson.length} characters of JSON: expected at most 3584 (Lambda's 4 KB environment limit of start-build); move image lists into fewer or shorter recipes`,
      );
    }
    const environments: Partial<Record<FunctionName, Record<string, string>>> = {
      'prepare-build': { FACTORY_DEFAULTS: stack.toJsonString(defaults) },
      'reap-builders': {
        MAX_BUILDER_AGE_HOURS: String(settings.reaperMaxAgeHours),
        SNAPSHOT_GRACE_HOURS: String(settings.reaperSnapshotGraceHours),
        ...(copies.regions.length ? { COPY_REGIONS: copies.regions.join(',') } : {}),
      },
      // A status-change cleanup (timed-out, aborted executions) has no build state: it sweeps the copy regions too.
      ...(copies.regions.length ? { 'cleanup-build': { COPY_REGIONS: copies.regions.join(',') } } : {}),
      'start-build': { RECIPES: recipesJson },
      ...(settings.resultParameterName ? { 'publish-snapshot': { [RESULT_PARAMETER_ENV]: settings.resultParameterName } } : {}),
    };
    const timeouts: Partial<Record<FunctionName, Duration>> = {
      'prepare-build': Duration.seconds(60),
      'publish-snapshot': Duration.seconds(60),
      // One DeleteSnapshot per pruned snapshot and region, and a permission check per kept one.
      'apply-retention': Duration.seconds(120),
      'reap-builders': Duration.seconds(120),
      'start-build': Duration.seconds(60),
      // The build checks poll inside their invocation for up to a minute (functions/lib/poll-inside.ts).
      ...Object.fromEntries(POLLING_CHECKS.map((name) => [name, Duration.seconds(CHECK_TIMEOUT_SECONDS)])),
    };
    const createFunction = (name: FunctionName): lambda.Function => {
      const pascal = pascalCase(name);
      const logGroup = new logs.LogGroup(this, `${pascal}Logs`, { retention, removalPolicy: RemovalPolicy.DESTROY });
      const role = new iam.Role(this, `${pascal}Role`, {
        assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
        description: `snapshot-factory ${name}: only the calls functions/${name}.ts makes`,
      });
      // Bundled by esbuild in this process (infra/bundling.ts), not by NodejsFunction's one `npx esbuild` per function.
      const fn = new lambda.Function(this, `${pascal}Function`, {
        code: bundledCode(projectRoot, join(projectRoot, 'functions', `${name}.ts`)),
        handler: BUNDLE_HANDLER,
        runtime: lambda.Runtime.NODEJS_24_X,
        architecture: lambda.Architecture.ARM_64,
        memorySize: 256,
        timeout: timeouts[name] ?? Duration.seconds(30),
        role,
        logGroup,
        loggingFormat: lambda.LoggingFormat.JSON,
        description: `snapshot-factory: functions/${name}.ts`,
        environment: {
          POWERTOOLS_SERVICE_NAME: 'snapshot-factory',
          POWERTOOLS_LOG_LEVEL: settings.logLevel,
          ...environments[name],
        },
      });
      logGroup.grantWrite(role);
      omitDependencyImpliedByReference(fn.node.defaultChild as CfnResource, role.node.defaultChild as CfnResource);
      return fn;
    };
    const functions = Object.fromEntries(ALL_FUNCTIONS.map((name) => [name, createFunction(name)])) as Record<FunctionName, lambda.Function>;
    this.functions = functions;
    for (const name of STAGE_FUNCTIONS) grantAll(functions[name], statementsFor(name, iamScope));

    // The state machine, from the ASL file; every `${...}` in it must have a value.
    const aslFile = definitionFile ?? DEFINITION_FILE;
    const definition = readFileSync(aslFile, 'utf8');
    const substitutions: Record<string, string> = {
      ...Object.fromEntries(STAGE_FUNCTIONS.map((name) => [`${pascalCase(name)}FunctionArn`, functions[name].functionArn])),
    };
    const used = [...new Set([...definition.matchAll(/\$\{([A-Za-z0-9_]+)\}/g)].map((match) => match[1]!))];
    const missing = used.filter((key) => !(key in substitutions));
    if (missing.length > 0) {
      throw new Error(`${aslFile} uses substitutions that SnapshotFactory does not provide: ${missing.join(', ')}`);
    }
    const executionLogs = new logs.LogGroup(this, 'ExecutionLogs', {
      logGroupName: `/aws/vendedlogs/states/snapshot-factory-${stack.stackName}-${this.node.addr.slice(0, 8)}`,
      retention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      // The execution time limit is a setting: it replaces the definition's own top-level TimeoutSeconds.
      definitionBody: sfn.DefinitionBody.fromString(
        JSON.stringify({ ...(JSON.parse(definition) as object), TimeoutSeconds: settings.limits.executionSeconds }, null, 2),
      ),
      definitionSubstitutions: Object.fromEntries(used.map((key) => [key, substitutions[key]!])),
      stateMachineType: sfn.StateMachineType.STANDARD,
      tracingEnabled: true,
      // Execution data holds image lists and resource IDs only (registry credentials never enter the
      // workflow), but it is left out of the logs anyway: the console's execution history shows it to those
      // allowed to see it, the logs stay free of it.
      logs: { destination: executionLogs, level: sfn.LogLevel.ALL, includeExecutionData: false },
    });
    for (const name of STAGE_FUNCTIONS) functions[name].grantInvoke(this.stateMachine);
    omitDependencyImpliedByReference(this.stateMachine.node.defaultChild as CfnResource, this.stateMachine.role.node.defaultChild as CfnResource);

    // Outside the state machine: the trigger and the reaper, scoped to this state machine.
    const outsideScope: ScopeContext = {
      ...iamScope,
      stateMachineArn: this.stateMachine.stateMachineArn,
      executionArnPattern: stack.formatArn({
        service: 'states',
        resource: 'execution',
        resourceName: `${this.stateMachine.stateMachineName}:*`,
        arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      }),
    };
    grantAll(functions['start-build'], statementsFor('start-build', outsideScope));
    grantAll(functions['reap-builders'], statementsFor('reap-builders', outsideScope));
    grantAll(functions['notify-build-failure'], statementsFor('notify-build-failure', outsideScope));
    functions['start-build'].addEnvironment('STATE_MACHINE_ARN', this.stateMachine.stateMachineArn);
    functions['reap-builders'].addEnvironment('STATE_MACHINE_ARN', this.stateMachine.stateMachineArn);

    // A timed-out or aborted execution runs no Catch: Step Functions' own status-change event (sent to the default
    // bus, best effort: https://docs.aws.amazon.com/eventbridge/latest/ref/events-ref-states.html) runs the cleanup
    // within seconds; the reaper stays the backstop for a lost event. FAILED is included: cleanup is idempotent and
    // sweeps again what a failed Catch-path cleanup left.
    new events.Rule(this, 'ExecutionEndedCleanup', {
      description: 'snapshot-factory: clean up an execution that timed out, was aborted or failed',
      eventPattern: {
        source: ['aws.states'],
        detailType: ['Step Functions Execution Status Change'],
        detail: { status: ['FAILED', 'TIMED_OUT', 'ABORTED'], stateMachineArn: [this.stateMachine.stateMachineArn] },
      },
      targets: [new targets.LambdaFunction(functions['cleanup-build'], { retryAttempts: 2, maxEventAge: Duration.hours(1) })],
    });
    new SnapshotLifecycle(this, 'Lifecycle', {
      stateMachine: this.stateMachine,
      notifyFunction: functions['notify-build-failure'],
      emailAddresses: settings.notifications?.emailAddresses ?? [],
    });
    new events.Rule(this, 'ReaperSchedule', {
      description: 'snapshot-factory: terminate builders and delete unpublished snapshots left by ended executions',
      schedule: events.Schedule.rate(Duration.hours(1)),
      targets: [new targets.LambdaFunction(functions['reap-builders'])],
    });
    // start-build's StartExecution is granted above from the permissions table, like every other action.
    new RecipeTriggers(this, 'RecipeTriggers', {
      recipes: settings.recipes,
      startBuildFunction: functions['start-build'],
      stateMachine: this.stateMachine,
      grantStartExecution: false,
    });

    this.acknowledgeNagFindings();
  }

  /** cdk-nag findings that are deliberate, each with its reason (docs/security.md explains the model). */
  private acknowledgeNagFindings(): void {
    Validations.of(this).acknowledge({
      id: 'AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonSSMManagedInstanceCore]',
      reason: 'The builder instance must register with SSM to receive the pull command; this AWS managed policy is the documented minimum for that.',
    });
    acknowledgeWildcardResources(this, this.settings.resultParameterName);
  }
}

/**
 * Drops `target` from `resource`'s DependsOn, where a property of `resource` references `target` already (a
 * function's `Role`, a state machine's `RoleArn`): CloudFormation orders them by that reference, and cfn-lint
 * reports the redundant DependsOn CDK renders (W3005; aws/aws-cdk#24578). The dependency on the role's policy,
 * which no property implies, stays. Computed at synthesis, when CDK has turned construct dependencies into
 * resource ones.
 */
const omitDependencyImpliedByReference = (resource: CfnResource, target: CfnResource): void => {
  resource.addOverride(
    'DependsOn',
    Lazy.list(
      {
        produce: () =>
          resource
            .obtainDependencies()
            .filter((dependency): dependency is CfnResource => dependency instanceof CfnResource && dependency !== target)
            .map((dependency) => Stack.of(resource).resolve(dependency.logicalId) as string)
            .sort(),
      },
      { omitEmpty: true },
    ),
  );
};

const grantAll = (fn: lambda.IFunction, statements: iam.PolicyStatement[]): void => {
  for (const statement of statements) fn.addToRolePolicy(statement);
};
