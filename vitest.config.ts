import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/setup.ts'],
    globalSetup: ['test/global-setup.ts'],
    env: {
      AWS_REGION: 'us-west-2',
      AWS_ACCESS_KEY_ID: 'test-no-aws',
      AWS_SECRET_ACCESS_KEY: 'test-no-aws',
      POWERTOOLS_LOG_LEVEL: 'SILENT',
    },
    // In CI a JSON report as well, from which .ci/run prints a plain "N passed, N failed" line.
    reporters: process.env.CI ? ['default', 'json'] : ['default'],
    outputFile: { json: '.tmp/vitest-report.json' },
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
