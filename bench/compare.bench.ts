/**
 * `npm run bench -- compare`: the factory beside a model of snapshot.sh (bench/compare-model.ts), on the same
 * latencies, in one run.
 *
 * Each scenario builds in the simulation (the real ASL and handlers on the simulated account); the same account's
 * durations (EC2, the builder's boot, SSM delivery and pulls, the snapshot of the data the build wrote) then feed the
 * script's model. Durations are varied ±25 % per sample (seeded, so every run prints the same figures) so that polls
 * do not line up with round numbers; each row is the mean of its samples.
 *
 * The published scenarios (/work/shared/reference/landscape.md "Numbers worth knowing") set the simulated pull and
 * snapshot durations to the published ones, and the stack to the published 3 min; their script column also shows
 * the published total.
 *
 * Figures only: nothing here asserts a time.
 */
import '../simulation/environment';
import { createSimulatedAccount, type SimulatedAccount } from '../simulation/aws/account';
import { synthesizedTemplate } from '../simulation/deploy/template';
import type { SimulationReport } from '../simulation/run-state-machine';
import { modelSnapshotScript, waiterGivesUpAfterMs, WAITERS, type ScriptLatencies, type ScriptRun } from './compare-model';
import { probePullDurations } from './compare-probe';
import { factoryFigures, runFactoryBuild, scriptFigures, scriptLatenciesFrom, type BuildFigures, type MemoryByFunction } from './compare-factory';
import { EBS, NO_CHARGE_NOTE, priceNotes } from './compare-pricing';
import { seededRandom } from './seeded-random';
import { aroundWith, varySimulatedDurations } from './vary-durations';

/** Published build times of snapshot.sh (landscape.md: Inflab engineering blog 2025; data-on-eks build log). */
const PUBLISHED = {
  /** "stack 3 min" in both reports. */
  stackMs: 3 * 60_000,
  inflab: { totalMs: 5 * 60_000, pullMs: 60_000, snapshotMs: 60_000 },
  dataOnEks: { totalMs: 20 * 60_000, largestPullMs: 5.6 * 60_000, snapshotMs: 6 * 60_000 },
} as const;

type Layout = 'single' | 'per-architecture' | 'combined';

interface Scenario {
  name: string;
  images: number;
  layout: Layout;
  samples: number;
  /** Published scenarios: fixed durations instead of the simulated account's defaults. */
  published?: { pullMs: number; snapshotMs: number; totalMs: number; calibrateOtherPulls?: boolean };
}

const image = (i: number) => `public.ecr.aws/bench/image-${i}:v1`;
const inputOf = (scenario: Scenario) => ({
  images: Array.from({ length: scenario.images }, (_, i) => image(i)),
  ...(scenario.layout === 'single' ? {} : { architectures: ['x86_64', 'arm64'] }),
  ...(scenario.layout === 'combined' ? { layout: 'combined' } : {}),
});
const platformsOf = (layout: Layout) => (layout === 'single' ? ['linux/amd64'] : ['linux/amd64', 'linux/arm64']);

const SCENARIOS: Scenario[] = [
  ...(['single', 'per-architecture', 'combined'] as const).flatMap((layout) =>
    [1, 10, 50].map((images) => ({
      name: `${images} image${images > 1 ? 's' : ''}, ${layout === 'single' ? 'x86_64' : `x86_64+arm64 ${layout}`}`,
      images,
      layout,
      samples: images >= 50 ? 2 : 4,
    })),
  ),
  {
    name: 'Inflab (1 image assumed), x86_64',
    images: 1,
    layout: 'single',
    samples: 1,
    published: { pullMs: PUBLISHED.inflab.pullMs, snapshotMs: PUBLISHED.inflab.snapshotMs, totalMs: PUBLISHED.inflab.totalMs },
  },
  ...(['per-architecture', 'combined'] as const).map((layout) => ({
    name: `data-on-eks 2 images, x86_64+arm64 ${layout}`,
    images: 2,
    layout,
    samples: 1,
    published: { pullMs: PUBLISHED.dataOnEks.largestPullMs, snapshotMs: PUBLISHED.dataOnEks.snapshotMs, totalMs: PUBLISHED.dataOnEks.totalMs, calibrateOtherPulls: true },
  })),
];

/** Deterministic pseudo-random numbers (mulberry32), so every run of the benchmark prints the same figures. */
const random = seededRandom(20261202);
const around = aroundWith(random);

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** A simulated account whose durations are varied (or, for a published scenario, set to the published ones). */
const accountFor = (scenario: Scenario): SimulatedAccount => {
  const account = createSimulatedAccount();
  const ec2 = account.ec2.options as Mutable<typeof account.ec2.options>;
  const ssm = account.ssmCommands.options as Mutable<typeof account.ssmCommands.options>;
  if (scenario.published) {
    ssm.pullMs = scenario.published.pullMs;
    ec2.snapshotBaseMs = scenario.published.snapshotMs;
    ec2.snapshotMsPerGiB = 0;
    return account;
  }
  return varySimulatedDurations(account, around);
};

/**
 * data-on-eks published one pull (the large amd64 one, 5.6 min) and the total (20 min). The other three pulls are
 * not published: they get equal shares of what the model leaves of the published total, so the script's model ends
 * at the published 20 min. The factory pulls every image in 5.6 min, the largest pull (pessimistic for the factory).
 */
const calibratedPulls = (latencies: ScriptLatencies, largestMs: number, totalMs: number): number[] => {
  const others = latencies.pullMs.length - 1;
  const withoutOthers = modelSnapshotScript({ ...latencies, pullMs: [largestMs] }, 'wait').makespanMs;
  const share = Math.max(0, (totalMs - withoutOthers) / Math.max(1, others));
  return [largestMs, ...Array.from({ length: others }, () => share)];
};

const memoryOfFunctions = (): { byFunction: MemoryByFunction; fallback: number } => {
  const byFunction: MemoryByFunction = {};
  for (const resource of Object.values(synthesizedTemplate().template.Resources)) {
    if (resource.Type !== 'AWS::Lambda::Function') continue;
    const name = /functions\/([a-z-]+)\.ts/.exec(String(resource.Properties?.Description ?? ''))?.[1];
    // CloudFormation's default MemorySize is 128 MB (AWS::Lambda::Function MemorySize).
    if (name) byFunction[name] = Number(resource.Properties?.MemorySize ?? 128);
  }
  return { byFunction, fallback: 128 };
};

interface Row {
  scenario: Scenario;
  factory: BuildFigures[];
  script: ReturnType<typeof scriptFigures>[];
  scriptRuns: ScriptRun[];
  /** The same latencies with the script's own answer to an admin container that does not run yet. */
  scriptAsWritten: ScriptRun[];
}

const rows: Row[] = [];
let memory: ReturnType<typeof memoryOfFunctions> | undefined;
for (const scenario of SCENARIOS) {
  const row: Row = { scenario, factory: [], script: [], scriptRuns: [], scriptAsWritten: [] };
  for (let sample = 0; sample < scenario.samples; sample += 1) {
    const report: SimulationReport = await runFactoryBuild(scenario.name, inputOf(scenario), accountFor(scenario));
    memory ??= memoryOfFunctions();
    row.factory.push(factoryFigures(report, memory.byFunction, memory.fallback));
    // The script's order: each image, each of its platforms (snapshot.sh lines 214-219).
    const pulls = inputOf(scenario).images.flatMap((reference) => platformsOf(scenario.layout).map((platform) => ({ reference, platform })));
    const pullMs = await probePullDurations(report.account, pulls);
    let latencies = scriptLatenciesFrom(report, pullMs, PUBLISHED.stackMs - report.account.ec2.options.pendingMs);
    if (scenario.published?.calibrateOtherPulls) latencies = { ...latencies, pullMs: calibratedPulls(latencies, scenario.published.pullMs, scenario.published.totalMs) };
    const run = modelSnapshotScript(latencies, 'wait');
    row.scriptAsWritten.push(modelSnapshotScript(latencies, 'fail'));
    row.scriptRuns.push(run);
    row.script.push(scriptFigures(run));
  }
  rows.push(row);
}

const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
const meanOrUndefined = (values: (number | undefined)[]) => (values.some((v) => v === undefined) ? undefined : mean(values as number[]));
const min = (ms: number) => (ms / 60_000).toFixed(1);
const usd = (value: number | undefined) => (value === undefined ? 'no price' : `$${value.toFixed(4)}`);
const cell = (text: string, width: number) => text.padStart(width);

console.log('Factory (simulation) beside snapshot.sh (model, bench/compare-model.ts) on the same simulated latencies');
const sampleCounts = [...new Set(SCENARIOS.filter((s) => !s.published).map((s) => s.samples))].join(' or ');
console.log(`means of ${sampleCounts} samples per row (1 for published scenarios), durations varied ±25 % (seeded); cost at us-east-1 list prices\n`);
const NAME = 52;
const header = ['scenario'.padEnd(NAME), 'factory', 'script', 'ratio', 'inst-min', 'script', 'trans', 'lambda', 'cost', 'script', 'snap/mo', 'script'];
const widths = [NAME, 8, 8, 6, 9, 9, 7, 7, 9, 9, 9, 8];
console.log(header.map((h, i) => (i === 0 ? h : cell(h, widths[i]!))).join(''));
console.log(['', 'min', 'min', 'f/s', 'factory', 'inst-min', '', '', 'factory', 'USD', 'USD', 'fails'].map((h, i) => (i === 0 ? ''.padEnd(NAME) : cell(h, widths[i]!))).join(''));
for (const { scenario, factory, script, scriptRuns, scriptAsWritten } of rows) {
  const factoryMs = mean(factory.map((f) => f.makespanMs));
  const scriptMs = mean(script.map((s) => s.makespanMs));
  const failed = scriptRuns.filter((r) => r.outcome === 'failed').length;
  const failedAsWritten = scriptAsWritten.filter((r) => r.outcome === 'failed').length;
  const cells = [
    min(factoryMs),
    min(scriptMs) + (failed ? '!' : ''),
    (factoryMs / scriptMs).toFixed(2),
    (mean(factory.map((f) => f.instanceSeconds)) / 60).toFixed(1),
    (mean(script.map((s) => s.instanceSeconds)) / 60).toFixed(1),
    mean(factory.map((f) => f.stateTransitions)).toFixed(0),
    mean(factory.map((f) => f.lambdaInvocations)).toFixed(0),
    usd(meanOrUndefined(factory.map((f) => f.cost.total))),
    usd(meanOrUndefined(script.map((s) => s.cost.total))),
    usd(mean(factory.map((f) => f.snapshotGiB)) * EBS.snapshotGbMonth.usd),
    `${failedAsWritten}/${scriptAsWritten.length}`,
  ];
  console.log(scenario.name.padEnd(NAME) + cells.map((c, i) => cell(c, widths[i + 1]!)).join(''));
  if (scenario.published) console.log(`${''.padEnd(NAME)}${cell('', 8)}${cell(min(scenario.published.totalMs), 8)}  <- published snapshot.sh total`);
  for (const run of scriptRuns.filter((r) => r.failure)) console.log(`${''.padEnd(NAME)}  ! script model failed in ${run.failure!.step}: ${run.failure!.reason}`);
}
const reasons = new Set(rows.flatMap((r) => r.scriptAsWritten.flatMap((run) => (run.failure ? [`${run.failure.step}: ${run.failure.reason}`] : []))));
console.log(`\n"script fails": samples in which the script as written fails on the simulated host (${[...reasons].join('; ') || 'none'}).`);
console.log('Its figures are timed as if its first command had waited for the admin container (published runs of the script succeed;');
console.log('the simulated boot timings are estimates, simulation/aws/bottlerocket-host.ts).');

console.log('\nWhere the script spends its time (minutes since its start at each step end, first sample; 10-image and published rows)');
for (const { scenario, scriptRuns } of rows.filter((r) => r.scenario.images === 10 || r.scenario.published)) {
  const ends = scriptRuns[0]!.stepEndsMs;
  console.log(`  ${scenario.name.padEnd(NAME)} ${Object.entries(ends).map(([step, ms]) => `${step} ${min(ms!)}`).join(' · ')}`);
}

console.log('\nColumns: makespan (factory: the execution; script: until it prints the snapshot ID), ratio factory/script,');
console.log('instance-minutes billed (running until the stop request), state transitions and Lambda invocations (factory only),');
console.log('cost of one build (EC2 + EBS volumes pro-rated per second + Step Functions transitions + Lambda requests and GB-s),');
console.log('and the snapshot storage per month (GiB written x standard tier), the same data for both.');
const gbs = mean(rows.flatMap((r) => r.factory.map((f) => f.lambdaGbSeconds)));
console.log(`Lambda GB-s per build, mean over all rows: ${gbs.toFixed(3)} (billed from the history's TaskStarted -> Task end, 1 ms increments; a simulation that charges no run time bills 1 ms per invocation)`);
console.log(`\nWaiters of the script (botocore service models): SSM CommandExecuted every ${WAITERS.commandExecuted.delayMs / 1000} s, gives up after ${waiterGivesUpAfterMs(WAITERS.commandExecuted) / 1000} s;`);
console.log(`EC2 InstanceStopped / SnapshotCompleted every ${WAITERS.instanceStopped.delayMs / 1000} s, give up after ${waiterGivesUpAfterMs(WAITERS.instanceStopped) / 1000} s; CloudFormation StackCreateComplete every ${WAITERS.stackCreateComplete.delayMs / 1000} s, gives up after ${waiterGivesUpAfterMs(WAITERS.stackCreateComplete) / 60_000} min.`);
console.log('Stack: the published 3 min (landscape.md), of which the instance\'s pending time is the simulated one.');
console.log('\nPrices (us-east-1, on-demand, USD):');
for (const note of priceNotes()) console.log(note);
console.log(`  ${NO_CHARGE_NOTE}`);
