/**
 * Test file order for `vitest run`: the files that take longest start first, so that on a 2-core machine the
 * short files fill the gaps at the end instead of one long file starting last and running alone. vitest's own
 * order (node_modules/vitest/dist/chunks/coverage*.js, BaseSequencer.sort) ranks by the durations it cached under
 * node_modules/.vite from earlier runs, and without them (a clean clone, CI) by file size, which says little here:
 * the long files wait on child processes (cdk synth, cfn-lint, npm, containerd) or on the wall clock.
 */
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * Longest first, by wall time measured on a clean clone on this 2-core machine, under load (docs/testing.md says how
 * to measure them again).
 * A file not listed, or renamed, falls back to vitest's own order after these: nothing is left out.
 */
export const HEAVIEST_FIRST: readonly string[] = [
  'test/cli/installed-bin.test.ts',
  'test/infra/templates.test.ts',
  'test/pull-script/pull-script.real.test.ts',
  'test/infra/cdk-cli.test.ts',
  'test/local/local-endpoint.test.ts',
  'test/statemachine/scenarios.test.ts',
  'test/simulation/ec2-throttling.test.ts',
  'test/infra/config.test.ts',
  'test/simulation/sfn-quotas.test.ts',
  'test/infra/snapshot-lifecycle.test.ts',
  'test/simulation/publish-channels.test.ts',
  'test/simulation/recipes-freshness.test.ts',
  'test/simulation/pull-report-counts.test.ts',
];

/** Puts {@link HEAVIEST_FIRST} ahead, in that order; the others keep vitest's order behind them. */
export default class HeaviestFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rest = await super.sort(files);
    const rank = (file: TestSpecification): number => {
      const index = HEAVIEST_FIRST.findIndex((name) => file.moduleId.endsWith(`/${name}`));
      return index === -1 ? HEAVIEST_FIRST.length : index;
    };
    // Array.prototype.sort is stable: files of equal rank (all unlisted ones) stay in vitest's order.
    return rest.sort((a, b) => rank(a) - rank(b));
  }
}
