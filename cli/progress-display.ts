/**
 * How a long build shows its progress on stderr. On a terminal: one live line per architecture (stage, time in it,
 * a spinner while it waits), redrawn in place. Piped or redirected: one line per stage change, never one per poll,
 * so a log stays short (a one-hour pull is one line, not one per poll).
 *
 * Drawn with two ANSI control sequences (ECMA-48: CUU `ESC [ n A` moves the cursor up, EL `ESC [ 2 K` clears a
 * line), which is all a redraw of a few lines needs; a terminal library would add dependencies for no gain here.
 */
import type { BuildProgress, ExecutionProgress } from './execution-progress';

/** Shows progress as it changes. */
export interface ProgressDisplay {
  update(progress: ExecutionProgress): void;
  /** Leaves the last state on screen and stops any animation. */
  stop(): void;
}

/** Where the display writes: a stream and whether it is a terminal. */
export interface DisplayTarget {
  write: (text: string) => void;
  isTTY: boolean;
  columns?: number;
  now: () => number;
}

const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/** `45s`, `3m05s`, `1h02m`. */
export const formatElapsed = (ms: number): string => {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${String(seconds % 60).padStart(2, '0')}s`;
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`;
};

const labelOf = (build: BuildProgress): string => build.architecture ?? `build ${build.index}`;

const ENDED: Record<BuildProgress['status'], string> = { RUNNING: '', SUCCEEDED: 'done', FAILED: 'failed', ABORTED: 'stopped' };

/** One line per stage change, also for stages entered and left between two polls: `[+1m05s] x86_64: CheckPullCommand`. */
export const lineDisplay = (target: DisplayTarget, startedAt: number): ProgressDisplay => {
  const printed = new Map<string, number>();
  const ended = new Set<number>();
  const emitNew = (key: string, stages: { stage: string; at: number }[], label: string): void => {
    for (const { stage, at } of stages.slice(printed.get(key) ?? 0)) target.write(`[+${formatElapsed(at - startedAt)}] ${label}${stage}\n`);
    printed.set(key, stages.length);
  };
  return {
    update(progress) {
      // The Map state is the builds' container: its lines are the builds'.
      emitNew('execution', progress.stages.filter((s) => s.stage !== 'BuildEachArchitecture'), '');
      for (const build of progress.builds) {
        emitNew(`build ${build.index}`, build.stages, `${labelOf(build)}: `);
        if (build.status !== 'RUNNING' && !ended.has(build.index)) {
          ended.add(build.index);
          target.write(`[+${formatElapsed((build.stages.at(-1)?.at ?? startedAt) - startedAt)}] ${labelOf(build)}: ${ENDED[build.status]}\n`);
        }
      }
    },
    stop() {},
  };
};

/** Live lines redrawn in place, a spinner on waiting builds. */
export const terminalDisplay = (target: DisplayTarget, startedAt: number, frameMs = 120): ProgressDisplay => {
  let progress: ExecutionProgress | undefined;
  let drawn = 0;
  let frame = 0;
  const fit = (text: string): string => (target.columns && text.length > target.columns - 1 ? `${text.slice(0, target.columns - 2)}…` : text);
  const lines = (): string[] => {
    if (!progress) return [];
    const now = target.now();
    const top = `${progress.stage ?? 'starting'}  ${formatElapsed(now - startedAt)}`;
    return [
      top,
      ...progress.builds.map((build) => {
        if (build.status !== 'RUNNING') return `  ${labelOf(build).padEnd(7)} ${ENDED[build.status]}`;
        const marker = build.waiting ? SPINNER[frame % SPINNER.length] : '›';
        return `  ${labelOf(build).padEnd(7)} ${marker} ${build.stage}  ${formatElapsed(now - build.stageSince)}`;
      }),
    ].map(fit);
  };
  const draw = (): void => {
    const next = lines();
    let text = drawn ? `\x1b[${drawn}A` : '';
    for (const line of next) text += `\x1b[2K${line}\n`;
    target.write(text);
    drawn = next.length;
  };
  const timer = setInterval(() => {
    frame += 1;
    if (progress) draw();
  }, frameMs);
  timer.unref();
  return {
    update(next) {
      progress = next;
      draw();
    },
    stop() {
      clearInterval(timer);
      if (progress) draw();
    },
  };
};

/** The display for a stream: live lines on a terminal, stage-change lines otherwise. */
export const displayFor = (target: DisplayTarget, startedAt: number): ProgressDisplay =>
  target.isTTY ? terminalDisplay(target, startedAt) : lineDisplay(target, startedAt);
