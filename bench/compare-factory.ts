/**
 * The factory's side of `npm run bench -- compare`: runs one build in the simulation (simulation/run-state-machine.ts
 * runSimulation) and reads its figures from the report and the simulated account, whatever the simulation charges
 * (Lambda run time, cold starts and transition latency included once it charges them: they show in the report's
 * duration and its history's timestamps). Then gives snapshot.sh's model the same latencies, read from the same
 * simulated account (simulation/aws/ec2.ts, ssm-commands.ts, bottlerocket-host.ts), so both sides wait for the same
 * AWS.
 */
import type { SimulatedAccount } from '../simulation/aws/account';
import type { HistoryEvent } from '../simulation/execution-history';
import { runSimulation, type SimulationReport } from '../simulation/run-state-machine';
import type { ScriptLatencies, ScriptRun } from './compare-model';
import { instanceCost, LAMBDA, SFN_PER_TRANSITION, volumeCost } from './compare-pricing';

/** One build's figures. Costs are USD at list prices; `undefined` where a price is missing. */
export interface BuildFigures {
  makespanMs: number;
  instanceSeconds: number;
  stateTransitions: number;
  lambdaInvocations: number;
  lambdaGbSeconds: number;
  cost: { ec2?: number; ebs: number; stepFunctions: number; lambda: number; total?: number };
  /** Data written to the data volumes, GiB: what the snapshots store. */
  snapshotGiB: number;
  /** Instance types without a price in compare-pricing.ts. */
  unpriced: string[];
}

export class FactoryBuildFailedError extends Error {
  constructor(scenario: string, report: SimulationReport) {
    super(`${scenario}: the simulated build ended ${report.status}: ${report.error ?? ''} ${report.cause ?? ''}`.trim());
    this.name = 'FactoryBuildFailedError';
  }
}

/** Lambda memory (MB) per function file name, from the synthesized template the simulation deployed. */
export type MemoryByFunction = Record<string, number>;

/** Billed Lambda duration of the execution: each Task attempt from TaskStarted to its end, in 1 ms increments, times memory. */
export const lambdaGbSeconds = (history: HistoryEvent[], memoryMb: MemoryByFunction, defaultMemoryMb: number): number => {
  const byId = new Map(history.map((event) => [event.id, event]));
  let gbSeconds = 0;
  for (const end of history) {
    if (end.type !== 'TaskSucceeded' && end.type !== 'TaskFailed' && end.type !== 'TaskTimedOut') continue;
    let started: HistoryEvent | undefined = byId.get(end.previousEventId);
    while (started && started.type !== 'TaskStarted') started = byId.get(started.previousEventId);
    const scheduled = started && byId.get(started.previousEventId);
    if (!started) continue;
    const parameters = scheduled?.taskScheduledEventDetails?.parameters ?? '';
    const name = /function:snapshot-factory-([a-z-]+)/.exec(parameters)?.[1];
    const memory = (name && memoryMb[name]) || defaultMemoryMb;
    const billedMs = Math.max(LAMBDA.billingIncrementMs, Math.ceil(end.timestamp - started.timestamp));
    gbSeconds += (memory / 1024) * (billedMs / 1000);
  }
  return gbSeconds;
};

/** When each instance ran (from `running` to its first stop or terminate request) and when its volumes went. */
const instanceIntervals = (account: SimulatedAccount, endedAt: number) =>
  [...account.ec2.instances.values()].map((instance) => {
    const runningFrom = instance.runningSince ?? instance.LaunchTime.getTime() + account.ec2.options.pendingMs;
    const names = (operation: string) =>
      account.core
        .callsOf('ec2', operation)
        .filter((call) => !call.error && ((call.input as { InstanceIds?: string[] }).InstanceIds ?? []).includes(instance.InstanceId))
        .map((call) => call.at);
    const stopAt = Math.min(...names('StopInstances'), ...names('TerminateInstances'), endedAt);
    const terminateAt = Math.min(...names('TerminateInstances'), endedAt);
    return {
      instance,
      runningSeconds: Math.max(0, stopAt - runningFrom) / 1000,
      // DeleteOnTermination volumes are deleted once the instance has terminated.
      volumesUntil: terminateAt + account.ec2.options.shuttingDownMs,
    };
  });

/** The factory's figures of one finished simulated build. */
export const factoryFigures = (report: SimulationReport, memoryMb: MemoryByFunction, defaultMemoryMb: number): BuildFigures => {
  const { account } = report;
  const intervals = instanceIntervals(account, report.endedAt);
  const unpriced: string[] = [];
  let ec2: number | undefined = 0;
  let ebs = 0;
  let snapshotGiB = 0;
  for (const { instance, runningSeconds, volumesUntil } of intervals) {
    const cost = instanceCost(instance.InstanceType, runningSeconds);
    if (cost === undefined) unpriced.push(instance.InstanceType);
    ec2 = cost === undefined || ec2 === undefined ? undefined : ec2 + cost;
    for (const device of instance.blockDevices) {
      const volume = account.ec2.volumes.get(device.volumeId);
      if (!volume) continue;
      const seconds = (volumesUntil - volume.CreateTime.getTime()) / 1000;
      ebs += volumeCost({ sizeGiB: volume.Size, iops: volume.Iops ?? 3000, throughputMBps: volume.Throughput ?? 125, seconds });
      if (device.deviceName === '/dev/xvdb') snapshotGiB += Math.min(volume.Size, volume.writtenGiB ?? 0);
    }
  }
  const gbSeconds = lambdaGbSeconds(report.history, memoryMb, defaultMemoryMb);
  const lambda = report.lambdaInvocations * LAMBDA.perRequest.usd + gbSeconds * LAMBDA.perGbSecondArm.usd;
  const stepFunctions = report.stateTransitions * SFN_PER_TRANSITION.usd;
  return {
    makespanMs: report.durationMs,
    instanceSeconds: intervals.reduce((sum, i) => sum + i.runningSeconds, 0),
    stateTransitions: report.stateTransitions,
    lambdaInvocations: report.lambdaInvocations,
    lambdaGbSeconds: gbSeconds,
    cost: { ec2, ebs, stepFunctions, lambda, total: ec2 === undefined ? undefined : ec2 + ebs + stepFunctions + lambda },
    snapshotGiB,
    unpriced,
  };
};

/** The data volume snapshot.sh's stack gives the builder (ebs-snapshot-instance.yaml: /dev/xvdb, gp3, 4000 IOPS, 1000 MiB/s; -s default 50). */
export const SCRIPT_DATA_VOLUME = { sizeGiB: 50, iops: 4000, throughputMBps: 1000 } as const;
/** Its OS volume (/dev/xvda, 10 GiB gp3, baseline performance). */
export const SCRIPT_OS_VOLUME = { sizeGiB: 10, iops: 3000, throughputMBps: 125 } as const;
/** The script's default instance type (snapshot.sh line 139). */
export const SCRIPT_INSTANCE_TYPE = 'm5.large';

/**
 * The latencies snapshot.sh meets in the same simulated account: EC2's and SSM's durations from their options, the
 * builder's boot from the simulated host (bottlerocket-host.ts) of the factory's first builder, each pull as the
 * simulated agent charges it (`pullMs`, measured by bench/compare-probe.ts), and the snapshot of the script's one volume, which holds every platform of every image, as simulated EC2 times it
 * (ec2.ts createSnapshot: `snapshotBaseMs` + min(volume size, GiB written) x `snapshotMsPerGiB`).
 */
export const scriptLatenciesFrom = (report: SimulationReport, pullMs: number[], stackResourcesMs: number): ScriptLatencies => {
  const { account } = report;
  const first = [...account.ec2.instances.values()][0];
  if (!first?.runningSince) throw new Error('the factory build launched no builder that ran: no boot timeline to read');
  const boot = account.bottlerocket.bootsOf(first.InstanceId)[0] ?? account.bottlerocket.bootAt(first.InstanceId, first.runningSince);
  if (boot.agentOnlineAt === undefined || boot.adminReadyAt === undefined) throw new Error(`builder ${first.InstanceId}: its simulated boot never brought up the SSM agent and admin container`);
  const written = [...account.ec2.volumes.values()].reduce((sum, volume) => sum + (volume.writtenGiB ?? 0), 0);
  const { ec2, ssmCommands } = account;
  return {
    stackResourcesMs,
    pendingMs: ec2.options.pendingMs,
    agentOnlineAfterRunningMs: boot.agentOnlineAt - boot.runningSince,
    adminReadyAfterRunningMs: boot.adminReadyAt - boot.runningSince,
    invocationVisibleMs: ssmCommands.options.invocationVisibleMs,
    deliveryMs: ssmCommands.options.deliveryMs,
    pullMs,
    stoppingMs: ec2.options.stoppingMs,
    snapshotMs: ec2.options.snapshotBaseMs + Math.min(SCRIPT_DATA_VOLUME.sizeGiB, written) * ec2.options.snapshotMsPerGiB,
    shuttingDownMs: ec2.options.shuttingDownMs,
  };
};

/** Runs one factory build in `account` and fails loudly when it does not succeed. */
export const runFactoryBuild = async (scenario: string, input: Record<string, unknown>, account: SimulatedAccount): Promise<SimulationReport> => {
  const report = await runSimulation({ input, account });
  if (report.status !== 'SUCCEEDED') throw new FactoryBuildFailedError(scenario, report);
  return report;
};

/** snapshot.sh's figures of one modelled run: its m5.large and its two gp3 volumes, priced like the factory's. */
export const scriptFigures = (run: ScriptRun): { makespanMs: number; instanceSeconds: number; cost: { ec2?: number; ebs: number; total?: number } } => {
  const instanceSeconds = (run.instanceRunningMs.to - run.instanceRunningMs.from) / 1000;
  const volumeSeconds = (run.volumesMs.to - run.volumesMs.from) / 1000;
  const ec2 = instanceCost(SCRIPT_INSTANCE_TYPE, instanceSeconds);
  const ebs = volumeCost({ ...SCRIPT_DATA_VOLUME, seconds: volumeSeconds }) + volumeCost({ ...SCRIPT_OS_VOLUME, seconds: volumeSeconds });
  return { makespanMs: run.makespanMs, instanceSeconds, cost: { ec2, ebs, total: ec2 === undefined ? undefined : ec2 + ebs } };
};
