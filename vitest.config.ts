import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/setup.ts'],
    env: {
      AWS_REGION: 'us-west-2',
      AWS_ACCESS_KEY_ID: 'test-no-aws',
      AWS_SECRET_ACCESS_KEY: 'test-no-aws',
      POWERTOOLS_LOG_LEVEL: 'SILENT',
    },
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
