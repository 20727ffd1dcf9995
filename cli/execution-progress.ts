/**
 * What a running or ended execution is doing, per architecture, read from GetExecutionHistory's events.
 *
 * Event shapes: HistoryEvent in the Step Functions API reference
 * (https://docs.aws.amazon.com/step-functions/latest/apireference/API_HistoryEvent.html). Each event's
 * `previousEventId` links it to the one before it in its thread of control; a Map iteration's thread begins at
 * `MapIterationStarted` (`mapIterationStartedEventDetails.index`), so following the links tells which
 * architecture's build an event belongs to. The Map state's own events and the execution's belong to no iteration.
 *
 * A stage is the Task state an iteration last entered: the Choice and Wait states of a wait loop do not change it,
 * so a poll loop is one stage however many times it polls. Names are the ASL's (docs/stages.md).
 */
import type { HistoryEvent } from '@aws-sdk/client-sfn';

/** What cleanup terminated, deleted or could not clean (functions/cleanup-build.ts, `reportSchema`). */
export interface CleanupSummary {
  terminatedInstanceIds: string[];
  deletedSnapshotIds: string[];
  keptSnapshots: { snapshotId: string; reason: string }[];
  alreadyGone: string[];
  failures: { resource: string; action: string; reason: string }[];
}

/** One architecture's build (one Map iteration). */
export interface BuildProgress {
  index: number;
  /** From the iteration's first state input (`architecture`); undefined until it is known. */
  architecture?: string;
  stage: string;
  /** Epoch ms the stage was entered. */
  stageSince: number;
  /** The iteration is in a Wait state. */
  waiting: boolean;
  status: 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'ABORTED';
  /** Every stage it entered, in order, with when: a display shows the ones between two polls too. */
  stages: { stage: string; at: number }[];
  /** The last work stage that failed (a cleanup stage's own failures are in the cleanup report). */
  failure?: { stage: string; error: string; cause: string };
}

/** The execution as far as its history goes. */
export interface ExecutionProgress {
  /** The top-level state entered last (PrepareBuild, BuildEachArchitecture, PublishSnapshot, a cleanup state). */
  stage?: string;
  stageSince?: number;
  /** Every top-level state entered, in order. */
  stages: { stage: string; at: number }[];
  /** A failure outside any iteration (e.g. PrepareBuild refusing the input). */
  failure?: { stage: string; error: string; cause: string };
  builds: BuildProgress[];
  cleanup: CleanupSummary;
}

const EXECUTION = -1;
const MAP_STATE_EVENTS = new Set(['MapStateEntered', 'MapStateStarted', 'MapStateSucceeded', 'MapStateFailed', 'MapStateAborted', 'MapStateExited']);

const epochMs = (timestamp: Date | undefined): number => (timestamp ? new Date(timestamp).getTime() : 0);

/**
 * A Lambda error's cause as Step Functions passes it: the JSON `{"errorMessage","errorType",...}`; other causes
 * (States.Timeout) are plain text.
 */
export const causeText = (cause: string | undefined): string => {
  if (!cause) return '';
  try {
    const parsed = JSON.parse(cause) as { errorMessage?: unknown };
    if (parsed && typeof parsed.errorMessage === 'string') return parsed.errorMessage;
  } catch {
    // plain text
  }
  return cause;
};

/** A cause without the `[cleanup: ...]` summaries cleanup appends: the CLI prints cleanup once, on its own line. */
export const withoutCleanupSummary = (cause: string): string => cause.replace(/\s*\[(?:execution )?cleanup: [^\]]*\]/g, '').trim();

const emptyCleanup = (): CleanupSummary => ({ terminatedInstanceIds: [], deletedSnapshotIds: [], keptSnapshots: [], alreadyGone: [], failures: [] });

const parseJson = (text: string | undefined): unknown => {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
};

/** Folds history events, page by page, into an {@link ExecutionProgress}. */
export class ExecutionProgressReader {
  private readonly threadOf = new Map<number, number>();
  private readonly builds = new Map<number, BuildProgress>();
  private readonly taskStateOf = new Map<number, string>();
  private readonly seen = new Set<number>();
  private readonly progress: ExecutionProgress = { builds: [], stages: [], cleanup: emptyCleanup() };

  /** Adds events (any order of pages; an event seen before is ignored). */
  add(events: readonly HistoryEvent[]): void {
    for (const event of [...events].sort((a, b) => (a.id ?? 0) - (b.id ?? 0))) {
      if (event.id === undefined || this.seen.has(event.id)) continue;
      this.seen.add(event.id);
      this.apply(event, this.thread(event));
    }
  }

  /** The progress so far (builds in iteration order). */
  get current(): ExecutionProgress {
    return { ...this.progress, stages: [...this.progress.stages], builds: [...this.builds.values()].map((b) => ({ ...b, stages: [...b.stages] })).sort((a, b) => a.index - b.index) };
  }

  private thread(event: HistoryEvent): number {
    const type = event.type ?? '';
    const iteration =
      event.mapIterationStartedEventDetails ?? event.mapIterationSucceededEventDetails ?? event.mapIterationFailedEventDetails ?? event.mapIterationAbortedEventDetails;
    let thread: number;
    if (iteration?.index !== undefined) thread = iteration.index;
    else if (MAP_STATE_EVENTS.has(type) || type.startsWith('Execution')) thread = EXECUTION;
    else thread = this.threadOf.get(event.previousEventId ?? 0) ?? EXECUTION;
    this.threadOf.set(event.id!, thread);
    return thread;
  }

  private build(index: number, at: number): BuildProgress {
    let build = this.builds.get(index);
    if (!build) {
      build = { index, stage: 'starting', stageSince: at, stages: [], waiting: false, status: 'RUNNING' };
      this.builds.set(index, build);
    }
    return build;
  }

  private apply(event: HistoryEvent, thread: number): void {
    const at = epochMs(event.timestamp);
    const type = event.type ?? '';
    if (type === 'MapIterationStarted') this.build(thread, at);
    if (type === 'MapIterationSucceeded') this.build(thread, at).status = 'SUCCEEDED';
    if (type === 'MapIterationFailed') this.build(thread, at).status = 'FAILED';
    if (type === 'MapIterationAborted') this.build(thread, at).status = 'ABORTED';

    const entered = event.stateEnteredEventDetails;
    if (entered) {
      if (thread === EXECUTION) {
        this.progress.stage = entered.name;
        this.progress.stageSince = at;
        if (entered.name) this.progress.stages.push({ stage: entered.name, at });
      } else {
        const build = this.build(thread, at);
        const input = parseJson(entered.input) as { architecture?: unknown; build?: { architecture?: unknown } } | undefined;
        const architecture = input?.architecture ?? input?.build?.architecture;
        if (!build.architecture && typeof architecture === 'string') build.architecture = architecture;
        build.waiting = type === 'WaitStateEntered';
        if (type === 'TaskStateEntered' && entered.name && entered.name !== build.stage) {
          build.stage = entered.name;
          build.stageSince = at;
          build.stages.push({ stage: entered.name, at });
        }
      }
      if (type === 'TaskStateEntered' && entered.name) this.taskStateOf.set(thread, entered.name);
    }

    const failed = event.taskFailedEventDetails ?? event.taskTimedOutEventDetails;
    if (failed) {
      const stage = this.taskStateOf.get(thread) ?? 'unknown state';
      // Cleanup states report what they could not do in their report; the build's failure is the work stage's.
      if (!/^(Cleanup|Sweep)/.test(stage)) {
        const failure = { stage, error: failed.error ?? 'States.TaskFailed', cause: withoutCleanupSummary(causeText(failed.cause)) };
        if (thread === EXECUTION) this.progress.failure = failure;
        else this.build(thread, at).failure = failure;
      }
    }

    // A retried Task that then succeeded did not fail the build.
    if (type === 'TaskSucceeded') {
      const stage = this.taskStateOf.get(thread);
      const holder = thread === EXECUTION ? this.progress : this.build(thread, at);
      if (holder.failure?.stage === stage) delete holder.failure;
    }

    const exited = event.stateExitedEventDetails;
    if (exited) {
      const report = (parseJson(exited.output) as { cleanup?: { report?: Partial<CleanupSummary> } } | undefined)?.cleanup?.report;
      if (report) this.addCleanup(report);
    }
  }

  private addCleanup(report: Partial<CleanupSummary>): void {
    const into = this.progress.cleanup;
    const union = (list: string[], more: unknown): void => {
      for (const item of Array.isArray(more) ? more : []) if (typeof item === 'string' && !list.includes(item)) list.push(item);
    };
    union(into.terminatedInstanceIds, report.terminatedInstanceIds);
    union(into.deletedSnapshotIds, report.deletedSnapshotIds);
    union(into.alreadyGone, report.alreadyGone);
    for (const kept of report.keptSnapshots ?? []) {
      if (!into.keptSnapshots.some((k) => k.snapshotId === kept.snapshotId)) into.keptSnapshots.push({ snapshotId: kept.snapshotId, reason: kept.reason });
    }
    for (const failure of report.failures ?? []) {
      if (!into.failures.some((f) => f.resource === failure.resource && f.action === failure.action)) {
        into.failures.push({ resource: failure.resource, action: failure.action, reason: failure.reason });
      }
    }
  }
}

/** `terminated i-1; deleted snap-1; ...`, or undefined when cleanup reported nothing. */
export const describeCleanup = (cleanup: CleanupSummary): string | undefined => {
  const parts: string[] = [];
  if (cleanup.terminatedInstanceIds.length) parts.push(`terminated ${cleanup.terminatedInstanceIds.join(', ')}`);
  if (cleanup.deletedSnapshotIds.length) parts.push(`deleted ${cleanup.deletedSnapshotIds.join(', ')}`);
  if (cleanup.alreadyGone.length) parts.push(`already gone ${cleanup.alreadyGone.join(', ')}`);
  if (cleanup.keptSnapshots.length) parts.push(`kept ${cleanup.keptSnapshots.map((k) => `${k.snapshotId} (${k.reason})`).join(', ')}`);
  if (cleanup.failures.length) parts.push(`could not ${cleanup.failures.map((f) => `${f.action} ${f.resource} (${f.reason})`).join(', ')}`);
  return parts.length ? parts.join('; ') : undefined;
};

/**
 * The report of an execution that did not succeed, each fact once: the error and the stage it came from, each
 * architecture's end (failed, or stopped because a sibling failed), and what cleanup did.
 */
export const failureReport = (
  status: string,
  final: { error?: string; cause?: string },
  progress: ExecutionProgress,
): string[] => {
  const lines = [`build ${status}${final.error ? `: ${final.error}` : ''}`];
  const label = (build: BuildProgress): string => build.architecture ?? `build ${build.index}`;
  const failedBuilds = progress.builds.filter((build) => build.status === 'FAILED');
  for (const build of progress.builds) {
    if (build.status === 'FAILED') {
      const failure = build.failure;
      lines.push(`  ${label(build)}: failed in ${failure?.stage ?? build.stage}: ${failure ? `${failure.error}: ${failure.cause}` : withoutCleanupSummary(causeText(final.cause))}`);
    } else if (build.status === 'ABORTED' || (build.status === 'RUNNING' && status !== 'RUNNING')) {
      const why = failedBuilds.length ? `${failedBuilds.map(label).join(', ')} failed` : `the execution ended ${status}`;
      lines.push(`  ${label(build)}: stopped in ${build.stage} because ${why}`);
    }
  }
  if (failedBuilds.length === 0) {
    if (progress.failure) lines.push(`  failed in ${progress.failure.stage}: ${progress.failure.error}: ${progress.failure.cause}`);
    else if (final.cause) lines.push(`  ${withoutCleanupSummary(causeText(final.cause))}`);
  }
  const cleanup = describeCleanup(progress.cleanup);
  lines.push(cleanup ? `  cleanup: ${cleanup}` : status === 'TIMED_OUT' || status === 'ABORTED'
    ? '  cleanup: none reported yet: the status-change cleanup and the reaper remove what the execution left (docs/architecture.md, "Cleanup")'
    : '  cleanup: nothing to clean');
  return lines;
};
