import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';
import HeaviestFirstSequencer from './test/support/heaviest-first.ts';

// aws-cdk-lib's built-in template validation (@aws/cloudformation-validate, a WebAssembly engine; off with
// CDK_VALIDATION=false, node_modules/aws-cdk-lib/core/lib/private/synthesis-validation.js defaultValidationEnabled)
// costs ~9 s of CPU per process that synthesizes, and only warns. The tests' in-process synths skip it: cfn-lint
// checks every template they make (test/infra/templates.test.ts) and the real `cdk synth` of test/infra/cdk-cli.test.ts
// keeps it on (its own environment) and asserts it finds nothing. cdk-nag runs in every synth either way. Set here,
// before any worker starts, so the global setup's child synthesis and the workers' child processes inherit it.
process.env.CDK_VALIDATION = 'false';

export default defineConfig({
  test: {
    setupFiles: ['test/setup.ts'],
    globalSetup: ['test/global-setup.ts'],
    env: {
      AWS_REGION: 'us-west-2',
      AWS_ACCESS_KEY_ID: 'test-no-aws',
      AWS_SECRET_ACCESS_KEY: 'test-no-aws',
      POWERTOOLS_LOG_LEVEL: 'SILENT',
      CDK_VALIDATION: 'false',
    },
    // vitest's default, max(cpus - 1, 1), is one worker on 2 cores; many files wait on child processes (cdk synth,
    // cfn-lint, npm, containerd) or the wall clock, so one more worker than cores keeps both cores busy.
    maxWorkers: availableParallelism() + 1,
    sequence: { sequencer: HeaviestFirstSequencer },
    projects: [
      // The handlers' unit tests, and the simulation's (statemachine, simulation, bench), share their worker's module
      // cache: importing the SDK clients, middy, zod, the simulated AWS and the runner once per worker instead of once
      // per file halves their CPU time. Each file still starts from the same environment
      // (test/support/shared-worker-setup.ts), and the deployed defaults follow FACTORY_DEFAULTS whenever it changes
      // (functions/lib/build-defaults.ts deployedDefaults), whichever file imported them first. The other files (cli, local,
      // pull-script) spend their time in child processes, not in imports, and keep a fresh module graph.
      { extends: true, test: { name: 'functions', include: ['test/functions/**/*.test.ts'], isolate: false, setupFiles: ['test/support/shared-worker-setup.ts'] } },
      { extends: true, test: { name: 'simulation', include: ['test/statemachine/**/*.test.ts', 'test/simulation/**/*.test.ts', 'test/bench/**/*.test.ts'], isolate: false, setupFiles: ['test/setup.ts', 'test/support/shared-worker-setup.ts'] } },
      // The infra files share theirs too: each fresh one paid ~1.3 s of CPU loading aws-cdk-lib's construct libraries and
      // cdk-nag and warming up its first synthesis. Their synthesized templates were shared already (test/infra/template-cache.ts).
      { extends: true, test: { name: 'infra', include: ['test/infra/**/*.test.ts'], isolate: false, setupFiles: ['test/setup.ts', 'test/support/shared-worker-setup.ts'] } },
      { extends: true, test: { name: 'isolated', include: ['test/**/*.test.ts'], exclude: ['test/functions/**', 'test/statemachine/**', 'test/simulation/**', 'test/bench/**', 'test/infra/**'] } },
    ],
    // In CI a JSON report as well, from which .ci/run prints a plain "N passed, N failed" line.
    reporters: process.env.CI ? ['default', 'json'] : ['default'],
    outputFile: { json: '.tmp/vitest-report.json' },
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
