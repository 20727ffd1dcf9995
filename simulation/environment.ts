/**
 * Imported first by the simulation's entry points (cli/simulate.ts, bench/simulation.bench.ts), before any SDK
 * client or logger exists:
 * - the handlers' structured logs would drown the progress lines (`POWERTOOLS_LOG_LEVEL=INFO` shows them again);
 * - the SDK clients need a region even though every request is answered in-process: the simulated account's.
 * Values already set win.
 */
process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';
process.env.AWS_REGION ??= 'us-west-2';
export {};
