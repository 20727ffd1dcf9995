/**
 * Simulated EC2: instances, volumes and snapshots whose states progress over (virtual) time, with
 * EC2's error codes for unknown IDs, wrong states and parameter limits the SDK does not check.
 *
 * State is computed lazily from `Date.now()`, so tests drive it with fake timers and nothing sleeps.
 *
 * Durations ({@link SimulatedEc2Options}, all in milliseconds of virtual time):
 * - `pendingMs` (20 s): pending -> running.
 * - `stoppingMs` (45 s): stopping -> stopped.
 * - `shuttingDownMs` (30 s): shutting-down -> terminated.
 * - `terminatedVisibleMs` (1 h): a terminated instance stays visible to DescribeInstances, then vanishes
 *   (DescribeInstances by ID then answers `InvalidInstanceID.NotFound`, as EC2 does).
 * - snapshots: `snapshotBaseMs` (30 s) + `snapshotMsPerGiB` (50 s) x GiB written to the volume
 *   (`defaultDataWrittenGiB` = 3 unless {@link SimulatedEc2.recordDataWritten} says otherwise): about 3 min.
 * - `pageLimit` (1000): with MaxResults (5-1000; not with IDs), DescribeInstances and DescribeSnapshots return at most
 *   min(MaxResults, pageLimit) items and a NextToken; without MaxResults they return everything, as EC2 does.
 *
 * Fault hooks (beyond `core.inject`, which fails whole requests):
 * - `refuseInstanceType(type, code?)`: RunInstances of that type fails with `InsufficientInstanceCapacity`
 *   (or `Unsupported`, `InstanceLimitExceeded`, `VcpuLimitExceeded`...) until `restoreInstanceType(type)`.
 * - `loseInstance(id, { vanish? })`: the instance terminates at once (`Server.InternalError`); with `vanish` it
 *   also disappears from DescribeInstances.
 * - `snapshotWillFail(message?)`: the next CreateSnapshot goes to `error` halfway through, with that StateMessage.
 * - `neverFinish(kind)`: `launch` (stays pending), `stop` (stays stopping), `terminate` (stays shutting-down),
 *   `snapshot` (stays pending at 99 %); `finishAgain(kind)` undoes it.
 *
 * Throttling: every request spends EC2's token buckets of the account and Region first (`throttling`,
 * simulation/aws/ec2-throttling.ts, from "Request throttling for the Amazon EC2 API"); an empty bucket answers
 * `RequestLimitExceeded` (HTTP 503).
 *
 * Queries for tests and invariants: `liveInstances()`, `snapshotsInError()`, `instanceState(id)`,
 * `runningSince(id)` (when the instance last reached `running`; the simulated SSM agent registers after it),
 * `registerImage(amiId, architecture)`.
 */
import { failRequest as fail, type SimulatedAwsCore } from './core';
import { Ec2Throttling } from './ec2-throttling';

export type InstanceStateName = 'pending' | 'running' | 'stopping' | 'stopped' | 'shutting-down' | 'terminated';
export type SimulatedArchitecture = 'x86_64' | 'arm64';
export type NeverFinishKind = 'launch' | 'stop' | 'terminate' | 'snapshot';

export interface SimulatedEc2Options {
  pendingMs?: number;
  stoppingMs?: number;
  shuttingDownMs?: number;
  terminatedVisibleMs?: number;
  snapshotBaseMs?: number;
  snapshotMsPerGiB?: number;
  defaultDataWrittenGiB?: number;
  /** Most items one Describe* page returns when MaxResults is given (EC2 may return fewer than asked, with a NextToken). */
  pageLimit?: number;
}

const DEFAULTS: Required<SimulatedEc2Options> = {
  pendingMs: 20_000,
  stoppingMs: 45_000,
  shuttingDownMs: 30_000,
  terminatedVisibleMs: 60 * 60_000,
  snapshotBaseMs: 30_000,
  snapshotMsPerGiB: 50_000,
  defaultDataWrittenGiB: 3,
  pageLimit: 1000,
};

const STATE_CODE: Record<InstanceStateName, number> = {
  pending: 0,
  running: 16,
  'shutting-down': 32,
  terminated: 48,
  stopping: 64,
  stopped: 80,
};

/** EC2's documented limits that the SDK does not check. */
export const EC2_LIMITS = {
  clientTokenLength: 64,
  snapshotDescriptionLength: 255,
  maxTags: 50,
  tagKeyLength: 128,
  tagValueLength: 256,
  userDataBytes: 16 * 1024,
  gp3: { minIops: 3000, maxIops: 80_000, iopsPerGiB: 500, minThroughput: 125, maxThroughput: 2000, throughputPerIops: 0.25, maxSizeGiB: 65_536 },
} as const;

interface Tag {
  Key: string;
  Value: string;
}

interface Transition {
  state: InstanceStateName;
  at: number;
}

export interface SimulatedInstance {
  InstanceId: string;
  InstanceType: string;
  ImageId: string;
  Architecture: SimulatedArchitecture;
  LaunchTime: Date;
  ClientToken?: string;
  ReservationId: string;
  Tags: Tag[];
  SubnetId?: string;
  SecurityGroupIds: string[];
  PublicIp: boolean;
  IamInstanceProfile?: { Name?: string; Arn?: string };
  MetadataOptions: Record<string, unknown>;
  InstanceInitiatedShutdownBehavior: string;
  blockDevices: { deviceName: string; volumeId: string; deleteOnTermination: boolean; attachTime: Date }[];
  state: InstanceStateName;
  stateSince: number;
  next?: Transition;
  runningSince?: number;
  stateReason?: { Code: string; Message: string };
  vanished: boolean;
}

export interface SimulatedVolume {
  VolumeId: string;
  Size: number;
  VolumeType: string;
  Iops?: number;
  Throughput?: number;
  Encrypted: boolean;
  KmsKeyId?: string;
  CreateTime: Date;
  Tags: Tag[];
  attachedTo?: { instanceId: string; device: string; deleteOnTermination: boolean };
  deleted: boolean;
  writtenGiB?: number;
}

export interface SimulatedSnapshot {
  SnapshotId: string;
  VolumeId: string;
  VolumeSize: number;
  Description: string;
  Encrypted: boolean;
  KmsKeyId?: string;
  StartTime: Date;
  Tags: Tag[];
  durationMs: number;
  failAt?: number;
  failMessage?: string;
  neverFinish: boolean;
  deleted: boolean;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Input = any;

/** The architecture of an instance type, from its family name: a `g` after the generation digit means Graviton. */
export const architectureOfInstanceType = (instanceType: string): SimulatedArchitecture | undefined => {
  const match = /^([a-z]+)(\d+)([a-z-]*)\.([0-9a-z]+)$/.exec(instanceType);
  if (!match) return undefined;
  const [, family, , suffix] = match;
  if (family === 'a' || (suffix ?? '').includes('g')) return 'arm64';
  return 'x86_64';
};

const stableJson = (value: unknown): string =>
  JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)))
      : v,
  );

const validateTags = (tags: Tag[] | undefined, where: string): void => {
  if (!tags) return;
  if (tags.length > EC2_LIMITS.maxTags) fail('TagLimitExceeded', `${where}: ${tags.length} tags; at most ${EC2_LIMITS.maxTags} are allowed.`);
  const keys = new Set<string>();
  for (const tag of tags) {
    if (typeof tag.Key !== 'string' || tag.Key.length === 0 || tag.Key.length > EC2_LIMITS.tagKeyLength) {
      fail('InvalidParameterValue', `${where}: tag key '${tag.Key}' must be 1-${EC2_LIMITS.tagKeyLength} characters.`);
    }
    if (tag.Key.toLowerCase().startsWith('aws:')) fail('InvalidParameterValue', `${where}: tag keys may not start with 'aws:'.`);
    if (typeof tag.Value !== 'string' || tag.Value.length > EC2_LIMITS.tagValueLength) {
      fail('InvalidParameterValue', `${where}: the value of tag '${tag.Key}' is longer than ${EC2_LIMITS.tagValueLength} characters.`);
    }
    if (keys.has(tag.Key)) fail('InvalidParameterValue', `${where}: duplicate tag key '${tag.Key}'.`);
    keys.add(tag.Key);
  }
};

const tagsFor = (specs: { ResourceType: string; Tags: Tag[] }[] | undefined, type: string): Tag[] =>
  structuredClone(specs?.find((spec) => spec.ResourceType === type)?.Tags ?? []);

const matchesFilters = (
  filters: { Name: string; Values: string[] }[] | undefined,
  fieldOf: (name: string) => string[] | undefined,
): boolean =>
  (filters ?? []).every((filter) => {
    const values = fieldOf(filter.Name);
    if (values === undefined) fail('InvalidParameterValue', `The filter '${filter.Name}' is invalid.`);
    return filter.Values.some((wanted) => values!.includes(wanted));
  });

const tagFilterValues = (tags: Tag[], name: string): string[] | undefined => {
  if (name === 'tag-key') return tags.map((t) => t.Key);
  if (name.startsWith('tag:')) return tags.filter((t) => t.Key === name.slice(4)).map((t) => t.Value);
  return undefined;
};

/** One page of `items` per EC2's MaxResults/NextToken rules. */
const paginate = <T>(items: T[], input: Input, pageLimit: number, hasIds: boolean): { page: T[]; NextToken?: string } => {
  if (input.MaxResults === undefined) {
    if (input.NextToken !== undefined) fail('InvalidParameterValue', 'NextToken requires the MaxResults of the first request.');
    return { page: items };
  }
  if (hasIds) fail('InvalidParameterCombination', 'The parameter MaxResults cannot be used with the parameter InstanceIds or SnapshotIds.');
  if (!Number.isInteger(input.MaxResults) || input.MaxResults < 5 || input.MaxResults > 1000) {
    fail('InvalidParameterValue', `MaxResults must be 5-1000; got ${input.MaxResults}.`);
  }
  const start = input.NextToken ? Number(Buffer.from(input.NextToken, 'base64').toString('utf8')) : 0;
  if (!Number.isInteger(start) || start < 0) fail('InvalidNextToken', 'The specified NextToken is not valid.');
  const end = start + Math.min(input.MaxResults, pageLimit);
  return { page: items.slice(start, end), NextToken: end < items.length ? Buffer.from(String(end)).toString('base64') : undefined };
};

export class SimulatedEc2 {
  readonly options: Required<SimulatedEc2Options>;
  readonly instances = new Map<string, SimulatedInstance>();
  readonly volumes = new Map<string, SimulatedVolume>();
  readonly snapshots = new Map<string, SimulatedSnapshot>();
  readonly images = new Map<string, { architecture: SimulatedArchitecture; name: string }>();
  /** Subnets and security groups of the account (the deployed factory's); empty: any ID is accepted. */
  readonly subnets = new Set<string>();
  readonly securityGroups = new Set<string>();
  private readonly refusedTypes = new Map<string, string>();
  private readonly neverFinishing = new Set<NeverFinishKind>();
  private readonly tokens = new Map<string, { request: string; reservationId: string }>();
  private nextSnapshotFails?: string;
  private counter = 0;
  /** EC2's request and resource token buckets of this account and Region (simulation/aws/ec2-throttling.ts). */
  readonly throttling: Ec2Throttling;

  constructor(
    readonly core: SimulatedAwsCore,
    options: SimulatedEc2Options = {},
  ) {
    this.options = { ...DEFAULTS, ...options };
    // Every EC2 request of the region, whichever module answers it (FSR, copies, sharing), spends its tokens.
    this.throttling = new Ec2Throttling(core.accountId);
    core.limitRate('ec2', this.throttling);
    core.register('ec2', {
      RunInstances: (input: Input) => this.runInstances(input),
      DescribeInstances: (input: Input) => this.describeInstances(input),
      StopInstances: (input: Input) => this.stopInstances(input),
      TerminateInstances: (input: Input) => this.terminateInstances(input),
      DescribeVolumes: (input: Input) => this.describeVolumes(input),
      CreateSnapshot: (input: Input) => this.createSnapshot(input),
      DescribeSnapshots: (input: Input) => this.describeSnapshots(input),
      DeleteSnapshot: (input: Input) => this.deleteSnapshot(input),
      DescribeImages: (input: Input) => this.describeImages(input),
      CreateTags: (input: Input) => this.createTags(input),
    });
  }

  // ---- fault hooks and queries -------------------------------------------------------------------

  /**
   * Makes the account hold these subnets and security groups: from then on RunInstances refuses any other
   * with EC2's own errors (EC2 API reference, "Error codes": InvalidSubnetID.NotFound, InvalidGroup.NotFound).
   * While none is registered (the services' unit tests), any ID is accepted: the simulation always registers
   * the deployed ones (simulation/iam/install.ts).
   */
  registerNetwork(network: { subnetIds?: readonly string[]; securityGroupIds?: readonly string[] }): void {
    for (const id of network.subnetIds ?? []) this.subnets.add(id);
    for (const id of network.securityGroupIds ?? []) this.securityGroups.add(id);
  }

  registerImage(amiId: string, architecture: SimulatedArchitecture, name = `bottlerocket-${architecture}-${amiId}`): void {
    this.images.set(amiId, { architecture, name });
  }

  /**
   * RunInstances of `instanceType` fails with `code`; with `subnetId`, only in that subnet. EC2's capacity is per
   * Availability Zone ("We currently do not have sufficient <type> capacity in the Availability Zone you requested",
   * EC2 User Guide, "Insufficient instance capacity"), and a subnet lies in one zone.
   */
  refuseInstanceType(instanceType: string, code = 'InsufficientInstanceCapacity', subnetId?: string): void {
    this.refusedTypes.set(subnetId ? `${instanceType}@${subnetId}` : instanceType, code);
  }

  restoreInstanceType(instanceType: string): void {
    this.refusedTypes.delete(instanceType);
  }

  neverFinish(kind: NeverFinishKind): void {
    this.neverFinishing.add(kind);
    if (kind === 'snapshot') for (const snapshot of this.snapshots.values()) snapshot.neverFinish = true;
    for (const instance of this.instances.values()) {
      this.refresh(instance);
      const holds = { launch: 'pending', stop: 'stopping', terminate: 'shutting-down' } as const;
      if (kind !== 'snapshot' && instance.state === holds[kind]) instance.next = undefined;
    }
  }

  finishAgain(kind: NeverFinishKind): void {
    this.neverFinishing.delete(kind);
  }

  snapshotWillFail(message = 'Snapshot failed: internal error while copying blocks.'): void {
    this.nextSnapshotFails = message;
  }

  loseInstance(instanceId: string, options: { vanish?: boolean } = {}): void {
    const instance = this.instances.get(instanceId);
    if (!instance) throw new Error(`loseInstance: no simulated instance ${instanceId}`);
    this.refresh(instance);
    this.enter(instance, 'terminated', Date.now());
    instance.stateReason = { Code: 'Server.InternalError', Message: 'Server.InternalError: Internal error on launch' };
    if (options.vanish) instance.vanished = true;
  }

  /** Records data the pull wrote to the instance's `/dev/xvdb`, which sets how long its snapshot takes. */
  recordDataWritten(instanceId: string, gib: number): void {
    const device = this.instances.get(instanceId)?.blockDevices.find((d) => d.deviceName === '/dev/xvdb');
    const volume = device && this.volumes.get(device.volumeId);
    if (volume) volume.writtenGiB = (volume.writtenGiB ?? 0) + gib;
  }

  instanceState(instanceId: string): InstanceStateName | undefined {
    const instance = this.instances.get(instanceId);
    if (!instance) return undefined;
    this.refresh(instance);
    return instance.vanished ? undefined : instance.state;
  }

  /** When the instance last reached `running` (epoch ms), or undefined while it is not running. */
  runningSince(instanceId: string): number | undefined {
    return this.instanceState(instanceId) === 'running' ? this.instances.get(instanceId)?.runningSince : undefined;
  }

  liveInstances(): SimulatedInstance[] {
    return [...this.instances.values()].filter((instance) => {
      this.refresh(instance);
      return !instance.vanished && instance.state !== 'terminated';
    });
  }

  snapshotsInError(): SimulatedSnapshot[] {
    return [...this.snapshots.values()].filter((s) => !s.deleted && this.snapshotState(s).state === 'error');
  }

  liveSnapshots(): SimulatedSnapshot[] {
    return [...this.snapshots.values()].filter((s) => !s.deleted);
  }

  /** Snapshots not deleted whose state (as DescribeSnapshots would report it now) is `state`. */
  snapshotsInState(state: 'pending' | 'completed' | 'error'): SimulatedSnapshot[] {
    return this.liveSnapshots().filter((s) => this.snapshotState(s).state === state);
  }

  // ---- lazy state --------------------------------------------------------------------------------

  private id(prefix: string): string {
    this.counter += 1;
    return `${prefix}-0${this.counter.toString(16).padStart(16, '0')}`;
  }

  private enter(instance: SimulatedInstance, state: InstanceStateName, at: number): void {
    instance.state = state;
    instance.stateSince = at;
    instance.next = undefined;
    const o = this.options;
    if (state === 'pending' && !this.neverFinishing.has('launch')) instance.next = { state: 'running', at: at + o.pendingMs };
    if (state === 'stopping' && !this.neverFinishing.has('stop')) instance.next = { state: 'stopped', at: at + o.stoppingMs };
    if (state === 'shutting-down' && !this.neverFinishing.has('terminate')) {
      instance.next = { state: 'terminated', at: at + o.shuttingDownMs };
    }
    if (state === 'running') instance.runningSince = at;
    if (state === 'terminated') {
      for (const device of instance.blockDevices) {
        const volume = this.volumes.get(device.volumeId);
        if (!volume) continue;
        volume.attachedTo = undefined;
        if (device.deleteOnTermination) volume.deleted = true;
      }
    }
  }

  private refresh(instance: SimulatedInstance): void {
    while (instance.next && Date.now() >= instance.next.at) this.enter(instance, instance.next.state, instance.next.at);
    if (instance.state === 'terminated' && Date.now() >= instance.stateSince + this.options.terminatedVisibleMs) {
      instance.vanished = true;
    }
  }

  private snapshotState(snapshot: SimulatedSnapshot): { state: string; progress: string; message?: string } {
    const elapsed = Date.now() - snapshot.StartTime.getTime();
    if (snapshot.failAt !== undefined && Date.now() >= snapshot.failAt) {
      return { state: 'error', progress: `${Math.floor((100 * (snapshot.failAt - snapshot.StartTime.getTime())) / snapshot.durationMs)}%`, message: snapshot.failMessage };
    }
    if (elapsed >= snapshot.durationMs && !snapshot.neverFinish) return { state: 'completed', progress: '100%' };
    return { state: 'pending', progress: `${Math.min(99, Math.floor((100 * elapsed) / snapshot.durationMs))}%` };
  }

  private visibleInstance(instanceId: string): SimulatedInstance | undefined {
    const instance = this.instances.get(instanceId);
    if (!instance) return undefined;
    this.refresh(instance);
    return instance.vanished ? undefined : instance;
  }

  private requireInstances(ids: string[]): SimulatedInstance[] {
    const malformed = ids.filter((id) => !/^i-([0-9a-f]{8}|[0-9a-f]{17})$/.test(id));
    if (malformed.length) fail('InvalidInstanceID.Malformed', `Invalid id: "${malformed[0]}"`);
    const missing = ids.filter((id) => !this.visibleInstance(id));
    if (missing.length) fail('InvalidInstanceID.NotFound', `The instance IDs '${missing.join(', ')}' do not exist`);
    return ids.map((id) => this.instances.get(id)!);
  }

  // ---- RunInstances ------------------------------------------------------------------------------

  private runInstances(input: Input): unknown {
    if (input.ClientToken !== undefined) {
      if (typeof input.ClientToken !== 'string' || input.ClientToken.length > EC2_LIMITS.clientTokenLength || !/^[\x20-\x7e]+$/.test(input.ClientToken)) {
        fail('InvalidParameterValue', `ClientToken must be 1-${EC2_LIMITS.clientTokenLength} ASCII characters.`);
      }
      const { ClientToken: _token, ...rest } = input;
      const request = stableJson(rest);
      const previous = this.tokens.get(input.ClientToken);
      if (previous) {
        if (previous.request !== request) {
          fail('IdempotentParameterMismatch', `The client token '${input.ClientToken}' was used with different parameters.`);
        }
        return this.reservation(previous.reservationId);
      }
    }
    this.validateRunInstances(input);
    const subnetOfRequest = input.NetworkInterfaces?.[0]?.SubnetId ?? input.SubnetId;
    const refusal = this.refusedTypes.get(input.InstanceType) ?? (subnetOfRequest ? this.refusedTypes.get(`${input.InstanceType}@${subnetOfRequest}`) : undefined);
    if (refusal) {
      fail(refusal, `We currently do not have sufficient ${input.InstanceType} capacity in the Availability Zone you requested (${refusal}).`);
    }
    const now = Date.now();
    const reservationId = this.id('r');
    const instanceId = this.id('i');
    const image = this.images.get(input.ImageId)!;
    const ni = input.NetworkInterfaces?.[0];
    const instance: SimulatedInstance = {
      InstanceId: instanceId,
      InstanceType: input.InstanceType,
      ImageId: input.ImageId,
      Architecture: image.architecture,
      LaunchTime: new Date(now),
      ClientToken: input.ClientToken,
      ReservationId: reservationId,
      Tags: tagsFor(input.TagSpecifications, 'instance'),
      SubnetId: ni?.SubnetId ?? input.SubnetId,
      SecurityGroupIds: ni?.Groups ?? input.SecurityGroupIds ?? [],
      PublicIp: Boolean(ni?.AssociatePublicIpAddress),
      IamInstanceProfile: input.IamInstanceProfile,
      MetadataOptions: { State: 'applied', HttpEndpoint: 'enabled', HttpTokens: 'optional', HttpPutResponseHopLimit: 1, ...input.MetadataOptions },
      InstanceInitiatedShutdownBehavior: input.InstanceInitiatedShutdownBehavior ?? 'stop',
      blockDevices: [],
      state: 'pending',
      stateSince: now,
      vanished: false,
    };
    const volumeTags = tagsFor(input.TagSpecifications, 'volume');
    for (const mapping of input.BlockDeviceMappings ?? []) {
      const ebs = mapping.Ebs;
      const volume: SimulatedVolume = {
        VolumeId: this.id('vol'),
        Size: ebs.VolumeSize ?? 2,
        VolumeType: ebs.VolumeType ?? 'gp3',
        Iops: ebs.Iops ?? (ebs.VolumeType === 'gp3' || !ebs.VolumeType ? 3000 : undefined),
        Throughput: ebs.Throughput ?? (ebs.VolumeType === 'gp3' || !ebs.VolumeType ? 125 : undefined),
        Encrypted: Boolean(ebs.Encrypted),
        KmsKeyId: ebs.Encrypted ? (ebs.KmsKeyId ?? 'alias/aws/ebs') : undefined,
        CreateTime: new Date(now),
        Tags: structuredClone(volumeTags),
        attachedTo: { instanceId, device: mapping.DeviceName, deleteOnTermination: ebs.DeleteOnTermination ?? true },
        deleted: false,
      };
      this.volumes.set(volume.VolumeId, volume);
      instance.blockDevices.push({
        deviceName: mapping.DeviceName,
        volumeId: volume.VolumeId,
        deleteOnTermination: ebs.DeleteOnTermination ?? true,
        attachTime: new Date(now),
      });
    }
    this.instances.set(instanceId, instance);
    this.enter(instance, 'pending', now);
    if (input.ClientToken) this.tokens.set(input.ClientToken, { request: stableJson({ ...input, ClientToken: undefined }), reservationId });
    return this.reservation(reservationId);
  }

  private validateRunInstances(input: Input): void {
    if (input.MinCount !== 1 && (typeof input.MinCount !== 'number' || input.MinCount < 1)) {
      fail('InvalidParameterValue', 'MinCount must be at least 1.');
    }
    if (typeof input.MaxCount !== 'number' || input.MaxCount < input.MinCount) {
      fail('InvalidParameterValue', 'MaxCount must be at least MinCount.');
    }
    if (typeof input.ImageId !== 'string' || !/^ami-[0-9a-f]{8,17}$/.test(input.ImageId)) {
      fail('InvalidAMIID.Malformed', `Invalid id: "${input.ImageId}" (expecting "ami-...")`);
    }
    const image = this.images.get(input.ImageId);
    if (!image) fail('InvalidAMIID.NotFound', `The image id '[${input.ImageId}]' does not exist`);
    const typeArchitecture = architectureOfInstanceType(input.InstanceType ?? '');
    if (!typeArchitecture) fail('InvalidParameterValue', `Invalid value '${input.InstanceType}' for InstanceType.`);
    if (typeArchitecture !== image!.architecture) {
      fail(
        'InvalidParameterValue',
        `The architecture '${typeArchitecture}' of the specified instance type does not match the architecture '${image!.architecture}' of the specified AMI. Specify an instance type and an AMI that have matching architectures, and try again.`,
      );
    }
    const metadata = input.MetadataOptions;
    if (metadata) {
      if (metadata.HttpTokens && !['required', 'optional'].includes(metadata.HttpTokens)) {
        fail('InvalidParameterValue', `Invalid value '${metadata.HttpTokens}' for HttpTokens.`);
      }
      if (metadata.HttpEndpoint && !['enabled', 'disabled'].includes(metadata.HttpEndpoint)) {
        fail('InvalidParameterValue', `Invalid value '${metadata.HttpEndpoint}' for HttpEndpoint.`);
      }
      const hops = metadata.HttpPutResponseHopLimit;
      if (hops !== undefined && (!Number.isInteger(hops) || hops < 1 || hops > 64)) {
        fail('InvalidParameterValue', 'HttpPutResponseHopLimit must be between 1 and 64.');
      }
    }
    if (input.UserData !== undefined) {
      const decoded = Buffer.from(input.UserData, 'base64');
      if (decoded.toString('base64').replace(/=+$/, '') !== String(input.UserData).replace(/=+$/, '')) {
        fail('InvalidParameterValue', 'Invalid BASE64 encoding of user data.');
      }
      if (decoded.length > EC2_LIMITS.userDataBytes) fail('InvalidParameterValue', 'User data is limited to 16384 bytes.');
    }
    const devices = new Set<string>();
    for (const mapping of input.BlockDeviceMappings ?? []) {
      if (!mapping.DeviceName) fail('MissingParameter', 'BlockDeviceMapping requires DeviceName.');
      if (devices.has(mapping.DeviceName)) fail('InvalidBlockDeviceMapping', `The device '${mapping.DeviceName}' is used more than once.`);
      devices.add(mapping.DeviceName);
      this.validateEbs(mapping.Ebs ?? {}, mapping.DeviceName);
    }
    const types = new Set<string>();
    for (const spec of input.TagSpecifications ?? []) {
      if (!['instance', 'volume', 'network-interface', 'spot-instances-request', 'elastic-gpu'].includes(spec.ResourceType)) {
        fail('InvalidParameterValue', `'${spec.ResourceType}' is not a valid taggable resource type for this operation.`);
      }
      if (types.has(spec.ResourceType)) fail('InvalidParameterValue', `TagSpecification lists '${spec.ResourceType}' more than once.`);
      types.add(spec.ResourceType);
      validateTags(spec.Tags, `TagSpecification ${spec.ResourceType}`);
    }
    if (input.NetworkInterfaces?.length) {
      if (input.SubnetId || input.SecurityGroupIds?.length) {
        fail('InvalidParameterCombination', 'Network interfaces and an instance-level subnet or security groups may not be specified on the same request');
      }
      if (input.NetworkInterfaces[0].DeviceIndex !== 0) fail('InvalidParameterValue', 'The primary network interface needs DeviceIndex 0.');
      if (input.NetworkInterfaces[0].AssociatePublicIpAddress !== undefined && input.NetworkInterfaces.length > 1) {
        fail('InvalidParameterCombination', 'The associatePublicIPAddress parameter cannot be specified when launching with multiple network interfaces.');
      }
    }
    const subnetId = input.NetworkInterfaces?.[0]?.SubnetId ?? input.SubnetId;
    if (this.subnets.size && subnetId && !this.subnets.has(subnetId)) fail('InvalidSubnetID.NotFound', `The subnet ID '${subnetId}' does not exist`);
    for (const group of input.NetworkInterfaces?.[0]?.Groups ?? input.SecurityGroupIds ?? []) {
      if (this.securityGroups.size && !this.securityGroups.has(group)) fail('InvalidGroup.NotFound', `The security group '${group}' does not exist`);
    }
    if (input.InstanceInitiatedShutdownBehavior && !['stop', 'terminate'].includes(input.InstanceInitiatedShutdownBehavior)) {
      fail('InvalidParameterValue', `Invalid value '${input.InstanceInitiatedShutdownBehavior}' for InstanceInitiatedShutdownBehavior.`);
    }
  }

  private validateEbs(ebs: Input, device: string): void {
    const type = ebs.VolumeType ?? 'gp3';
    const size = ebs.VolumeSize;
    if (size !== undefined && (!Number.isInteger(size) || size < 1 || size > EC2_LIMITS.gp3.maxSizeGiB)) {
      fail('InvalidParameterValue', `${device}: invalid volume size ${size}.`);
    }
    if (ebs.KmsKeyId && !ebs.Encrypted) fail('InvalidParameterDependency', `${device}: KmsKeyId requires Encrypted to be true.`);
    if (type !== 'gp3') return;
    const g = EC2_LIMITS.gp3;
    const iops = ebs.Iops ?? g.minIops;
    const throughput = ebs.Throughput ?? g.minThroughput;
    if (iops < g.minIops || iops > g.maxIops) fail('InvalidParameterValue', `${device}: gp3 IOPS must be ${g.minIops}-${g.maxIops}; got ${iops}.`);
    if (size !== undefined && iops > g.minIops && iops > size * g.iopsPerGiB) {
      fail('InvalidParameterValue', `${device}: ${iops} IOPS exceeds ${g.iopsPerGiB} IOPS per GiB for a ${size} GiB volume.`);
    }
    if (throughput < g.minThroughput || throughput > g.maxThroughput) {
      fail('InvalidParameterValue', `${device}: gp3 throughput must be ${g.minThroughput}-${g.maxThroughput} MiB/s; got ${throughput}.`);
    }
    if (throughput > g.minThroughput && throughput > iops * g.throughputPerIops) {
      fail('InvalidParameterValue', `${device}: throughput ${throughput} MiB/s exceeds ${g.throughputPerIops} MiB/s per provisioned IOPS (${iops}).`);
    }
  }

  private reservation(reservationId: string): unknown {
    const instances = [...this.instances.values()].filter((i) => i.ReservationId === reservationId);
    return { ReservationId: reservationId, OwnerId: this.core.accountId, Instances: instances.map((i) => this.describe(i)) };
  }

  private describe(instance: SimulatedInstance): Record<string, unknown> {
    this.refresh(instance);
    return {
      InstanceId: instance.InstanceId,
      InstanceType: instance.InstanceType,
      ImageId: instance.ImageId,
      Architecture: instance.Architecture,
      LaunchTime: instance.LaunchTime,
      ClientToken: instance.ClientToken,
      State: { Code: STATE_CODE[instance.state], Name: instance.state },
      StateReason: instance.stateReason,
      Tags: structuredClone(instance.Tags),
      SubnetId: instance.SubnetId,
      SecurityGroups: instance.SecurityGroupIds.map((GroupId) => ({ GroupId })),
      IamInstanceProfile: instance.IamInstanceProfile
        ? { Arn: `arn:aws:iam::${this.core.accountId}:instance-profile/${instance.IamInstanceProfile.Name ?? 'unknown'}` }
        : undefined,
      MetadataOptions: structuredClone(instance.MetadataOptions),
      RootDeviceName: '/dev/xvda',
      RootDeviceType: 'ebs',
      BlockDeviceMappings:
        instance.state === 'terminated'
          ? []
          : instance.blockDevices.map((d) => ({
              DeviceName: d.deviceName,
              Ebs: { VolumeId: d.volumeId, Status: 'attached', DeleteOnTermination: d.deleteOnTermination, AttachTime: d.attachTime },
            })),
    };
  }

  // ---- other instance operations -----------------------------------------------------------------

  private describeInstances(input: Input): unknown {
    const ids: string[] | undefined = input.InstanceIds?.length ? input.InstanceIds : undefined;
    const candidates = ids ? this.requireInstances(ids) : [...this.instances.values()].filter((i) => this.visibleInstance(i.InstanceId));
    const selected = candidates.filter((instance) =>
      matchesFilters(input.Filters, (name) => {
        if (name === 'instance-state-name') return [instance.state];
        if (name === 'instance-id') return [instance.InstanceId];
        if (name === 'instance-type') return [instance.InstanceType];
        if (name === 'client-token') return instance.ClientToken ? [instance.ClientToken] : [];
        return tagFilterValues(instance.Tags, name);
      }),
    );
    const { page, NextToken } = paginate(selected, input, this.options.pageLimit, Boolean(ids));
    const byReservation = new Map<string, SimulatedInstance[]>();
    for (const instance of page) byReservation.set(instance.ReservationId, [...(byReservation.get(instance.ReservationId) ?? []), instance]);
    return {
      Reservations: [...byReservation].map(([ReservationId, instances]) => ({
        ReservationId,
        OwnerId: this.core.accountId,
        Instances: instances.map((i) => this.describe(i)),
      })),
      NextToken,
    };
  }

  private stopInstances(input: Input): unknown {
    const instances = this.requireInstances(input.InstanceIds ?? []);
    for (const instance of instances) {
      if (['pending', 'shutting-down', 'terminated'].includes(instance.state)) {
        fail('IncorrectInstanceState', `The instance '${instance.InstanceId}' is not in a state from which it can be stopped (${instance.state}).`);
      }
    }
    return {
      StoppingInstances: instances.map((instance) => {
        const previous = instance.state;
        if (previous === 'running') this.enter(instance, 'stopping', Date.now());
        return {
          InstanceId: instance.InstanceId,
          PreviousState: { Code: STATE_CODE[previous], Name: previous },
          CurrentState: { Code: STATE_CODE[instance.state], Name: instance.state },
        };
      }),
    };
  }

  private terminateInstances(input: Input): unknown {
    const instances = this.requireInstances(input.InstanceIds ?? []);
    return {
      TerminatingInstances: instances.map((instance) => {
        const previous = instance.state;
        if (previous !== 'terminated' && previous !== 'shutting-down') this.enter(instance, 'shutting-down', Date.now());
        return {
          InstanceId: instance.InstanceId,
          PreviousState: { Code: STATE_CODE[previous], Name: previous },
          CurrentState: { Code: STATE_CODE[instance.state], Name: instance.state },
        };
      }),
    };
  }

  // ---- volumes and snapshots ---------------------------------------------------------------------

  private liveVolume(volumeId: string): SimulatedVolume | undefined {
    const volume = this.volumes.get(volumeId);
    if (volume?.attachedTo) {
      const owner = this.instances.get(volume.attachedTo.instanceId);
      if (owner) this.refresh(owner);
    }
    return volume && !volume.deleted ? volume : undefined;
  }

  private describeVolumes(input: Input): unknown {
    const ids: string[] | undefined = input.VolumeIds?.length ? input.VolumeIds : undefined;
    const missing = (ids ?? []).filter((id) => !this.liveVolume(id));
    if (missing.length) fail('InvalidVolume.NotFound', `The volume '${missing.join(', ')}' does not exist.`);
    const candidates = ids ? ids.map((id) => this.volumes.get(id)!) : [...this.volumes.keys()].map((id) => this.liveVolume(id)).filter((v) => v !== undefined);
    return {
      Volumes: candidates
        .filter((volume) =>
          matchesFilters(input.Filters, (name) => {
            if (name === 'attachment.instance-id') return volume.attachedTo ? [volume.attachedTo.instanceId] : [];
            if (name === 'attachment.device') return volume.attachedTo ? [volume.attachedTo.device] : [];
            if (name === 'volume-id') return [volume.VolumeId];
            return tagFilterValues(volume.Tags, name);
          }),
        )
        .map((volume) => ({
          VolumeId: volume.VolumeId,
          Size: volume.Size,
          VolumeType: volume.VolumeType,
          Iops: volume.Iops,
          Throughput: volume.Throughput,
          Encrypted: volume.Encrypted,
          KmsKeyId: volume.KmsKeyId,
          CreateTime: volume.CreateTime,
          State: volume.attachedTo ? 'in-use' : 'available',
          Tags: structuredClone(volume.Tags),
          Attachments: volume.attachedTo
            ? [{ InstanceId: volume.attachedTo.instanceId, Device: volume.attachedTo.device, State: 'attached', VolumeId: volume.VolumeId, DeleteOnTermination: volume.attachedTo.deleteOnTermination }]
            : [],
        })),
    };
  }

  private createSnapshot(input: Input): unknown {
    if (!input.VolumeId) fail('MissingParameter', 'The request must contain the parameter VolumeId.');
    if (!/^vol-[0-9a-f]{8,17}$/.test(input.VolumeId)) fail('InvalidVolumeID.Malformed', `Invalid id: "${input.VolumeId}"`);
    const volume = this.liveVolume(input.VolumeId);
    if (!volume) fail('InvalidVolume.NotFound', `The volume '${input.VolumeId}' does not exist.`);
    const description: string = input.Description ?? '';
    if (description.length > EC2_LIMITS.snapshotDescriptionLength) {
      fail('InvalidParameterValue', `Value (${description.slice(0, 40)}...) for parameter Description is invalid. Length exceeds maximum of ${EC2_LIMITS.snapshotDescriptionLength} characters.`);
    }
    for (const spec of input.TagSpecifications ?? []) {
      if (spec.ResourceType !== 'snapshot') fail('InvalidParameterValue', `'${spec.ResourceType}' is not a valid taggable resource type for this operation.`);
      validateTags(spec.Tags, 'TagSpecification snapshot');
    }
    const now = Date.now();
    const written = Math.min(volume!.Size, volume!.writtenGiB ?? this.options.defaultDataWrittenGiB);
    const durationMs = this.options.snapshotBaseMs + written * this.options.snapshotMsPerGiB;
    const snapshot: SimulatedSnapshot = {
      SnapshotId: this.id('snap'),
      VolumeId: volume!.VolumeId,
      VolumeSize: volume!.Size,
      Description: description,
      Encrypted: volume!.Encrypted,
      KmsKeyId: volume!.KmsKeyId,
      StartTime: new Date(now),
      Tags: tagsFor(input.TagSpecifications, 'snapshot'),
      durationMs,
      neverFinish: this.neverFinishing.has('snapshot'),
      deleted: false,
    };
    if (this.nextSnapshotFails !== undefined) {
      snapshot.failAt = now + Math.floor(durationMs / 2);
      snapshot.failMessage = this.nextSnapshotFails;
      this.nextSnapshotFails = undefined;
    }
    this.snapshots.set(snapshot.SnapshotId, snapshot);
    return this.describeSnapshot(snapshot);
  }

  private describeSnapshot(snapshot: SimulatedSnapshot): Record<string, unknown> {
    const { state, progress, message } = this.snapshotState(snapshot);
    return {
      SnapshotId: snapshot.SnapshotId,
      VolumeId: snapshot.VolumeId,
      VolumeSize: snapshot.VolumeSize,
      Description: snapshot.Description,
      Encrypted: snapshot.Encrypted,
      KmsKeyId: snapshot.KmsKeyId,
      OwnerId: this.core.accountId,
      StartTime: snapshot.StartTime,
      State: state,
      Progress: progress,
      StateMessage: message,
      Tags: structuredClone(snapshot.Tags),
    };
  }

  private describeSnapshots(input: Input): unknown {
    const ids: string[] | undefined = input.SnapshotIds?.length ? input.SnapshotIds : undefined;
    const malformed = (ids ?? []).filter((id) => !/^snap-[0-9a-f]{8,17}$/.test(id));
    if (malformed.length) fail('InvalidSnapshotID.Malformed', `Invalid id: "${malformed[0]}"`);
    const missing = (ids ?? []).filter((id) => !this.snapshots.get(id) || this.snapshots.get(id)!.deleted);
    if (missing.length) fail('InvalidSnapshot.NotFound', `The snapshot '${missing.join(', ')}' does not exist.`);
    const candidates = ids ? ids.map((id) => this.snapshots.get(id)!) : this.liveSnapshots();
    const selected = candidates.filter((snapshot) =>
      matchesFilters(input.Filters, (name) => {
        if (name === 'status') return [this.snapshotState(snapshot).state];
        if (name === 'volume-id') return [snapshot.VolumeId];
        if (name === 'snapshot-id') return [snapshot.SnapshotId];
        if (name === 'owner-id') return [this.core.accountId];
        return tagFilterValues(snapshot.Tags, name);
      }),
    );
    const { page, NextToken } = paginate(selected, input, this.options.pageLimit, Boolean(ids));
    return { Snapshots: page.map((snapshot) => this.describeSnapshot(snapshot)), NextToken };
  }

  /** DeleteSnapshot's own checks and effect; simulation/aws/ec2-snapshot-sharing.ts adds the AMI-in-use check in front. */
  deleteSnapshot(input: Input): unknown {
    const snapshot = this.snapshots.get(input.SnapshotId);
    if (!/^snap-[0-9a-f]{8,17}$/.test(input.SnapshotId ?? '')) fail('InvalidSnapshotID.Malformed', `Invalid id: "${input.SnapshotId}"`);
    if (!snapshot || snapshot.deleted) fail('InvalidSnapshot.NotFound', `The snapshot '${input.SnapshotId}' does not exist.`);
    snapshot!.deleted = true;
    return {};
  }

  private describeImages(input: Input): unknown {
    const ids: string[] = input.ImageIds ?? [...this.images.keys()];
    const missing = ids.filter((id) => !this.images.has(id));
    if (missing.length) fail('InvalidAMIID.NotFound', `The image id '[${missing.join(', ')}]' does not exist`);
    return {
      Images: ids.map((id) => ({ ImageId: id, Architecture: this.images.get(id)!.architecture, Name: this.images.get(id)!.name, State: 'available' })),
    };
  }

  private createTags(input: Input): unknown {
    validateTags(input.Tags, 'CreateTags');
    for (const id of input.Resources ?? []) {
      const resource =
        (id.startsWith('i-') && this.visibleInstance(id)) ||
        (id.startsWith('vol-') && this.liveVolume(id)) ||
        (id.startsWith('snap-') && this.snapshots.get(id)?.deleted === false && this.snapshots.get(id));
      if (!resource) fail(id.startsWith('snap-') ? 'InvalidSnapshot.NotFound' : id.startsWith('vol-') ? 'InvalidVolume.NotFound' : 'InvalidID', `The ID '${id}' is not valid`);
      const holder = resource as { Tags: Tag[] };
      for (const tag of input.Tags as Tag[]) holder.Tags = holder.Tags.filter((t) => t.Key !== tag.Key).concat({ ...tag });
      if (holder.Tags.length > EC2_LIMITS.maxTags) fail('TagLimitExceeded', `The resource '${id}' would have more than ${EC2_LIMITS.maxTags} tags.`);
    }
    return {};
  }
}
