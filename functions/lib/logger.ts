/**
 * Structured JSON logging for every handler (Powertools for AWS Lambda): one logger per function,
 * its service name from `POWERTOOLS_SERVICE_NAME`, level from `POWERTOOLS_LOG_LEVEL` (default INFO).
 * Never log a registry credential or a whole pull script: log image references and IDs only.
 */
import { Logger } from '@aws-lambda-powertools/logger';

export const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'snapshot-factory' });
