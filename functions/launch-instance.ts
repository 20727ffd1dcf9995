/**
 * State `LaunchInstance`: starts the one Bottlerocket builder instance of a per-architecture build.
 *
 * Throws `AmiNotFoundError` (the AMI parameter is missing or holds no AMI ID), `InstanceCapacityError` (every
 * instance type was refused for capacity, support or quota in every subnet), `InvalidInputError` (every type has the wrong
 * architecture for the AMI), `TransientAwsError` (retryable), `AccessDeniedError`, `AwsRequestError`.
 */
import { createHash } from 'node:crypto';
import { DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import { RunInstancesCommand, type RunInstancesCommandInput, type _InstanceType } from '@aws-sdk/client-ec2';
import { GetParameterCommand } from '@aws-sdk/client-ssm';
import * as z from './lib/zod-mini';
import { ec2 } from './lib/clients/ec2';
import { ssm } from './lib/clients/ssm';
import { AmiNotFoundError, AwsRequestError, InstanceCapacityError, InvalidInputError, awsErrorCode, callAws } from './lib/errors';
import { logger } from './lib/logger';
import { buildTargetSchema, type BuildTarget, type LaunchedInstance } from './lib/schemas';
import { defineStage } from './lib/stage';
import { TAG_ARCHITECTURE, TAG_EXECUTION, factoryTags } from './lib/tags';

const inputSchema = z.object({ build: buildTargetSchema });
type Input = z.infer<typeof inputSchema>;

/**
 * EC2 error codes that refuse one instance type but may accept the next: no capacity in the AZ, type not offered
 * there, or an account quota (instance count or vCPUs) that a smaller type may still fit.
 */
export const NEXT_TYPE_ERROR_CODES = new Set([
  'InsufficientInstanceCapacity',
  'InsufficientCapacity',
  'Unsupported',
  'InstanceLimitExceeded',
  'VcpuLimitExceeded',
  'MaxSpotInstanceCountExceeded',
]);

/**
 * The control and admin host containers (SSM agent, `sheltie`) use the host's network namespace, so one hop is
 * enough; nothing on the builder runs in a bridged container that would need two.
 */
export const IMDS_HOP_LIMIT = 1;

/** Bottlerocket user data: only the admin host container, which the pull script reaches through `sheltie`. */
export const USER_DATA_TOML = '[settings.host-containers.admin]\nenabled = true\n';

/**
 * One request per instance type and subnet, so each attempt gets its own token: a retried launch of the same type in
 * the same subnet returns the instance the first attempt started, and a retry never starts a second one.
 */
export const clientTokenFor = (build: Pick<BuildTarget, 'executionName' | 'architecture'>, instanceType: string, subnetId?: string): string =>
  `sf-${createHash('sha256')
    .update(`${build.executionName}\n${build.architecture}\n${instanceType}${subnetId ? `\n${subnetId}` : ''}`)
    .digest('hex')
    .slice(0, 60)}`;

const isArchitectureMismatch = (code: string, message: string): boolean =>
  code === 'InvalidParameterValue' && /architecture/i.test(message);

const resolveAmi = async (parameter: string): Promise<string> => {
  let value: string | undefined;
  try {
    const out = await callAws(`ssm:GetParameter ${parameter}`, () => ssm.send(new GetParameterCommand({ Name: parameter })));
    value = out.Parameter?.Value;
  } catch (error) {
    const code = awsErrorCode((error as Error).cause);
    if (code === 'ParameterNotFound' || code === 'ParameterVersionNotFound') {
      throw new AmiNotFoundError(`AMI parameter ${parameter} does not exist in this region; check build.amiParameter (Kubernetes version, variant, architecture).`);
    }
    throw error;
  }
  if (!value || !/^ami-[0-9a-f]{8,17}$/.test(value)) {
    throw new AmiNotFoundError(`AMI parameter ${parameter} holds '${value ?? ''}', not an AMI ID.`);
  }
  return value;
};

/** A builder this execution already started (a retried or redriven launch): adopt it instead of starting another. */
const findExistingBuilder = async (build: BuildTarget): Promise<LaunchedInstance | undefined> => {
  const out = await callAws(`ec2:DescribeInstances for ${build.executionName}/${build.architecture}`, () =>
    ec2.send(
      new DescribeInstancesCommand({
        Filters: [
          { Name: `tag:${TAG_EXECUTION}`, Values: [build.executionName] },
          { Name: `tag:${TAG_ARCHITECTURE}`, Values: [build.architecture] },
          { Name: 'instance-state-name', Values: ['pending', 'running'] },
        ],
      }),
    ),
  );
  const instance = (out.Reservations ?? []).flatMap((r) => r.Instances ?? [])[0];
  if (!instance?.InstanceId || !instance.ImageId) return undefined;
  return {
    instanceId: instance.InstanceId,
    instanceType: instance.InstanceType ?? 'unknown',
    amiId: instance.ImageId,
    launchedAt: (instance.LaunchTime ?? new Date()).toISOString(),
  };
};

const runInstancesInput = (build: BuildTarget, amiId: string, instanceType: string, subnetId: string | undefined): RunInstancesCommandInput => {
  const name = `snapshot-factory-${build.recipe}-${build.architecture}`;
  const tags = factoryTags(build, name);
  return {
    ImageId: amiId,
    InstanceType: instanceType as _InstanceType,
    MinCount: 1,
    MaxCount: 1,
    ClientToken: clientTokenFor(build, instanceType, subnetId),
    UserData: Buffer.from(USER_DATA_TOML, 'utf8').toString('base64'),
    IamInstanceProfile: { Name: build.instanceProfileName },
    InstanceInitiatedShutdownBehavior: 'stop' as const,
    MetadataOptions: {
      HttpTokens: 'required' as const,
      HttpEndpoint: 'enabled' as const,
      HttpPutResponseHopLimit: IMDS_HOP_LIMIT,
    },
    BlockDeviceMappings: [
      {
        DeviceName: '/dev/xvda',
        Ebs: { VolumeSize: build.osVolume.sizeGiB, VolumeType: 'gp3' as const, Encrypted: true, DeleteOnTermination: true },
      },
      {
        DeviceName: '/dev/xvdb',
        Ebs: {
          VolumeSize: build.dataVolume.sizeGiB,
          VolumeType: 'gp3' as const,
          Iops: build.dataVolume.iops,
          Throughput: build.dataVolume.throughputMiBps,
          Encrypted: build.dataVolume.encrypted,
          ...(build.dataVolume.encrypted && build.dataVolume.kmsKeyArn ? { KmsKeyId: build.dataVolume.kmsKeyArn } : {}),
          DeleteOnTermination: true,
        },
      },
    ],
    // With a subnet the public-IP choice must be made on the network interface, which then also carries the groups.
    ...(subnetId
      ? {
          NetworkInterfaces: [
            {
              DeviceIndex: 0,
              SubnetId: subnetId,
              AssociatePublicIpAddress: build.associatePublicIp,
              DeleteOnTermination: true,
              ...(build.securityGroupIds.length ? { Groups: build.securityGroupIds } : {}),
            },
          ],
        }
      : build.securityGroupIds.length
        ? { SecurityGroupIds: build.securityGroupIds }
        : {}),
    TagSpecifications: [
      { ResourceType: 'instance' as const, Tags: tags },
      { ResourceType: 'volume' as const, Tags: tags },
      ...(subnetId ? [{ ResourceType: 'network-interface' as const, Tags: tags }] : []),
    ],
  };
};

const run = async ({ build }: Input): Promise<LaunchedInstance> => {
  const amiId = await resolveAmi(build.amiParameter);
  const existing = await findExistingBuilder(build);
  if (existing) {
    logger.info('adopting the builder this execution already started', { instanceId: existing.instanceId });
    return existing;
  }

  // Capacity is per Availability Zone: each type is tried in every subnet before the next type, keeping the
  // user's order of preference for types.
  const subnets: (string | undefined)[] = build.subnetIds.length ? build.subnetIds : [undefined];
  const refusals: { instanceType: string; subnetId?: string; reason: string; architecture: boolean }[] = [];
  for (const instanceType of build.instanceTypes) {
    for (const subnetId of subnets) {
      const where = subnetId ? ` in ${subnetId}` : '';
      try {
        const out = await callAws(`ec2:RunInstances ${instanceType}${where} with ${amiId}`, () =>
          ec2.send(new RunInstancesCommand(runInstancesInput(build, amiId, instanceType, subnetId))),
        );
        const instance = out.Instances?.[0];
        if (!instance?.InstanceId) throw new AwsRequestError(`RunInstances ${instanceType}${where} returned no instance.`);
        logger.info('builder launched', { instanceId: instance.InstanceId, instanceType, subnetId, amiId });
        return {
          instanceId: instance.InstanceId,
          instanceType,
          amiId,
          launchedAt: (instance.LaunchTime ?? new Date()).toISOString(),
        };
      } catch (error) {
        const cause = (error as Error).cause as Error | undefined;
        const code = awsErrorCode(cause);
        const message = cause?.message ?? '';
        const architecture = isArchitectureMismatch(code, message);
        if (!NEXT_TYPE_ERROR_CODES.has(code) && !architecture) throw error;
        logger.warn('instance type refused; trying the next', { instanceType, subnetId, code });
        refusals.push({ instanceType, subnetId, reason: `${code}: ${message}`, architecture });
        // The AMI's architecture does not change with the subnet.
        if (architecture) break;
      }
    }
  }

  const list = refusals.map((r) => `${r.instanceType}${r.subnetId ? ` in ${r.subnetId}` : ''} (${r.reason})`).join('; ');
  if (refusals.every((r) => r.architecture)) {
    throw new InvalidInputError(
      `no instance type in build.instanceTypes matches the ${build.architecture} AMI ${amiId}: ${list}. List ${build.architecture} instance types.`,
    );
  }
  throw new InstanceCapacityError(`every instance type was refused: ${list}. Add instance types to build.instanceTypes or subnets in other Availability Zones to build.subnetIds, or retry later.`);
};

/** Handler of the `LaunchInstance` state. */
export const handler = defineStage('launch-instance', inputSchema, run);
