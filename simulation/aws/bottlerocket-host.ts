/**
 * The simulated boot of a Bottlerocket aws-k8s builder, as far as the factory depends on it: when its host
 * containers come up, and whether they can come up at all. Used by the simulated SSM agent (ssm-commands.ts).
 *
 * What the real host does (sources named where each behaviour is modelled):
 * - After boot, systemd starts one `host-containers@<name>` unit per enabled host container; host-ctr pulls the image
 *   from Bottlerocket's ECR registry of the region, `<account>.dkr.ecr.<region>.amazonaws.com/bottlerocket-<name>`
 *   (bottlerocket-core-kit sources/api/schnauzer/src/helpers/mod.rs `ECR_MAP`), with the INSTANCE'S ROLE
 *   (host-ctr resolves private ECR with awslabs/amazon-ecr-containerd-resolver, which calls the ECR API itself:
 *   ecr:BatchGetImage for the manifest (ecr/resolver.go) and ecr:GetDownloadUrlForLayer for the layers
 *   (ecr/fetcher.go); it never asks for ecr:GetAuthorizationToken, which host-ctr needs only for ECR Public). The control container runs the SSM agent; the admin container gives
 *   `apiclient exec admin sheltie`.
 * - A pull that fails is retried by host-ctr 5 times with exponential backoff from 1 s (at most 30 s) plus 2-6 s of
 *   jitter, then host-ctr exits (core-kit sources/host-ctr/cmd/host-ctr/main.go `pullImage`), and systemd starts it
 *   again 45 s later, forever (packages/os/host-containers@.service: `Restart=always`, `RestartSec=45`). A role that
 *   may not read the repository is denied on every attempt: the container never runs, so without the control
 *   container the SSM agent never registers.
 * - The admin container accepts `apiclient exec` only once its task runs, some seconds after its image is pulled
 *   (its start_admin.sh sets up users, SSH and systemd first; bottlerocket-admin-container).
 *
 * Every pull is authorized as the builder: `core.authorize({ kind: 'instance', instanceId }, ...)`, decided once per
 * boot (the policies do not change during a simulated run, so the retries would all get the same answer).
 *
 * Timings (virtual ms after the instance reached `running`) are ESTIMATES, not measurements: no public source gives
 * them. Defaults: host containers start 8 s after `running`, each image takes 7 s to pull (control, then admin),
 * the SSM agent registers at `agentOnlineMs` (30 s, the SSM simulation's figure), the admin container accepts exec
 * 12 s after its pull (34 s): a command sent as soon as the agent is Online runs about 2 s before the admin
 * container does, which is the race the pull script's wait exists for.
 *
 * Left out: reading the user data (the admin container is taken as enabled, as launch-instance's user data enables
 * it), image tags and digests of the host containers, network failures, the bootstrap containers.
 */
import type { IamDecision, SimulatedAwsCore } from './core';
import type { SimulatedEc2 } from './ec2';

/**
 * Bottlerocket's ECR account per region for its host containers (bottlerocket-core-kit
 * sources/api/schnauzer/src/helpers/mod.rs `ECR_MAP`); regions not listed use the fallback, in us-east-1.
 */
export const BOTTLEROCKET_ECR_ACCOUNTS: Readonly<Record<string, string>> = {
  'af-south-1': '917644944286',
  'ap-east-1': '375569722642',
  'ap-south-2': '764716012617',
  'ap-southeast-3': '386774335080',
  'ap-southeast-4': '731751899352',
  'ap-southeast-5': '851725293737',
  'ca-west-1': '253897149516',
  'cn-north-1': '183470599484',
  'cn-northwest-1': '183901325759',
  'eu-central-2': '861738308508',
  'eu-isoe-west-1': '589460436674',
  'eu-south-1': '586180183710',
  'eu-south-2': '620625777247',
  'il-central-1': '288123944683',
  'me-central-1': '553577323255',
  'me-south-1': '509306038620',
  'us-gov-east-1': '388230364387',
  'us-gov-west-1': '347163068887',
};
/** schnauzer's `ECR_FALLBACK_REGISTRY` / `ECR_FALLBACK_REGION`; also the account of every other listed region. */
export const BOTTLEROCKET_ECR_DEFAULT_ACCOUNT = '328549459982';
const ECR_FALLBACK_REGION = 'us-east-1';
/** Regions of schnauzer's map that use the default account (the rest of its table). */
const DEFAULT_ACCOUNT_REGIONS = new Set([
  'ap-northeast-1', 'ap-northeast-2', 'ap-northeast-3', 'ap-south-1', 'ap-southeast-1', 'ap-southeast-2', 'ca-central-1',
  'eu-central-1', 'eu-north-1', 'eu-west-1', 'eu-west-2', 'eu-west-3', 'sa-east-1', 'us-east-1', 'us-east-2', 'us-west-1', 'us-west-2',
]);

const partitionOf = (region: string): string => (region.startsWith('cn-') ? 'aws-cn' : region.startsWith('us-gov-') ? 'aws-us-gov' : 'aws');

/** Where a host container's image comes from in `region`: registry account, its region, the repository ARN. */
export const hostContainerRepository = (region: string, name: 'control' | 'admin'): { account: string; region: string; arn: string; uri: string } => {
  const known = BOTTLEROCKET_ECR_ACCOUNTS[region] ?? (DEFAULT_ACCOUNT_REGIONS.has(region) ? BOTTLEROCKET_ECR_DEFAULT_ACCOUNT : undefined);
  const account = known ?? BOTTLEROCKET_ECR_DEFAULT_ACCOUNT;
  const registryRegion = known ? region : ECR_FALLBACK_REGION;
  const suffix = partitionOf(registryRegion) === 'aws-cn' ? 'amazonaws.com.cn' : 'amazonaws.com';
  return {
    account,
    region: registryRegion,
    arn: `arn:${partitionOf(registryRegion)}:ecr:${registryRegion}:${account}:repository/bottlerocket-${name}`,
    uri: `${account}.dkr.ecr.${registryRegion}.${suffix}/bottlerocket-${name}`,
  };
};

/**
 * The requests one ECR pull makes, in order (ECR authorizes each with the caller's role). host-ctr's resolver calls
 * the ECR API directly (no token); containerd pulling through the registry API with a credential from the kubelet
 * ECR credential provider needs ecr:GetAuthorizationToken first (cloud-provider-aws cmd/ecr-credential-provider).
 */
export const ecrPullRequests = (repositoryArn: string, { withToken }: { withToken: boolean }): { action: string; arn: string }[] => [
  ...(withToken ? [{ action: 'ecr:GetAuthorizationToken', arn: '*' }] : []),
  { action: 'ecr:BatchGetImage', arn: repositoryArn },
  { action: 'ecr:GetDownloadUrlForLayer', arn: repositoryArn },
];

export interface BottlerocketBootOptions {
  /** From `running` until systemd starts the host containers' units (estimate). @default 8000 */
  hostContainersStartMs?: number;
  /** One host-container image pull (estimate). @default 7000 */
  hostContainerPullMs?: number;
  /** From the admin image's pull until `apiclient exec admin` is accepted (estimate). @default 12000 */
  adminStartMs?: number;
}

const DEFAULTS: Required<BottlerocketBootOptions> = { hostContainersStartMs: 8_000, hostContainerPullMs: 7_000, adminStartMs: 12_000 };

/** What one boot of a builder came to. Times are virtual ms since the epoch; undefined = never. */
export interface BootTimeline {
  runningSince: number;
  controlRunningAt?: number;
  agentOnlineAt?: number;
  adminReadyAt?: number;
  /** The host's journal, as far as the factory cares: host-ctr's pulls. */
  journal: string[];
}

export class SimulatedBottlerocketHost {
  readonly options: Required<BottlerocketBootOptions>;
  private readonly boots = new Map<string, BootTimeline>();

  /** `agentOnlineMs` is read at each boot, so a caller that tunes the SSM simulation's figure is followed. */
  constructor(
    private readonly core: SimulatedAwsCore,
    private readonly ec2: SimulatedEc2,
    private readonly agentOnlineMs: () => number,
    options: BottlerocketBootOptions = {},
  ) {
    this.options = { ...DEFAULTS, ...options };
  }

  /** The current boot of a running instance (undefined while it is not running). */
  boot(instanceId: string): BootTimeline | undefined {
    const runningSince = this.ec2.runningSince(instanceId);
    return runningSince === undefined ? undefined : this.bootAt(instanceId, runningSince);
  }

  /** Every boot the instance went through so far, oldest first (still readable after it terminated). */
  bootsOf(instanceId: string): BootTimeline[] {
    return [...this.boots.entries()].filter(([key]) => key.startsWith(`${instanceId}@`)).map(([, boot]) => boot);
  }

  /** The boot that began when the instance reached `running` at `runningSince` (simulated on first use). */
  bootAt(instanceId: string, runningSince: number): BootTimeline {
    const key = `${instanceId}@${runningSince}`;
    let boot = this.boots.get(key);
    if (!boot) {
      boot = this.simulateBoot(instanceId, runningSince);
      this.boots.set(key, boot);
    }
    return boot;
  }

  /** When the SSM agent of the instance's current boot registers; undefined when it never will. */
  agentOnlineAt(instanceId: string): number | undefined {
    return this.boot(instanceId)?.agentOnlineAt;
  }

  /** When `apiclient exec admin` starts to succeed in the current boot; undefined when never. */
  adminReadyAt(instanceId: string): number | undefined {
    return this.boot(instanceId)?.adminReadyAt;
  }

  /** The first request of an ECR pull the builder's role may not make, or undefined when all are allowed. */
  deniedPull(instanceId: string, repositoryArn: string, via: 'host-ctr' | 'credential-provider'): (IamDecision & { action: string }) | undefined {
    for (const { action, arn } of ecrPullRequests(repositoryArn, { withToken: via === 'credential-provider' })) {
      const decision = this.core.authorize({ kind: 'instance', instanceId }, { action, resources: [{ arn }] });
      if (!decision.allowed) return { ...decision, action };
    }
    return undefined;
  }

  private simulateBoot(instanceId: string, runningSince: number): BootTimeline {
    const { hostContainersStartMs, hostContainerPullMs, adminStartMs } = this.options;
    const journal: string[] = [];
    const pull = (name: 'control' | 'admin', startAt: number): number | undefined => {
      const repository = hostContainerRepository(this.core.region, name);
      const denied = this.deniedPull(instanceId, repository.arn, 'host-ctr');
      if (!denied) {
        journal.push(`host-containers@${name}: pulled image successfully img=${repository.uri}`);
        return startAt + hostContainerPullMs;
      }
      // host-ctr: 5 retries, then "retries exhausted"; systemd restarts it every 45 s with the same answer.
      journal.push(
        `host-containers@${name}: failed to pull image. waiting before retrying... error=${denied.action} denied on ${repository.arn}` +
          (denied.explanation ? `: ${denied.explanation}` : ''),
        `host-containers@${name}: retries exhausted; systemd restarts the unit every 45 s (Restart=always) and it is denied again`,
      );
      return undefined;
    };
    const start = runningSince + hostContainersStartMs;
    // The control container's image first, then the admin container's (each unit pulls on its own; the order and the
    // sequence are a simplification).
    const controlRunningAt = pull('control', start);
    const adminPulledAt = pull('admin', start + hostContainerPullMs);
    const agentOnlineAt = controlRunningAt === undefined ? undefined : Math.max(controlRunningAt, runningSince + this.agentOnlineMs());
    return {
      runningSince,
      controlRunningAt,
      agentOnlineAt,
      adminReadyAt: adminPulledAt === undefined ? undefined : adminPulledAt + adminStartMs,
      journal,
    };
  }
}
