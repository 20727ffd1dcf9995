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
      // The handlers' unit tests share their worker's module cache: importing the SDK clients, middy and zod once per
      // worker instead of once per file cuts their CPU time by two thirds. Each file still starts from the same
      // environment (test/support/shared-worker-setup.ts). Nothing under test/functions runs the simulated state
      // machine, whose files need a fresh module graph (FACTORY_DEFAULTS is read at import); every other file keeps one.
      { extends: true, test: { name: 'functions', include: ['test/functions/**/*.test.ts'], isolate: false, setupFiles: ['test/support/shared-worker-setup.ts'] } },
      { extends: true, test: { name: 'isolated', include: ['test/**/*.test.ts'], exclude: ['test/functions/**'] } },
    ],
    // In CI a JSON report as well, from which .ci/run prints a plain "N passed, N failed" line.
    reporters: process.env.CI ? ['default', 'json'] : ['default'],
    outputFile: { json: '.tmp/vitest-report.json' },
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
