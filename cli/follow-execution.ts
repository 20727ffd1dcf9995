/**
 * Following an execution to its end with DescribeExecution and GetExecutionHistory, and printing how it ended:
 * the snapshot IDs on stdout, everything else on stderr, a failure once.
 */
import { DescribeExecutionCommand, GetExecutionHistoryCommand, type HistoryEvent, type SFNClient } from '@aws-sdk/client-sfn';
import { ExecutionProgressReader, failureReport, type ExecutionProgress } from './execution-progress';
import { displayFor, type DisplayTarget } from './progress-display';

/** Where output goes and how time passes (a terminal, or a pipe; tests pass their own). */
export interface FollowIo {
  stdout: (line: string) => void;
  stderr: (line: string) => void;
  /** The stream progress is drawn on (stderr). */
  progressTarget: DisplayTarget;
  sleep: (ms: number) => Promise<void>;
}

/** How an execution ended. */
export interface FinalStatus {
  status: string;
  output?: string;
  error?: string;
  cause?: string;
  progress: ExecutionProgress;
}

const TERMINAL = new Set(['SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED']);

/**
 * The events not read yet. Newest first (`reverseOrder`), stopping at the first page that reaches an event
 * already read, so a long execution is not re-read from its start at every poll (GetExecutionHistory returns
 * at most 1000 events a page).
 */
export const readNewEvents = async (sfn: Pick<SFNClient, 'send'>, executionArn: string, lastSeenId: number): Promise<HistoryEvent[]> => {
  const events: HistoryEvent[] = [];
  let nextToken: string | undefined;
  do {
    const page = await sfn.send(new GetExecutionHistoryCommand({ executionArn, nextToken, maxResults: 1000, reverseOrder: true }));
    const fresh = (page.events ?? []).filter((event) => (event.id ?? 0) > lastSeenId);
    events.push(...fresh);
    if (fresh.length < (page.events ?? []).length) break;
    nextToken = page.nextToken;
  } while (nextToken);
  return events;
};

/** Polls the execution, updating the progress display, until it ends. */
export const followExecution = async (
  executionArn: string,
  pollSeconds: number,
  sfn: Pick<SFNClient, 'send'>,
  io: FollowIo,
): Promise<FinalStatus> => {
  const reader = new ExecutionProgressReader();
  let lastSeenId = 0;
  let latestEventAt = 0;
  // Elapsed times are the execution's own: a running execution's newest event is recent on its clock, so a clock
  // far from ours (a local endpoint on simulated time) is followed by that difference; an ended one stops.
  let skew: number | undefined;
  let endedAt: number | undefined;
  const executionNow = (): number => endedAt ?? io.progressTarget.now() + (skew ?? 0);
  let display: ReturnType<typeof displayFor> | undefined;
  try {
    for (;;) {
      const described = await sfn.send(new DescribeExecutionCommand({ executionArn }));
      const events = await readNewEvents(sfn, executionArn, lastSeenId);
      reader.add(events);
      for (const event of events) {
        lastSeenId = Math.max(lastSeenId, event.id ?? 0);
        latestEventAt = Math.max(latestEventAt, event.timestamp ? new Date(event.timestamp).getTime() : 0);
      }
      const ended = TERMINAL.has(described.status ?? '');
      if (skew === undefined && latestEventAt > 0) {
        const difference = latestEventAt - io.progressTarget.now();
        skew = Math.abs(difference) > 60_000 ? difference : 0;
      }
      if (ended) endedAt = described.stopDate ? new Date(described.stopDate).getTime() : latestEventAt || undefined;
      display ??= displayFor({ ...io.progressTarget, now: executionNow }, described.startDate ? new Date(described.startDate).getTime() : executionNow());
      display.update(reader.current);
      if (ended) {
        return { status: described.status!, output: described.output, error: described.error, cause: described.cause, progress: reader.current };
      }
      await io.sleep(pollSeconds * 1000);
    }
  } finally {
    display?.stop();
  }
};

interface SnapshotLine {
  architecture: string;
  snapshotId: string;
}

/** The snapshots an execution output names: `snapshots` (BUILT, REPUBLISHED) or `current` (UP_TO_DATE). */
export const snapshotsOf = (output: string | undefined): { status: string; snapshots: SnapshotLine[] } => {
  const parsed = JSON.parse(output ?? '{}') as { status?: string; snapshots?: SnapshotLine[]; current?: SnapshotLine[] };
  const list = parsed.status === 'UP_TO_DATE' ? parsed.current : parsed.snapshots;
  return { status: parsed.status ?? 'unknown', snapshots: (list ?? []).map(({ architecture, snapshotId }) => ({ architecture, snapshotId })) };
};

const OUTCOME: Record<string, string> = {
  UP_TO_DATE: 'images unchanged: the current snapshots are up to date',
  REPUBLISHED: 'images unchanged: finished publishing the current snapshots (an earlier publish was incomplete)',
  BUILT: 'snapshots built',
};

/**
 * Prints how the execution ended: on success the snapshot IDs on stdout (`-q`: the ID alone, else
 * `<architecture>\t<ID>`), on failure the report on stderr. Returns the snapshots, or undefined on failure.
 */
export const printResult = (final: FinalStatus, quiet: boolean, io: Pick<FollowIo, 'stdout' | 'stderr'>): SnapshotLine[] | undefined => {
  if (final.status !== 'SUCCEEDED') {
    for (const line of failureReport(final.status, final, final.progress)) io.stderr(line);
    return undefined;
  }
  const { status, snapshots } = snapshotsOf(final.output);
  io.stderr(OUTCOME[status] ?? `ended ${status}`);
  // A combined snapshot serves both architectures: `current` lists it once per architecture, -q prints it once.
  const lines = quiet ? [...new Set(snapshots.map((snapshot) => snapshot.snapshotId))] : snapshots.map((s) => `${s.architecture}\t${s.snapshotId}`);
  for (const line of lines) io.stdout(line);
  return snapshots;
};
