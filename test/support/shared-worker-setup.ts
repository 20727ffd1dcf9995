/**
 * Setup of the test files that share their worker's module cache (vitest.config.ts, projects "functions" and "simulation",
 * `isolate: false`): each file starts from the environment the first one saw, as it would in a fresh worker.
 * Handlers read some variables from the environment (functions/lib/build-defaults.ts: FACTORY_DEFAULTS) and the
 * simulated account's IAM install sets FACTORY_DEFAULTS (simulation/iam/install.ts useDeployedEnvironment), so a
 * variable one file left set must not reach the next. Real timers are put back for the same reason.
 */
import { afterAll, vi } from 'vitest';

const holder = globalThis as { __environmentAtFirstFile?: Record<string, string | undefined> };
// setupFiles run before every file, the first time in a new worker: that first time records the environment.
holder.__environmentAtFirstFile ??= { ...process.env };
const initial = holder.__environmentAtFirstFile;
for (const name of Object.keys(process.env)) if (!(name in initial)) delete process.env[name];
Object.assign(process.env, initial);

afterAll(() => {
  vi.useRealTimers();
  vi.unstubAllEnvs();
  vi.unstubAllGlobals();
});
