/**
 * Simulated SSM agent registration and Run Command, over virtual time (`Date.now()`; tests drive it with fake
 * timers), answering with SSM's own error codes and limits.
 *
 * Agent: the builder boots as simulation/aws/bottlerocket-host.ts models it (`host` options): host-ctr pulls the
 * control and admin host containers from Bottlerocket's ECR account as the builder (IAM-authorized). When the control
 * container could be pulled, the agent registers `agentOnlineMs` (default 30 s) after the instance reached `running`
 * (SimulatedEc2.runningSince); DescribeInstanceInformation then lists it `Online`. When it could not, the agent never
 * registers (the build ends in SsmAgentTimeoutError, as on AWS). Once registered, it reports `ConnectionLost` while
 * the instance is not running; a never-registered instance is simply not listed.
 *
 * The admin container: a script's first host command meets it as the boot left it. The factory's script waits for it
 * (its `ADMIN_WAIT=` line, up to that many seconds; the wait delays the whole run); a script without that line fails
 * at once with "could not stop kubelet on the host: ctr: no running task found..." as a real host answers; one whose
 * wait runs out fails with the script's own SNAPSHOT_FACTORY_ERROR.
 *
 * Private ECR images (`CREDS=` 1): each pull is authorized as the builder (ecr:GetAuthorizationToken on `*`, then
 * ecr:BatchGetImage and ecr:GetDownloadUrlForLayer on the image's repository ARN); a denial fails that image with the
 * text the real host reports (the credential provider's AccessDeniedException, or ECR's 403 Forbidden through ctr).
 *
 * Run Command (`AWS-RunShellScript` only): SendCommand validates like SSM (DocumentName; InstanceIds exist and are
 * Online, else `InvalidInstanceId`; Comment <= 100 and TimeoutSeconds 30..2592000, else `ValidationException`;
 * `commands` present and `executionTimeout` 1..172800, else `InvalidParameters`; parameters larger than
 * {@link SSM_COMMAND_LIMITS.maxParametersBytes} in total, else `MaxDocumentSizeExceeded`). The invocation then does not
 * exist for `invocationVisibleMs` (1.5 s; GetCommandInvocation answers `InvocationDoesNotExist`, as SSM does just
 * after SendCommand), is `Pending` until `deliveryMs` (2 s), `InProgress` while it "runs", then ends
 * `Success`/`Failed`/`TimedOut`, or `Cancelled` after CancelCommand.
 *
 * The simulated agent "runs" the factory's pull script by reading its `REFS=(…)`, `PLATFORMS=(…)` and
 * `CONCURRENCY=` lines and printing the report lines a real run prints, in the script's order (successes, failures,
 * end marker) and made by the same definition the script's printf formats come from (`reportLine`,
 * functions/lib/pull-script.ts), with
 * deterministic digests and sizes per reference, then the `SNAPSHOT_FACTORY_VOLUME` line (bytes used: what the
 * successful pulls wrote; total: the data volume's size). Duration: `baseRunMs` (15 s: the admin wait, kubelet stop,
 * store emptying and the verification's three listings) + the pull phase, scheduled as the script schedules it
 * (simulation/aws/pull-schedule.ts: every (image, platform) pull is one job, at most `CONCURRENCY` at once), each
 * pull taking `pullMs` (20 s). stdout/stderr are truncated to 24,000 / 8,000 characters like GetCommandInvocation does. On
 * Success it tells SimulatedEc2 how much data the pull wrote (compressed size x 2), which sets the snapshot time.
 *
 * Fault hooks (each applies to the next SendCommand only unless said otherwise):
 * - `nextCommandFails(reason)`: ends `Failed` (exit 1); the first image is reported failed with `reason`.
 * - `nextCommandTimesOut()`: stays InProgress until its `executionTimeout`, then `TimedOut` (ExecutionTimedOut).
 * - `neverFinish()`: every later command stays InProgress forever (a hung agent); `finishAgain()` undoes it.
 * - `agentNeverOnline(instanceId?)`: the agent of that instance (or of every instance) never registers.
 * - `dataVolumeTooSmall()`: ends `Failed`; half the pulls are reported, the rest fail with "no space left on
 *   device", and a `SNAPSHOT_FACTORY_DISK` line says how much space was needed.
 * - `imageMissing(reference)`: every later pull of that reference (as written or normalised) fails "not found".
 * - `tagMoved(reference)`: the registry now serves another digest for it than prepare-build resolved; the
 *   script reports that pull failed ("the tag moved").
 * - `imageUnverified(reference, platform?, reason?)`: every later pull of that reference (on that platform, or on
 *   all) succeeds, but the script's verification finds it incomplete (default: a layer missing from the content
 *   store, as when something removed it after the pull): an `UNVERIFIED` line, the command ends `Failed`.
 *
 * Digests: the script's `DIGESTS=(…)` line carries what prepare-build resolved; the simulated registry serves
 * exactly that, so the whole simulation agrees with the simulated ECR/registry. Unresolved images get
 * {@link simulatedDigest}(reference).
 * - `core.inject(...)` fails whole requests (throttling, access denied...).
 */
import { createHash, randomUUID } from 'node:crypto';
import { isEcrDomain, parseImageReference } from '../../functions/lib/image-reference';
import { EXPECTED_DIGEST_MARK, REASON_MAX_CHARS, reportLine } from '../../functions/lib/pull-script';
import { SimulatedBottlerocketHost, type BottlerocketBootOptions } from './bottlerocket-host';
import { pullPhaseMs, schedulePulls } from './pull-schedule';
import { AwsServiceError, type SimulatedAwsCore } from './core';
import type { SimulatedEc2 } from './ec2';

export const SSM_COMMAND_LIMITS = {
  maxCommentLength: 100,
  minTimeoutSeconds: 30,
  maxTimeoutSeconds: 2_592_000,
  minExecutionTimeout: 1,
  maxExecutionTimeout: 172_800,
  maxInstanceIds: 50,
  /**
   * SSM's size limit for what a command carries. Source: botocore data/ssm/2014-11-06/service-2.json: the
   * `Parameters` shape of SendCommandRequest has no size constraint of its own; the one size error SendCommand
   * lists is `MaxDocumentSizeExceeded`, documented "The size limit of a document is 64 KB" (also the SendCommand
   * API reference's Errors). Left out: SSM measures the document with the parameters resolved into it, so the real
   * limit falls a little below this for AWS-RunShellScript's own text; the factory keeps 4 KiB under it
   * (functions/lib/pull-command.ts MAX_COMMANDS_BYTES).
   */
  maxParametersBytes: 64 * 1024,
  stdoutChars: 24_000,
  stderrChars: 8_000,
} as const;

export interface SimulatedSsmOptions {
  agentOnlineMs?: number;
  invocationVisibleMs?: number;
  deliveryMs?: number;
  baseRunMs?: number;
  pullMs?: number;
  /** The builder's boot (host containers, admin container): simulation/aws/bottlerocket-host.ts. */
  host?: BottlerocketBootOptions;
}

const DEFAULTS: Required<Omit<SimulatedSsmOptions, 'host'>> = {
  agentOnlineMs: 30_000,
  invocationVisibleMs: 1_500,
  deliveryMs: 2_000,
  baseRunMs: 15_000,
  pullMs: 20_000,
};

type FinalStatus = 'Success' | 'Failed' | 'TimedOut';

interface SimulatedCommand {
  CommandId: string;
  InstanceId: string;
  DocumentName: string;
  Comment: string;
  Parameters: Record<string, string[]>;
  sentAt: number;
  executionTimeoutSeconds: number;
  finishAt: number;
  final: FinalStatus;
  stdout: string;
  stderr: string;
  responseCode: number;
  cancelledAt?: number;
  writtenGiB: number;
  recorded: boolean;
}

interface Input {
  [key: string]: unknown;
}

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

/** Values of a `NAME=('a' 'b')` line of the generated script. */
const arrayLine = (lines: string[], name: string, item: RegExp = /'([^']*)'/g): string[] | undefined => {
  const line = lines.find((l) => l.startsWith(`${name}=(`));
  if (!line) return undefined;
  return [...line.slice(name.length + 1).matchAll(item)].map((m) => m[1] ?? '');
};

/** What `apiclient exec admin ...` answers before the admin container runs (test/support/containerd.ts names why). */
export const ADMIN_NOT_RUNNING = 'ctr: no running task found: task admin not found: not found';

/** The digest the simulated registry serves for a reference nobody resolved beforehand. */
export const simulatedDigest = (reference: string): string => digestOf(reference);

const digestOf = (reference: string): string => `sha256:${createHash('sha256').update(`simulated:${reference}`).digest('hex')}`;

const sizeOf = (reference: string, platform: string): number => {
  const hash = createHash('sha256').update(`size:${reference}:${platform}`).digest();
  return 20 * MiB + (hash.readUInt32BE(0) % (400 * MiB));
};

export class SimulatedSsmCommands {
  readonly options: Required<Omit<SimulatedSsmOptions, 'host'>>;
  /** The builders' simulated boot: when (and whether) the SSM agent and the admin container come up. */
  readonly host: SimulatedBottlerocketHost;
  readonly commands = new Map<string, SimulatedCommand>();
  private readonly agentsNeverOnline = new Set<string>();
  /** Agents that were seen Online: they report ConnectionLost, not nothing, when their instance stops. */
  private readonly registeredBefore = new Set<string>();
  private allAgentsNeverOnline = false;
  private readonly missingImages = new Set<string>();
  private readonly movedTags = new Set<string>();
  private readonly unverified = new Map<string, { platform?: string; reason: string }>();
  private nextFailure?: { kind: 'fails'; reason: string } | { kind: 'timesOut' } | { kind: 'diskFull' };
  private hung = false;

  constructor(
    readonly core: SimulatedAwsCore,
    readonly ec2: SimulatedEc2,
    options: SimulatedSsmOptions = {},
  ) {
    const { host, ...timings } = options;
    this.options = { ...DEFAULTS, ...timings };
    this.host = new SimulatedBottlerocketHost(core, ec2, () => this.options.agentOnlineMs, host);
    core.register('ssm', {
      DescribeInstanceInformation: (input: Input) => this.describeInstanceInformation(input),
      SendCommand: (input: Input) => this.sendCommand(input),
      GetCommandInvocation: (input: Input) => this.getCommandInvocation(input),
      CancelCommand: (input: Input) => this.cancelCommand(input),
      ListCommandInvocations: (input: Input) => this.listCommandInvocations(input),
    });
  }

  // ---- fault hooks -------------------------------------------------------------------------------

  nextCommandFails(reason = 'ctr: failed to resolve reference: unexpected status code 500'): void {
    this.nextFailure = { kind: 'fails', reason };
  }

  nextCommandTimesOut(): void {
    this.nextFailure = { kind: 'timesOut' };
  }

  neverFinish(): void {
    this.hung = true;
  }

  finishAgain(): void {
    this.hung = false;
  }

  agentNeverOnline(instanceId?: string): void {
    if (instanceId) this.agentsNeverOnline.add(instanceId);
    else this.allAgentsNeverOnline = true;
  }

  dataVolumeTooSmall(): void {
    this.nextFailure = { kind: 'diskFull' };
  }

  imageMissing(reference: string): void {
    this.missingImages.add(parseImageReference(reference).normalized);
  }

  tagMoved(reference: string): void {
    this.movedTags.add(parseImageReference(reference).normalized);
  }

  imageUnverified(reference: string, platform?: string, reason?: string): void {
    const normalized = parseImageReference(reference).normalized;
    this.unverified.set(normalized, {
      platform,
      reason: reason ?? `incomplete: the layer ${simulatedDigest(`${normalized}#layer`)} is missing from the content store`,
    });
  }

  // ---- queries -----------------------------------------------------------------------------------

  /** `Online`, `ConnectionLost`, or undefined while the agent has not registered. */
  pingStatus(instanceId: string): 'Online' | 'ConnectionLost' | undefined {
    if (this.allAgentsNeverOnline || this.agentsNeverOnline.has(instanceId)) return undefined;
    // instanceState() brings the instance's lazily computed state (and runningSince) up to now.
    const state = this.ec2.instanceState(instanceId);
    const instance = this.ec2.instances.get(instanceId);
    if (!instance?.runningSince) return undefined;
    // Never, when the control container (which runs the agent) could not be pulled in this boot.
    const registeredAt = this.host.bootAt(instanceId, instance.runningSince).agentOnlineAt ?? Infinity;
    if (state === 'running') {
      if (Date.now() >= registeredAt) return 'Online';
      // A restarted instance's agent had registered before: it stays known, as ConnectionLost, until it reconnects.
      return this.registeredBefore.has(instanceId) ? 'ConnectionLost' : undefined;
    }
    return this.registeredBefore.has(instanceId) || Date.now() >= registeredAt ? 'ConnectionLost' : undefined;
  }

  // ---- operations --------------------------------------------------------------------------------

  private describeInstanceInformation(input: Input): unknown {
    const filters = [
      ...((input.Filters as { Key: string; Values: string[] }[] | undefined) ?? []),
      ...((input.InstanceInformationFilterList as { key: string; valueSet: string[] }[] | undefined) ?? []).map((f) => ({
        Key: f.key,
        Values: f.valueSet,
      })),
    ];
    let ids: string[] | undefined;
    for (const filter of filters) {
      if (filter.Key !== 'InstanceIds') {
        throw new AwsServiceError('InvalidInstanceInformationFilterValue', `The simulated SSM supports only the InstanceIds filter, not ${filter.Key}.`);
      }
      if (!filter.Values?.length) throw new AwsServiceError('InvalidFilterValue', 'Filter InstanceIds needs at least one value.');
      ids = filter.Values;
    }
    const candidates = ids ?? [...this.ec2.instances.keys()];
    const list = candidates.flatMap((id) => {
      const ping = this.pingStatus(id);
      if (!ping) return [];
      if (ping === 'Online') this.registeredBefore.add(id);
      return [
        {
          InstanceId: id,
          PingStatus: ping,
          LastPingDateTime: new Date(Date.now()),
          AgentVersion: '3.3.1142.0',
          IsLatestVersion: true,
          PlatformType: 'Linux',
          PlatformName: 'Bottlerocket',
          ResourceType: 'EC2Instance',
        },
      ];
    });
    return { InstanceInformationList: list };
  }

  private sendCommand(input: Input): unknown {
    const documentName = input.DocumentName as string | undefined;
    if (!documentName) throw new AwsServiceError('ValidationException', 'DocumentName is required.');
    if (documentName !== 'AWS-RunShellScript') throw new AwsServiceError('InvalidDocument', `Document ${documentName} does not exist in the simulated account.`);
    const comment = (input.Comment as string | undefined) ?? '';
    if (comment.length > SSM_COMMAND_LIMITS.maxCommentLength) {
      throw new AwsServiceError(
        'ValidationException',
        `1 validation error detected: Value '${comment}' at 'comment' failed to satisfy constraint: Member must have length less than or equal to 100`,
      );
    }
    const timeoutSeconds = input.TimeoutSeconds as number | undefined;
    if (timeoutSeconds !== undefined && (timeoutSeconds < SSM_COMMAND_LIMITS.minTimeoutSeconds || timeoutSeconds > SSM_COMMAND_LIMITS.maxTimeoutSeconds)) {
      throw new AwsServiceError('ValidationException', `1 validation error detected: Value '${timeoutSeconds}' at 'timeoutSeconds' failed to satisfy constraint: Member must have value between 30 and 2592000`);
    }
    const instanceIds = (input.InstanceIds as string[] | undefined) ?? [];
    if (instanceIds.length === 0 || instanceIds.length > SSM_COMMAND_LIMITS.maxInstanceIds) {
      throw new AwsServiceError('ValidationException', 'InstanceIds must list 1 to 50 managed nodes (the simulated SSM does not support Targets).');
    }
    for (const id of instanceIds) {
      if (this.pingStatus(id) !== 'Online') throw new AwsServiceError('InvalidInstanceId', 'Instances not in a valid state for account');
    }
    const parameters = (input.Parameters as Record<string, string[]> | undefined) ?? {};
    const commands = parameters.commands;
    if (!Array.isArray(commands) || commands.length === 0) throw new AwsServiceError('InvalidParameters', 'Parameter "commands" is required.');
    for (const name of Object.keys(parameters)) {
      if (!['commands', 'executionTimeout', 'workingDirectory'].includes(name)) {
        throw new AwsServiceError('InvalidParameters', `Parameter "${name}" is not defined in document AWS-RunShellScript.`);
      }
    }
    const executionTimeout = Number(parameters.executionTimeout?.[0] ?? '3600');
    if (!Number.isInteger(executionTimeout) || executionTimeout < SSM_COMMAND_LIMITS.minExecutionTimeout || executionTimeout > SSM_COMMAND_LIMITS.maxExecutionTimeout) {
      throw new AwsServiceError('InvalidParameters', `Parameter "executionTimeout" value ${parameters.executionTimeout?.[0]} is not in 1..172800.`);
    }
    const size = Buffer.byteLength(JSON.stringify(parameters));
    if (size > SSM_COMMAND_LIMITS.maxParametersBytes) {
      throw new AwsServiceError('MaxDocumentSizeExceeded', `The size limit of a document is 64 KB; the parameters are ${size} bytes.`);
    }

    const now = Date.now();
    const commandId = randomUUID();
    for (const instanceId of instanceIds) {
      this.commands.set(`${commandId}/${instanceId}`, {
        CommandId: commandId,
        InstanceId: instanceId,
        DocumentName: documentName,
        Comment: comment,
        Parameters: structuredClone(parameters),
        sentAt: now,
        executionTimeoutSeconds: executionTimeout,
        recorded: false,
        ...this.outcome(instanceId, commands, now, executionTimeout),
      });
    }
    this.nextFailure = undefined;
    return {
      Command: {
        CommandId: commandId,
        DocumentName: documentName,
        Comment: comment,
        Parameters: parameters,
        InstanceIds: instanceIds,
        RequestedDateTime: new Date(now),
        Status: 'Pending',
        TimeoutSeconds: timeoutSeconds ?? 3600,
        TargetCount: instanceIds.length,
      },
    };
  }

  /** What running the script produces, decided now (faults are consumed by this command). */
  private outcome(
    instanceId: string,
    commands: string[],
    now: number,
    executionTimeout: number,
  ): Pick<SimulatedCommand, 'finishAt' | 'final' | 'stdout' | 'stderr' | 'responseCode' | 'writtenGiB'> {
    const lines = commands.flatMap((c) => c.split('\n'));
    const refs = arrayLine(lines, 'REFS') ?? [];
    const expected = arrayLine(lines, 'DIGESTS') ?? [];
    const platforms = arrayLine(lines, 'PLATFORMS') ?? [];
    const creds = arrayLine(lines, 'CREDS', /\b([01])\b/g) ?? [];
    const concurrency = Math.max(1, Number(lines.find((l) => l.startsWith('CONCURRENCY='))?.split('=')[1] ?? '1') || 1);
    const adminWaitLine = lines.find((l) => l.startsWith('ADMIN_WAIT='));
    const pulls = refs.flatMap((reference) => platforms.map((platform) => ({ reference, platform })));
    const timeoutAt = now + executionTimeout * 1000;
    const failure = this.nextFailure;

    if (this.hung) return { finishAt: Infinity, final: 'Success', stdout: '', stderr: '', responseCode: -1, writtenGiB: 0 };

    // The script's first host command meets the admin container as the boot left it (bottlerocket-host.ts).
    const startsAt = now + this.options.deliveryMs;
    const adminReadyAt = this.host.adminReadyAt(instanceId) ?? Infinity;
    let adminDelay = 0;
    if (adminReadyAt > startsAt) {
      const fatal = (atMs: number, reason: string) => ({
        finishAt: Math.min(atMs, timeoutAt),
        final: atMs > timeoutAt ? ('TimedOut' as const) : ('Failed' as const),
        stdout: `${[reportLine('summary', [pulls.length, 0, pulls.length]), reportLine('error', [reason]), reportLine('end', [])].join('\n')}\n`,
        stderr: `snapshot-factory: ${reason}\n`,
        responseCode: atMs > timeoutAt ? -1 : 1,
        writtenGiB: 0,
      });
      if (!adminWaitLine) {
        // A script that does not wait: its first apiclient exec (systemctl stop kubelet) gets ctr's refusal.
        return fatal(startsAt + 1_000, `could not stop kubelet on the host: ${ADMIN_NOT_RUNNING}`);
      }
      const waitMs = Number(adminWaitLine.split('=')[1]) * 1000;
      if (adminReadyAt - startsAt > waitMs) {
        return fatal(
          startsAt + waitMs,
          `the admin container did not accept apiclient exec within ${waitMs / 1000} s (is [settings.host-containers.admin] enabled in the user data?): ${ADMIN_NOT_RUNNING}`,
        );
      }
      adminDelay = adminReadyAt - startsAt;
    }
    const pullPhase = pullPhaseMs(schedulePulls(pulls.map(() => this.options.pullMs), concurrency));
    const duration = adminDelay + this.options.baseRunMs + pullPhase;
    if (failure?.kind === 'timesOut' || now + duration > timeoutAt) {
      return { finishAt: timeoutAt, final: 'TimedOut', stdout: '', stderr: 'pull start …\n', responseCode: -1, writtenGiB: 0 };
    }

    const ok: string[] = [];
    const unverifiedLines: string[] = [];
    const failed: string[] = [];
    const humanFailures: string[] = [];
    let bytes = 0;
    pulls.forEach(({ reference, platform }, index) => {
      // The script names an image and a platform by their index in REFS and PLATFORMS.
      const i = Math.floor(index / Math.max(platforms.length, 1));
      const j = index % Math.max(platforms.length, 1);
      let reason: string | undefined;
      const wanted = expected[Math.floor(index / Math.max(platforms.length, 1))] ?? '';
      // The simulated registry serves what prepare-build resolved, unless the tag "moved" since.
      const moved = this.movedTags.has(reference);
      const digest = wanted && !moved ? wanted : digestOf(moved ? `${reference}#moved` : reference);
      const ecrDenial = this.privateEcrDenial(instanceId, reference, creds[Math.floor(index / Math.max(platforms.length, 1))] === '1');
      if (ecrDenial) {
        reason = ecrDenial;
      } else if (this.missingImages.has(reference)) {
        reason = `ctr: failed to resolve reference "${reference}": ${reference}: not found`;
      } else if (failure?.kind === 'fails' && index === 0) {
        reason = failure.reason;
      } else if (failure?.kind === 'diskFull' && index >= Math.floor(pulls.length / 2)) {
        reason = `ctr: failed to extract layer: write /var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/${index}/fs/data: no space left on device`;
      } else if (wanted && digest !== wanted) {
        reason = `pulled ${digest} but the build resolved ${wanted}: the tag moved since; run the build again`;
      }
      const notWhole = this.unverified.get(reference);
      if (!reason && notWhole && (!notWhole.platform || notWhole.platform === platform)) {
        // The pull ended; the script's verification, after every pull, finds it incomplete.
        bytes += sizeOf(reference, platform);
        unverifiedLines.push(reportLine('unverified', [i, j, notWhole.reason]));
        humanFailures.push(`verification failed: ${reference} ${platform} ${notWhole.reason}`);
      } else if (reason) {
        // The script's one_line: reasons are cut to REASON_MAX_CHARS characters.
        const cut = reason.slice(0, REASON_MAX_CHARS);
        failed.push(reportLine('failed', [i, j, cut]));
        humanFailures.push(`pull failed: ${reference} ${platform} ${cut}`);
      } else {
        const size = sizeOf(reference, platform);
        bytes += size;
        ok.push(reportLine('image', [i, j, size, digest === wanted ? EXPECTED_DIGEST_MARK : digest]));
      }
    });
    const report = [reportLine('summary', [pulls.length, ok.length, failed.length + unverifiedLines.length])];
    // The script's VOLUME line: what the pulls wrote (unpacked, about twice the compressed size) on the volume.
    const volumeBytes = this.dataVolumeBytes(instanceId);
    report.push(reportLine('volume', [Math.min(bytes * 2 + 64 * MiB, volumeBytes), volumeBytes]));
    if (failure?.kind === 'diskFull') {
      const needed = Math.ceil((pulls.reduce((sum, p) => sum + sizeOf(p.reference, p.platform), 0) * 2.5) + GiB);
      report.push(reportLine('disk', [needed, Math.floor(0.4 * GiB), Math.max(needed - 3 * GiB, GiB)]));
    }
    // The script's order: successes, then failures, then the end marker.
    report.push(...ok, ...unverifiedLines, ...failed, reportLine('end', []));
    const stderr = humanFailures.join('\n');
    const anyFailed = failed.length + unverifiedLines.length > 0;
    return {
      finishAt: now + duration,
      final: anyFailed ? 'Failed' : 'Success',
      stdout: pulls.length > 0 ? `${report.join('\n')}\n` : '',
      stderr: stderr ? `${stderr}\n` : '',
      responseCode: anyFailed ? 1 : 0,
      writtenGiB: (bytes * 2) / GiB,
    };
  }

  /** Size of the instance's data volume (`/dev/xvdb`) in bytes: the script's `df --output=size`. */
  private dataVolumeBytes(instanceId: string): number {
    const device = this.ec2.instances.get(instanceId)?.blockDevices.find((d) => d.deviceName === '/dev/xvdb');
    return (device ? (this.ec2.volumes.get(device.volumeId)?.Size ?? 0) : 0) * GiB;
  }

  /**
   * Why a private ECR pull by the script fails for the builder's role, in the words the real host would report, or
   * undefined when the role may pull it. The credential provider calls ecr:GetAuthorizationToken with the instance
   * role (cloud-provider-aws cmd/ecr-credential-provider: klog line, then the AWS error); containerd then reads the
   * manifest (ecr:BatchGetImage) and the layers (ecr:GetDownloadUrlForLayer), and ECR answers 403 Forbidden
   * (containerd core/remotes/docker/resolver.go "unexpected status from HEAD request to <url>: 403 Forbidden";
   * fetcher "httpReadSeeker: failed open: unexpected status code <url>: 403 Forbidden").
   */
  private privateEcrDenial(instanceId: string, reference: string, viaProvider: boolean): string | undefined {
    const parsed = parseImageReference(reference);
    if (!viaProvider || !isEcrDomain(parsed.domain)) return undefined;
    const [account = '', , , region = ''] = parsed.domain.split('.');
    const partition = region.startsWith('cn-') ? 'aws-cn' : region.startsWith('us-gov-') ? 'aws-us-gov' : 'aws';
    const arn = `arn:${partition}:ecr:${region}:${account}:repository/${parsed.path}`;
    const denied = this.host.deniedPull(instanceId, arn, 'credential-provider');
    if (!denied) return undefined;
    // The simulation knows the instance profile, not its role's name: "builder" stands in for it in the message.
    const role = `arn:${partition}:sts::${this.core.accountId}:assumed-role/builder/${instanceId}`;
    const url = `https://${parsed.domain}/v2/${parsed.path}`;
    switch (denied.action) {
      case 'ecr:GetAuthorizationToken':
        return (
          `credential provider failed: E1201 00:00:00.000000 1 main.go:0] Error running credential provider plugin: operation error ECR: ` +
          `GetAuthorizationToken, https response error StatusCode: 400, api error AccessDeniedException: User: ${role} is not authorized to ` +
          'perform: ecr:GetAuthorizationToken on resource: * because no identity-based policy allows the ecr:GetAuthorizationToken action (exit status 1)'
        );
      case 'ecr:BatchGetImage':
        return `ctr: failed to resolve reference "${reference}": unexpected status from HEAD request to ${url}/manifests/${parsed.tag ?? parsed.digest}: 403 Forbidden`;
      default:
        return `ctr: failed to copy: httpReadSeeker: failed open: unexpected status code ${url}/blobs/${simulatedDigest(`${reference}#layer`)}: 403 Forbidden`;
    }
  }

  private find(commandId: unknown, instanceId: unknown): SimulatedCommand {
    if (typeof commandId !== 'string' || commandId.length !== 36) {
      throw new AwsServiceError('InvalidCommandId', `Command ID ${String(commandId)} is not valid.`);
    }
    const command = this.commands.get(`${commandId}/${String(instanceId)}`);
    if (!command || Date.now() < command.sentAt + this.options.invocationVisibleMs) {
      throw new AwsServiceError('InvocationDoesNotExist', 'An error occurred (InvocationDoesNotExist) when calling the GetCommandInvocation operation');
    }
    return command;
  }

  private statusOf(command: SimulatedCommand): { Status: string; StatusDetails: string; ended: boolean } {
    const now = Date.now();
    if (command.cancelledAt !== undefined && command.cancelledAt < command.finishAt) {
      return { Status: 'Cancelled', StatusDetails: 'Cancelled', ended: true };
    }
    if (now < command.sentAt + this.options.deliveryMs) return { Status: 'Pending', StatusDetails: 'Pending', ended: false };
    if (now < command.finishAt) return { Status: 'InProgress', StatusDetails: 'InProgress', ended: false };
    if (command.final === 'TimedOut') return { Status: 'TimedOut', StatusDetails: 'ExecutionTimedOut', ended: true };
    if (command.final === 'Success' && !command.recorded) {
      command.recorded = true;
      this.ec2.recordDataWritten(command.InstanceId, command.writtenGiB);
    }
    return { Status: command.final, StatusDetails: command.final, ended: true };
  }

  private getCommandInvocation(input: Input): unknown {
    const command = this.find(input.CommandId, input.InstanceId);
    const { Status, StatusDetails, ended } = this.statusOf(command);
    const showOutput = ended && Status !== 'Cancelled';
    return {
      CommandId: command.CommandId,
      InstanceId: command.InstanceId,
      Comment: command.Comment,
      DocumentName: command.DocumentName,
      PluginName: 'aws:runShellScript',
      ResponseCode: ended ? command.responseCode : -1,
      ExecutionStartDateTime: new Date(command.sentAt + this.options.deliveryMs).toISOString(),
      ExecutionEndDateTime: ended ? new Date(Math.min(command.finishAt, command.cancelledAt ?? Infinity)).toISOString() : '',
      Status,
      StatusDetails,
      StandardOutputContent: showOutput ? command.stdout.slice(0, SSM_COMMAND_LIMITS.stdoutChars) : '',
      StandardOutputUrl: '',
      StandardErrorContent: showOutput ? command.stderr.slice(0, SSM_COMMAND_LIMITS.stderrChars) : '',
      StandardErrorUrl: '',
      CloudWatchOutputConfig: { CloudWatchLogGroupName: '', CloudWatchOutputEnabled: false },
    };
  }

  private cancelCommand(input: Input): unknown {
    const commandId = input.CommandId;
    const matching = [...this.commands.values()].filter((c) => c.CommandId === commandId);
    if (matching.length === 0) throw new AwsServiceError('InvalidCommandId', `Command ${String(commandId)} does not exist.`);
    for (const command of matching) {
      if (!this.statusOf(command).ended) command.cancelledAt = Date.now();
    }
    return {};
  }

  private listCommandInvocations(input: Input): unknown {
    const matching = [...this.commands.values()].filter(
      (c) => (!input.CommandId || c.CommandId === input.CommandId) && (!input.InstanceId || c.InstanceId === input.InstanceId),
    );
    return {
      CommandInvocations: matching.map((command) => ({
        CommandId: command.CommandId,
        InstanceId: command.InstanceId,
        Comment: command.Comment,
        DocumentName: command.DocumentName,
        RequestedDateTime: new Date(command.sentAt),
        Status: Date.now() < command.sentAt + this.options.invocationVisibleMs ? 'Pending' : this.statusOf(command).Status,
        StatusDetails: this.statusOf(command).StatusDetails,
      })),
    };
  }
}
