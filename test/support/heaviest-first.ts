/**
 * Test file order for `vitest run`: the files that take longest start first, so that on a 2-core machine the
 * short files fill the gaps at the end instead of one long file starting last and running alone. vitest's own
 * order (node_modules/vitest/dist/chunks/coverage*.js, BaseSequencer.sort) ranks by the durations it cached under
 * node_modules/.vite from earlier runs, and without them (a clean clone, CI) by file size, which says little here:
 * the long files wait on child processes (cdk synth, cfn-lint, npm, containerd) or on the wall clock.
 *
 * After the long files, the rest come grouped by project. A worker of a project that shares its module cache
 * (`isolate: false`: functions, simulation, infra) takes the next file only when the queue's next file is of the same
 * project (node_modules/vitest/dist/chunks/cli-api*.js, Pool: `this.queue[0]?.task.isolate === false &&
 * isEqualRunner(...)`); otherwise it stops, and the project's next file starts a new worker that loads the simulated
 * AWS, the SDK clients or aws-cdk-lib again. Interleaved projects made that happen at random, a few seconds of CPU
 * each time.
 */
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The long files, longest first, by wall time in clean runs of the whole suite on the 2-core machine
 * (docs/testing.md says how to measure them again).
 */
export const HEAVIEST_FIRST: readonly string[] = [
  'test/cli/installed-bin.test.ts',
  'test/infra/templates.test.ts',
  'test/pull-script/pull-script.real.test.ts',
  'test/infra/cdk-cli.test.ts',
  'test/local/local-endpoint.test.ts',
];

/** Then the projects in this order, each with its heavier files first; a file not listed keeps vitest's order within its project. */
export const THEN_BY_PROJECT: readonly { project: string; heaviestFirst: readonly string[] }[] = [
  {
    project: 'simulation',
    heaviestFirst: [
      'test/statemachine/scenarios.test.ts',
      'test/simulation/ec2-throttling.test.ts',
      'test/simulation/lifecycle-copy.test.ts',
      'test/simulation/lifecycle-sharing.test.ts',
      'test/simulation/sfn-quotas.test.ts',
      'test/simulation/lifecycle-retention.test.ts',
      'test/simulation/publish-channels.test.ts',
      'test/simulation/recipes-freshness.test.ts',
      'test/simulation/pull-report-counts.test.ts',
    ],
  },
  { project: 'infra', heaviestFirst: ['test/infra/stack.test.ts', 'test/infra/config.test.ts', 'test/infra/snapshot-lifecycle.test.ts'] },
  { project: 'functions', heaviestFirst: ['test/functions/digests.test.ts'] },
  { project: 'isolated', heaviestFirst: [] },
];

const indexOf = (names: readonly string[], file: { moduleId: string }): number => names.findIndex((name) => file.moduleId.endsWith(`/${name}`));

/** A file as the sequencer sees it (vitest's TestSpecification has these two). */
interface QueuedFile {
  moduleId: string;
  project: { name: string };
}

/** {@link HEAVIEST_FIRST} ahead, in that order, then {@link THEN_BY_PROJECT}; every file once, nothing left out. */
export const inRunOrder = <T extends QueuedFile>(files: readonly T[]): T[] => {
  const rank = (file: T): [number, number] => {
    const heavy = indexOf(HEAVIEST_FIRST, file);
    if (heavy !== -1) return [heavy, 0];
    const group = THEN_BY_PROJECT.findIndex(({ project }) => project === file.project.name);
    const within = group === -1 ? -1 : indexOf(THEN_BY_PROJECT[group]!.heaviestFirst, file);
    return [HEAVIEST_FIRST.length + (group === -1 ? THEN_BY_PROJECT.length : group), within === -1 ? Number.MAX_SAFE_INTEGER : within];
  };
  // Array.prototype.sort is stable: files of equal rank stay in the order they came in (vitest's).
  return [...files].sort((a, b) => {
    const [ga, wa] = rank(a);
    const [gb, wb] = rank(b);
    return ga - gb || wa - wb;
  });
};

export default class HeaviestFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    return inRunOrder(await super.sort(files));
  }
}
