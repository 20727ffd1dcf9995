/**
 * functions/lib/execution-budget.ts holds figures functions/ cannot read at run time: the poll loops of the
 * definition (check first, then Wait -> check -> Choice, each Wait reading its seconds from the check), the functions' timeouts, and the history events each state logs. These tests hold them to their
 * sources: the ASL file and the history of simulated runs (simulation/execution-history.ts); the functions' timeouts
 * are checked against the synthesized stack in test/infra/execution-budget.test.ts (importing infra/ here would fix
 * the deployed defaults before the simulation sets them).
 */
import { describe, expect, it } from 'vitest';
import {
  DEFINITION_TIMEOUT_SECONDS,
  EVENTS_PER_POLL,
  EXECUTION_EVENTS,
  HISTORY_EVENT_LIMIT,
  HISTORY_EVENTS,
  POLL_LOOPS,
  buildHistoryEvents,
  maxChecks,
  worstCaseHistoryEvents,
} from '../../functions/lib/execution-budget';
import { minCheckSeconds, nextCheckSeconds } from '../../functions/lib/next-check';
import { INNER_POLL } from '../../functions/lib/poll-inside';
import { HISTORY_EVENT_LIMIT as SIMULATED_HISTORY_LIMIT } from '../../simulation/execution-history';
import { loadDefinition, runSimulation, type SimulationReport } from '../../simulation/run-state-machine';

const NGINX = 'public.ecr.aws/docker/library/nginx:1.27';
/** Enough images that every loop outlasts its check's inner poll (functions/lib/poll-inside.ts) and really loops. */
const TEN_IMAGES = Array.from({ length: 10 }, (_, i) => `public.ecr.aws/bench/image-${i}:v1`);
const definition = loadDefinition();
const mapStates = definition.States.BuildEachArchitecture.ItemProcessor.States as Record<string, { Type: string; SecondsPath?: string; Next?: string }>;

/** Each loop's Wait state and the check Task it leads to, by the limit that ends the loop. */
const LOOPS = {
  ssmOnlineSeconds: { wait: 'WaitForSsmAgent', check: 'CheckSsmAgent' },
  pullSeconds: { wait: 'WaitForPull', check: 'CheckPullCommand' },
  stopSeconds: { wait: 'WaitForStop', check: 'CheckInstanceStopped' },
  snapshotSeconds: { wait: 'WaitForSnapshot', check: 'CheckSnapshot' },
} as const;

/** How many times each loop's check ran in `report`, per Map iteration. */
const checksOf = (report: SimulationReport, builds: number) =>
  Object.fromEntries(
    Object.entries(LOOPS).map(([limit, { check }]) => [limit, report.history.filter((e) => e.type === 'TaskStateEntered' && e.stateEnteredEventDetails?.name === check).length / builds]),
  ) as Record<keyof typeof LOOPS, number>;

describe('the execution budget matches its sources', () => {
  it('uses the poll loops of the definition, and its default time limit', () => {
    // Act
    const loops = Object.fromEntries(Object.entries(LOOPS).map(([limit, { wait }]) => [limit, { wait, secondsPath: mapStates[wait]!.SecondsPath }]));
    // Assess
    expect(loops).toEqual(POLL_LOOPS);
    for (const { wait, check } of Object.values(LOOPS)) expect(mapStates[wait]!.Next).toBe(check);
    expect(definition.TimeoutSeconds).toBe(DEFINITION_TIMEOUT_SECONDS);
    expect(HISTORY_EVENT_LIMIT).toBe(SIMULATED_HISTORY_LIMIT);
  });

  it.each([
    ['one build', { images: TEN_IMAGES }, 1],
    ['two builds at once', { images: TEN_IMAGES, architectures: ['x86_64', 'arm64'] }, 2],
  ] as const)('counts the history events of a real run of %s exactly, from how often each loop polled', async (_, input, builds) => {
    // Act
    const report = await runSimulation({ input });
    // Assess: a successful run with no retries logs exactly the modelled events.
    expect(report.status, report.cause).toBe('SUCCEEDED');
    const retries = report.events.filter((e) => e.type === 'StateRetried').length;
    const checks = checksOf(report, builds);
    for (const count of Object.values(checks)) expect(count).toBeGreaterThan(1); // every loop really looped
    expect(report.history).toHaveLength(EXECUTION_EVENTS + builds * buildHistoryEvents(checks) + retries * HISTORY_EVENTS.retry);
  });

  it('counts one poll of a loop as the events between two entries of its Wait state', async () => {
    // Prepare: 50 images, so the pull outlasts several of its check's inner polls.
    const images = Array.from({ length: 50 }, (_, i) => `public.ecr.aws/bench/image-${i}:v1`);
    // Act
    const report = await runSimulation({ input: { images } });
    // Assess
    const entries = report.history.filter((e) => e.type === 'WaitStateEntered' && e.stateEnteredEventDetails?.name === 'WaitForPull').map((e) => e.id);
    expect(entries.length).toBeGreaterThan(1);
    for (let i = 1; i < entries.length; i += 1) expect(entries[i]! - entries[i - 1]!).toBe(EVENTS_PER_POLL);
  });

  it('counts as many checks as a loop polling at the minimum interval makes before it passes its limit', () => {
    // Prepare: a check that always asks for the shortest wait the clamp allows.
    const checksAtMinimum = (limit: number) => {
      let checks = 1;
      for (let waited = 0; waited <= limit; checks += 1) waited += nextCheckSeconds(0, waited, limit);
      return checks;
    };
    // Act / Assess
    for (const limit of [60, 600, 900, 3900, 7200, 86_400]) expect(maxChecks(limit), String(limit)).toBe(checksAtMinimum(limit));
  });

  it('bounds a real loop that never ends: the stop polled until its limit fails with StopTimeoutError within maxChecks', async () => {
    // Act
    const report = await runSimulation({ input: { images: [NGINX], limits: { stopSeconds: 300 } }, faults: ['never-finish:stop'] });
    // Assess
    expect(report.status).toBe('FAILED');
    expect(report.error).toBe('StopTimeoutError');
    const checks = report.events.filter((e) => e.type === 'StateEntered' && e.state === 'CheckInstanceStopped').length;
    // Each check polls inside its invocation for up to a minute (functions/lib/poll-inside.ts), so fewer loop iterations.
    expect(checks).toBeGreaterThan(3);
    expect(checks).toBeLessThanOrEqual(maxChecks(300));
    // The look that names the timeout comes at most one minimum interval, or one inner interval, past the limit.
    const stopAt = report.events.find((e) => e.type === 'StateEntered' && e.state === 'StopInstance')!.at;
    const failedAt = report.events.filter((e) => e.type === 'StateEntered' && e.state === 'CleanupAfterFailure').at(-1)!.at;
    expect((failedAt - stopAt) / 1000).toBeGreaterThan(300);
    expect((failedAt - stopAt) / 1000).toBeLessThanOrEqual(300 + minCheckSeconds(300) + INNER_POLL.stop.intervalSeconds + 5);
  });

  it('keeps the defaults of two architectures within the history quota', () => {
    // Act
    const events = worstCaseHistoryEvents({ ssmOnlineSeconds: 600, pullSeconds: 3900, stopSeconds: 900, snapshotSeconds: 7200 }, 2);
    // Assess
    expect(events).toBeLessThanOrEqual(HISTORY_EVENT_LIMIT);
  });
});
