/**
 * `npm run bench -- simulation`: what the wait loops cost, measured in the simulation.
 *
 * For each wait strategy (the definition's computed waits, and fixed intervals for comparison) and 1, 10 and 50
 * images on one architecture, runs whole builds on the virtual clock with the latency model of
 * simulation/lambda-latency.ts (cold starts, invoke and run time, state transitions), the simulated AWS durations and
 * the latency figures each varied ±25 % per run (seeded, so every run of the benchmark prints the same figures). It
 * reads, from the simulated account, when each AWS event really happened (SSM agent Online, pull command ended,
 * instance stopped, snapshot completed), and from the run's events when the workflow moved on because of it (the
 * next stage's state entered). Prints the time lost per event and per build, its share of the build, and the state
 * transitions and Lambda invocations per build. Durations are the simulated AWS's (simulation/aws/ec2.ts,
 * ssm-commands.ts), not real AWS's.
 *
 * Then Step Functions' quotas (simulation/sfn-quotas.ts): the largest payload at the largest input in each layout
 * (which state, bytes, share of the 256 KiB quota), and the history events of a typical build (quota 25,000).
 */
import '../simulation/environment';
import type { AslDefinition, SimulationReport } from '../simulation/run-state-machine';
import { runSimulation } from '../simulation/run-state-machine';
import { createSimulatedAccount } from '../simulation/aws/account';
import { DEFAULT_LAMBDA_LATENCY, NO_LATENCY, varyLatency } from '../simulation/lambda-latency';
import { maximumInput } from '../simulation/max-input';
import { PAYLOAD_LIMIT_BYTES, lambdaInvokeResult, payloadBytes } from '../simulation/sfn-quotas';
import { HISTORY_EVENT_LIMIT } from '../simulation/execution-history';
import { defaultDeployment } from '../simulation/deploy/deployment';
import { seededRandom } from './seeded-random';
import { aroundWith, varySimulatedDurations } from './vary-durations';

const WAITS = ['WaitForSsmAgent', 'WaitForPull', 'WaitForStop', 'WaitForSnapshot'] as const;
type Intervals = Record<(typeof WAITS)[number], number>;

/**
 * `undefined`: the definition as it is (each check computes its next wait); otherwise fixed Seconds per Wait, with the
 * loops waiting before their first check, as the definition did before. `latency: false` charges no Lambda or
 * transition time, as the simulation did when issue 12 was measured.
 */
const ALL_CHOICES: { name: string; intervals?: Intervals; latency?: false; innerPoll?: false }[] = [
  { name: 'computed + inner poll (now)' },
  { name: 'computed, one look (before)', innerPoll: false },
  { name: 'fixed 10/10/10/15 s, one look', intervals: { WaitForSsmAgent: 10, WaitForPull: 10, WaitForStop: 10, WaitForSnapshot: 15 }, innerPoll: false },
  { name: 'same, no latency model', intervals: { WaitForSsmAgent: 10, WaitForPull: 10, WaitForStop: 10, WaitForSnapshot: 15 }, latency: false, innerPoll: false },
];

/** `BENCH_WAITS=computed` runs only the first two row sets (now and before, while tuning). */
const CHOICES = process.env.BENCH_WAITS === 'computed' ? ALL_CHOICES.slice(0, 2) : ALL_CHOICES;
/** Image counts per layout: one architecture, and the combined layout (both platforms in one build). */
const ROWS = [
  { images: 1, layout: 'x86_64' },
  { images: 10, layout: 'x86_64' },
  { images: 50, layout: 'x86_64' },
  { images: 20, layout: 'combined' },
  { images: 50, layout: 'combined' },
] as const;
const inputOf = (row: (typeof ROWS)[number]) =>
  row.layout === 'combined' ? { images: imagesOf(row.images), architectures: ['x86_64', 'arm64'], layout: 'combined' } : { images: imagesOf(row.images) };
const imagesOf = (count: number) => Array.from({ length: count }, (_, i) => `public.ecr.aws/bench/image-${i}:v1`);
/** Runs per image count, each with the simulated durations and latencies shifted a little. */
const SAMPLES = 6;

/** Deterministic pseudo-random numbers (mulberry32), so every run of the benchmark prints the same figures. */
const random = seededRandom(20260105);
const around = aroundWith(random);

/** Fixed intervals, as the definition had before its checks computed them: `Seconds` instead of `SecondsPath`. */
const withIntervals = (intervals?: Intervals) => (definition: AslDefinition): AslDefinition => {
  if (!intervals) return definition;
  const map = Object.values(definition.States).find((state) => state.Type === 'Map');
  for (const [name, seconds] of Object.entries(intervals)) {
    const wait = map.ItemProcessor.States[name];
    if (!wait || wait.Type !== 'Wait') throw new Error(`no Wait state ${name}`);
    delete wait.SecondsPath;
    wait.Seconds = seconds;
  }
  const states = map.ItemProcessor.States;
  states.SendPullCommand.Next = 'WaitForPull';
  states.StopInstance.Next = 'WaitForStop';
  states.CreateSnapshot.Next = 'WaitForSnapshot';
  return definition;
};

interface Lost {
  agentOnline: number;
  commandDone: number;
  stopped: number;
  snapshotCompleted: number;
}

/**
 * Seconds between each AWS event of the (only) build and the workflow entering the state that follows it, the
 * event's times read from the simulated account.
 */
const lostSeconds = (report: SimulationReport): Lost => {
  const { account } = report;
  const entered = (state: string) => report.events.find((e) => e.type === 'StateEntered' && e.state === state)!.at;
  const instance = [...account.ec2.instances.values()][0]!;
  const agentOnlineAt = account.ssmCommands.host.bootsOf(instance.InstanceId)[0]!.agentOnlineAt!;
  const command = [...account.ssmCommands.commands.values()][0]!;
  const stopCall = account.core.callsOf('ec2', 'StopInstances').find((call) => !call.error)!;
  const stoppedAt = stopCall.at + account.ec2.options.stoppingMs;
  const simulated = [...account.ec2.snapshots.values()][0]!;
  const completedAt = simulated.StartTime.getTime() + simulated.durationMs;
  return {
    agentOnline: (entered('SendPullCommand') - agentOnlineAt) / 1000,
    commandDone: (entered('StopInstance') - command.finishAt) / 1000,
    stopped: (entered('CreateSnapshot') - stoppedAt) / 1000,
    snapshotCompleted: (entered('TerminateInstance') - completedAt) / 1000,
  };
};

/**
 * Lambda GB-s a run is billed: each invocation's run time on the virtual clock (what it slept polling inside, its
 * requests and its own work; simulation/lambda-latency.ts handlerMs) plus its cold start's init, times the deployed
 * memory. Lambda bills the duration rounded up to 1 ms (AWS Lambda pricing).
 */
const memoryMb = Object.fromEntries(Object.values(defaultDeployment().functions).map((fn) => [fn.name, fn.memoryMb]));
const lambdaGbSeconds = (report: SimulationReport, latency: { initMs: Readonly<Record<string, number>>; defaultInitMs: number }) =>
  report.lambdaCharges.reduce((sum, charge) => {
    const initMs = charge.coldStart ? (latency.initMs[charge.functionName] ?? latency.defaultInitMs) : 0;
    return sum + ((memoryMb[charge.functionName] ?? 128) / 1024) * (Math.ceil(charge.handlerMs + initMs) / 1000);
  }, 0);

const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
const fmt = (n: number, digits = 1, width = 8) => n.toFixed(digits).padStart(width);

console.log(`Waits: time lost between an AWS event and the workflow moving on, one architecture, mean of ${SAMPLES} runs per row,`);
console.log('simulated AWS durations and Lambda/Step Functions latencies (simulation/lambda-latency.ts) each varied ±25 %\n');
console.log(
  `${'waits'.padEnd(30)}${'images'.padStart(7)}${'layout'.padStart(10)}${'agent'.padStart(8)}${'pull'.padStart(8)}${'stop'.padStart(8)}${'snap'.padStart(8)}${'lost s'.padStart(8)}` +
    `${'build s'.padStart(9)}${'lost %'.padStart(8)}${'trans'.padStart(7)}${'lambda'.padStart(8)}${'cold'.padStart(6)}${'GB-s'.padStart(8)}`,
);
for (const choice of CHOICES) {
  for (const row of ROWS) {
    const count = row.images;
    const losses: Lost[] = [];
    const durations: number[] = [];
    const transitions: number[] = [];
    const invocations: number[] = [];
    const coldStarts: number[] = [];
    const gbSeconds: number[] = [];
    for (let sample = 0; sample < SAMPLES; sample += 1) {
      const account = varySimulatedDurations(createSimulatedAccount(), around);
      const latency = choice.latency === false ? NO_LATENCY : varyLatency(DEFAULT_LAMBDA_LATENCY, random);
      const report = await runSimulation({
        input: inputOf(row),
        account,
        transformDefinition: withIntervals(choice.intervals),
        lambdaLatency: latency,
        ...(choice.innerPoll === false ? { lambdaContext: false as const } : {}),
      });
      if (report.status !== 'SUCCEEDED') throw new Error(`${choice.name}, ${count} images: ${report.error}: ${report.cause}`);
      losses.push(lostSeconds(report));
      durations.push(report.durationMs / 1000);
      transitions.push(report.stateTransitions);
      invocations.push(report.lambdaInvocations);
      coldStarts.push(report.lambdaCharges.filter((charge) => charge.coldStart).length);
      gbSeconds.push(lambdaGbSeconds(report, latency));
    }
    const lost = (key: keyof Lost) => mean(losses.map((l) => l[key]));
    const totalLost = lost('agentOnline') + lost('commandDone') + lost('stopped') + lost('snapshotCompleted');
    const build = mean(durations);
    console.log(
      `${choice.name.padEnd(30)}${String(count).padStart(7)}${row.layout.padStart(10)}${fmt(lost('agentOnline'))}${fmt(lost('commandDone'))}${fmt(lost('stopped'))}${fmt(lost('snapshotCompleted'))}` +
        `${fmt(totalLost)}${fmt(build, 0, 9)}${fmt((100 * totalLost) / build, 1)}${fmt(mean(transitions), 0, 7)}${fmt(mean(invocations), 0)}${fmt(mean(coldStarts), 0, 6)}${fmt(mean(gbSeconds), 2)}`,
    );
  }
}
console.log(
  '\nlost %: time lost / build duration; trans: state transitions of the whole execution (one build); cold: cold starts; ' +
    'GB-s: Lambda duration billed (run time incl. inner polls + cold inits) x deployed memory',
);

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
  ['6 images, x86_64', { images: imagesOf(6) }],
  ['6 images, x86_64 + arm64', { images: imagesOf(6), architectures: ['x86_64', 'arm64'] }],
  ['20 images, x86_64 + arm64', { images: imagesOf(20), architectures: ['x86_64', 'arm64'] }],
  ['50 images, x86_64 + arm64', { images: imagesOf(50), architectures: ['x86_64', 'arm64'] }],
] as const) {
  const report = await runSimulation({ input });
  console.log(`  ${label.padEnd(28)} ${String(report.historyEvents).padStart(6)} events (${((report.historyEvents / HISTORY_EVENT_LIMIT) * 100).toFixed(1)} %), ${report.stateTransitions} state transitions`);
}
