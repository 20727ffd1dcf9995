import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { HistoryEvent } from '@aws-sdk/client-sfn';
import { describe, expect, it } from 'vitest';
import { ExecutionProgressReader, failureReport } from '../../cli/execution-progress';
import { lineDisplay, terminalDisplay } from '../../cli/progress-display';

type Recorded = { status: string; error?: string; cause?: string; events: (Omit<HistoryEvent, 'timestamp'> & { timestamp: number })[] };
const fixture = (name: string): Recorded =>
  JSON.parse(readFileSync(join(new URL('.', import.meta.url).pathname, 'fixtures', `${name}.history.json`), 'utf8')) as Recorded;
const asSdk = (recorded: Recorded): HistoryEvent[] => recorded.events.map((e) => ({ ...e, timestamp: new Date(e.timestamp) }) as HistoryEvent);

describe('execution progress from GetExecutionHistory', () => {
  it('follows each Map iteration by previousEventId, one event at a time', () => {
    // Prepare
    const events = asSdk(fixture('built-two-architectures'));
    const reader = new ExecutionProgressReader();
    // Act
    for (const event of events) reader.add([event]);
    // Assess
    const builds = reader.current.builds;
    expect(builds.map((b) => [b.architecture, b.status])).toEqual([
      ['x86_64', 'SUCCEEDED'],
      ['arm64', 'SUCCEEDED'],
    ]);
    const polls = events.filter((e) => e.stateEnteredEventDetails?.name === 'CheckSsmAgent').length;
    expect(polls).toBeGreaterThan(4);
    for (const build of builds) {
      expect(build.stages.map((s) => s.stage)).toEqual([
        'LaunchInstance', 'CheckSsmAgent', 'SendPullCommand', 'CheckPullCommand', 'StopInstance',
        'CheckInstanceStopped', 'CreateSnapshot', 'CheckSnapshot', 'TerminateInstance',
      ]);
    }
  });

  it('reports the failed architecture, the stopped one and the cleanup, from a recorded failure', () => {
    // Prepare
    const recorded = fixture('x86_64-lost-arm64-stopped');
    const reader = new ExecutionProgressReader();
    // Act
    reader.add(asSdk(recorded).reverse());
    const lines = failureReport(recorded.status, recorded, reader.current);
    // Assess
    expect(lines[0]).toBe('build FAILED: InstanceLostError');
    expect(lines[1]).toMatch(/^ {2}x86_64: failed in CheckPullCommand: InstanceLostError: check-pull-command: builder i-\w+ is terminated while pulling images/);
    expect(lines[1]).not.toContain('[cleanup:');
    expect(lines[2]).toMatch(/^ {2}arm64: stopped in \w+ because x86_64 failed$/);
    expect(lines[3]).toMatch(/^ {2}cleanup: terminated i-\w+; already gone i-\w+$/);
    expect(lines).toHaveLength(4);
  });

  it('piped: writes a line when a stage changes and none when a poll finds the same stage', () => {
    // Prepare
    const written: string[] = [];
    const display = lineDisplay({ write: (text) => written.push(text), isTTY: false, now: () => 0 }, 0);
    const stages = [{ stage: 'LaunchInstance', at: 1_000 }, { stage: 'CheckSsmAgent', at: 61_000 }];
    const build = { index: 0, architecture: 'x86_64', stage: 'CheckSsmAgent', stageSince: 61_000, stages, waiting: true, status: 'RUNNING' as const };
    // Act
    for (let poll = 0; poll < 5; poll += 1) display.update({ builds: [build], stages: [], cleanup: reader0() });
    const later = [...stages, { stage: 'SendPullCommand', at: 125_000 }, { stage: 'CheckPullCommand', at: 126_000 }];
    display.update({ builds: [{ ...build, stage: 'CheckPullCommand', stageSince: 126_000, stages: later }], stages: [], cleanup: reader0() });
    // Assess
    expect(written).toEqual([
      '[+1s] x86_64: LaunchInstance\n',
      '[+1m01s] x86_64: CheckSsmAgent\n',
      '[+2m05s] x86_64: SendPullCommand\n',
      '[+2m06s] x86_64: CheckPullCommand\n',
    ]);
  });

  it('on a terminal: redraws one line per architecture in place, a spinner while waiting', () => {
    // Prepare
    const written: string[] = [];
    const display = terminalDisplay({ write: (text) => written.push(text), isTTY: true, columns: 80, now: () => 95_000 }, 0, 60_000);
    const builds = [
      { index: 0, architecture: 'x86_64', stage: 'CheckPullCommand', stageSince: 35_000, stages: [], waiting: true, status: 'RUNNING' as const },
      { index: 1, architecture: 'arm64', stage: 'LaunchInstance', stageSince: 90_000, stages: [], waiting: false, status: 'RUNNING' as const },
    ];
    // Act
    display.update({ stage: 'BuildEachArchitecture', stages: [], builds, cleanup: reader0() });
    display.update({ stage: 'BuildEachArchitecture', stages: [], builds, cleanup: reader0() });
    display.stop();
    // Assess
    expect(written[0]).toBe('\x1b[2KBuildEachArchitecture  1m35s\n\x1b[2K  x86_64  ⠋ CheckPullCommand  1m00s\n\x1b[2K  arm64   › LaunchInstance  5s\n');
    expect(written[1]!.startsWith('\x1b[3A')).toBe(true);
  });
});

function reader0() {
  return { terminatedInstanceIds: [], deletedSnapshotIds: [], keptSnapshots: [], alreadyGone: [], failures: [] };
}
