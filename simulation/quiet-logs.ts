/**
 * Imported first by the simulation's entry points: the handlers' structured logs would drown the progress
 * lines. `POWERTOOLS_LOG_LEVEL=INFO npm run simulate ...` shows them again.
 */
process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';
export {};
