/**
 * `npm run bench -- simulation`: what the wait loops' poll intervals cost, measured in the simulation.
 *
 * For each interval choice and a few workloads (1, 6 and 20 images), runs a whole build on the virtual clock and
 * reads, from the simulated account, when each AWS event really happened (SSM agent online, pull command done,
 * instance stopped, snapshot completed), and from the execution output when the workflow noticed it. Prints the
 * time lost per event, the build's duration, and the state transitions and Lambda invocations per build.
 * Durations are the simulated AWS's (simulation/aws/ec2.ts, ssm-commands.ts), not real AWS's.
 *
 * Then Step Functions' quotas (simulation/sfn-quotas.ts): the largest payload at the largest input in each layout
 * (which state, bytes, share of the 256 KiB quota), and the history events of a typical build (quota 25,000).
 */
import '../simulation/environment';
import type { AslDefinition, SimulationReport } from '../simulation/run-state-machine';
import { loadDefinition, runSimulation } from '../simulation/run-state-machine';
import { createSimulatedAccount } from '../simulation/aws/account';
import { maximumInput } from '../simulation/max-input';
import { PAYLOAD_LIMIT_BYTES, lambdaInvokeResult, payloadBytes } from '../simulation/sfn-quotas';
import { HISTORY_EVENT_LIMIT } from '../simulation/execution-history';

type Intervals = { WaitForSsmAgent: number; WaitForPull: number; WaitForStop: number; WaitForSnapshot: number };

/** The intervals statemachine/snapshot-factory.asl.json uses today. */
const CURRENT: Intervals = (() => {
  const map = Object.values(loadDefinition().States).find((state) => state.Type === 'Map');
  const seconds = (name: string) => map.ItemProcessor.States[name].Seconds as number;
  return { WaitForSsmAgent: seconds('WaitForSsmAgent'), WaitForPull: seconds('WaitForPull'), WaitForStop: seconds('WaitForStop'), WaitForSnapshot: seconds('WaitForSnapshot') };
})();

const CHOICES: { name: string; intervals: Intervals }[] = [
  { name: 'fast 5/5/5/10 s', intervals: { WaitForSsmAgent: 5, WaitForPull: 5, WaitForStop: 5, WaitForSnapshot: 10 } },
  { name: `ASL now ${Object.values(CURRENT).join('/')} s`, intervals: CURRENT },
  { name: 'middle 10/15/10/30 s', intervals: { WaitForSsmAgent: 10, WaitForPull: 15, WaitForStop: 10, WaitForSnapshot: 30 } },
  { name: 'slow 30/60/30/60 s', intervals: { WaitForSsmAgent: 30, WaitForPull: 60, WaitForStop: 30, WaitForSnapshot: 60 } },
];

const WORKLOADS = [1, 6, 20].map((count) => Array.from({ length: count }, (_, i) => `public.ecr.aws/bench/image-${i}:v1`));
/** Runs per workload, each with the simulated durations shifted a little, so polls do not line up with round numbers. */
const SAMPLES = 6;

/** Deterministic pseudo-random numbers (mulberry32), so every run of the benchmark prints the same figures. */
const random = (() => {
  let seed = 20260105;
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
})();
const around = (ms: number) => Math.round(ms * (0.75 + random() / 2));

const withIntervals = (intervals: Intervals) => (definition: AslDefinition): AslDefinition => {
  const map = Object.values(definition.States).find((state) => state.Type === 'Map');
  for (const [name, seconds] of Object.entries(intervals)) {
    const wait = map.ItemProcessor.States[name];
    if (!wait || wait.Type !== 'Wait') throw new Error(`no Wait state ${name}`);
    wait.Seconds = seconds;
  }
  return definition;
};

interface Lost {
  agentOnline: number;
  commandDone: number;
  stopped: number;
  snapshotCompleted: number;
}

/** Seconds between each AWS event and the workflow's noticing it, read from the simulated account. */
const lostSeconds = (report: SimulationReport): Lost => {
  const { account } = report;
  const snapshot = (report.output as { snapshots: { snapshotId: string; timings: Record<string, string> }[] }).snapshots[0]!;
  const t = (name: string) => Date.parse(snapshot.timings[name]!);
  const instance = [...account.ec2.instances.values()][0]!;
  const agentOnlineAt = instance.LaunchTime.getTime() + account.ec2.options.pendingMs + account.ssmCommands.options.agentOnlineMs;
  const command = [...account.ssmCommands.commands.values()][0]!;
  const stopCall = account.core.callsOf('ec2', 'StopInstances').find((call) => !call.error)!;
  const stoppedAt = stopCall.at + account.ec2.options.stoppingMs;
  const simulated = account.ec2.snapshots.get(snapshot.snapshotId)!;
  const completedAt = simulated.StartTime.getTime() + simulated.durationMs;
  return {
    agentOnline: (t('ssmOnlineAt') - agentOnlineAt) / 1000,
    commandDone: (t('pullFinishedAt') - command.finishAt) / 1000,
    stopped: (t('stoppedAt') - stoppedAt) / 1000,
    snapshotCompleted: (t('snapshotCompletedAt') - completedAt) / 1000,
  };
};

const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
const fmt = (n: number, digits = 1) => n.toFixed(digits).padStart(8);

const rows: string[] = [];
for (const choice of CHOICES) {
  const losses: Lost[] = [];
  const durations: number[] = [];
  const transitions: number[] = [];
  const invocations: number[] = [];
  for (const images of WORKLOADS.flatMap((workload) => Array.from({ length: SAMPLES }, () => workload))) {
    const account = createSimulatedAccount();
    const ec2 = account.ec2.options as { -readonly [K in keyof typeof account.ec2.options]: number };
    const ssm = account.ssmCommands.options as { -readonly [K in keyof typeof account.ssmCommands.options]: number };
    ec2.pendingMs = around(ec2.pendingMs);
    ec2.stoppingMs = around(ec2.stoppingMs);
    ec2.snapshotBaseMs = around(ec2.snapshotBaseMs);
    ssm.agentOnlineMs = around(ssm.agentOnlineMs);
    ssm.baseRunMs = around(ssm.baseRunMs);
    const report = await runSimulation({ input: { images }, account, transformDefinition: withIntervals(choice.intervals) });
    if (report.status !== 'SUCCEEDED') throw new Error(`${choice.name}: ${report.error}: ${report.cause}`);
    losses.push(lostSeconds(report));
    durations.push(report.durationMs / 1000);
    transitions.push(report.stateTransitions);
    invocations.push(report.lambdaInvocations);
  }
  const lost = (key: keyof Lost) => mean(losses.map((l) => l[key]));
  const totalLost = lost('agentOnline') + lost('commandDone') + lost('stopped') + lost('snapshotCompleted');
  rows.push(
    `${choice.name.padEnd(22)}${fmt(lost('agentOnline'))}${fmt(lost('commandDone'))}${fmt(lost('stopped'))}${fmt(lost('snapshotCompleted'))}${fmt(totalLost)}` +
      `${fmt(mean(durations), 0)}${fmt(mean(transitions), 0)}${fmt(mean(invocations), 0)}`,
  );
}

console.log(`Poll intervals (SSM agent / pull / stop / snapshot), one build, mean of ${SAMPLES} runs each of 1, 6 and 20 images, simulated durations varied ±25 %`);
console.log('seconds lost between an AWS event and the workflow noticing it; transitions and Lambda invocations per build\n');
console.log(`${'intervals'.padEnd(22)}${'agent'.padStart(8)}${'pull'.padStart(8)}${'stop'.padStart(8)}${'snap'.padStart(8)}${'lost'.padStart(8)}${'build s'.padStart(8)}${'trans'.padStart(8)}${'lambda'.padStart(8)}`);
for (const row of rows) console.log(row);

console.log('\nLargest payload at the largest input: 100 images x 2 architectures (quota 262,144 bytes per state input/output and Task result)');
const builtOutputs = new Map<string, { snapshots: { platforms: string[]; images: unknown[] }[] }>();
for (const pinned of [false, true]) {
  for (const layout of ['per-architecture', 'combined'] as const) {
    const report = await runSimulation({ input: maximumInput(layout, { pinned }) });
    if (report.status === 'SUCCEEDED') builtOutputs.set(layout, report.output as never);
    const largest = report.largestPayload!;
    const where = `${largest.state} ${largest.kind}${largest.index === undefined ? '' : ` [${largest.index}]`}`;
    const ended = report.status === 'SUCCEEDED' ? 'built' : `ended ${report.status} at ${report.cause?.split(':')[0]}`;
    console.log(
      `  ${(pinned ? '520-char pinned' : '384-char tag').padEnd(16)} ${layout.padEnd(17)} ${String(largest.bytes).padStart(7)} bytes ${((largest.bytes / PAYLOAD_LIMIT_BYTES) * 100).toFixed(1).padStart(5)} %  ${where}; ${ended}`,
    );
  }
}

// PrepareBuild refuses 100 pinned 520-character references before launch (one SSM command cannot carry their script), so their
// execution output is computed: the tag build's output with the pinned references and their digests in its images.
const pinnedImages = maximumInput('combined', { pinned: true }).images;
for (const [layout, output] of builtOutputs) {
  const swapped = {
    ...output,
    snapshots: output.snapshots.map((snapshot) => ({
      ...snapshot,
      images: pinnedImages.flatMap((reference) => snapshot.platforms.map((platform) => ({ reference, platform, digest: reference.slice(reference.indexOf('@') + 1) }))),
    })),
  };
  const bytes = payloadBytes(lambdaInvokeResult(swapped, '00000000-0000-4000-8000-000000000000'));
  console.log(`  ${'520-char pinned'.padEnd(16)} ${layout.padEnd(17)} ${String(bytes).padStart(7)} bytes ${((bytes / PAYLOAD_LIMIT_BYTES) * 100).toFixed(1).padStart(5)} %  PublishSnapshot task result, computed`);
}

console.log(`\nExecution history of a typical build (quota ${HISTORY_EVENT_LIMIT.toLocaleString('en-US')} events)`);
for (const [label, input] of [
  ['6 images, x86_64', { images: WORKLOADS[1] }],
  ['6 images, x86_64 + arm64', { images: WORKLOADS[1], architectures: ['x86_64', 'arm64'] }],
  ['20 images, x86_64 + arm64', { images: WORKLOADS[2], architectures: ['x86_64', 'arm64'] }],
] as const) {
  const report = await runSimulation({ input });
  console.log(`  ${label.padEnd(28)} ${String(report.historyEvents).padStart(6)} events (${((report.historyEvents / HISTORY_EVENT_LIMIT) * 100).toFixed(1)} %), ${report.stateTransitions} state transitions`);
}
