/**
 * Simulated GetExecutionHistory (Step Functions API reference, API_GetExecutionHistory.html): the events of one
 * execution, oldest first unless `reverseOrder`, at most `maxResults` per page (0 means the default, 100; at most
 * 1,000), with a `nextToken` while more remain; `includeExecutionData: false` leaves out every input and output
 * (default true). An unknown or expired execution answers `ExecutionDoesNotExist`, a bad token `InvalidToken`.
 * The events are those the harness recorded while it ran the execution (simulation/execution-history.ts); an
 * execution the harness did not run (closed by hand with `finish`) has none.
 *
 * Left out: redriven executions (`includeRedriveEvents`), the token's 24-hour expiry.
 */
import type { HistoryEvent } from '../execution-history';
import { AwsServiceError, type SimulatedAwsCore } from './core';
import type { SimulatedStepFunctions } from './sfn';

const DEFAULT_RESULTS = 100;
const MAX_RESULTS = 1000;

type Request = { executionArn: string; maxResults?: number; nextToken?: string; reverseOrder?: boolean; includeExecutionData?: boolean };

/** The event as GetExecutionHistory answers it: `timestamp` a date, payloads left out on request. */
const answer = (event: HistoryEvent, includeData: boolean): Record<string, unknown> => {
  const copy: Record<string, unknown> = { ...event, timestamp: new Date(event.timestamp) };
  for (const [key, value] of Object.entries(event)) {
    if (!key.endsWith('EventDetails') || !value || typeof value !== 'object') continue;
    const details = { ...(value as Record<string, unknown>) };
    if (!includeData) for (const field of ['input', 'output', 'parameters']) delete details[field];
    copy[key] = details;
  }
  return copy;
};

export const registerExecutionHistory = (core: SimulatedAwsCore, sfn: SimulatedStepFunctions): void => {
  core.register('sfn', {
    GetExecutionHistory: (input: Request) => {
      const execution = sfn.get(input.executionArn);
      const maxResults = input.maxResults || DEFAULT_RESULTS;
      if (!Number.isInteger(maxResults) || maxResults < 0 || maxResults > MAX_RESULTS) {
        throw new AwsServiceError('ValidationException', `1 validation error detected: Value '${maxResults}' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to ${MAX_RESULTS}`);
      }
      const start = input.nextToken ? Number(input.nextToken) : 0;
      if (!Number.isInteger(start) || start < 0) throw new AwsServiceError('InvalidToken', `Invalid Token: '${input.nextToken}'`);
      const events = [...(execution.history ?? [])];
      if (input.reverseOrder) events.reverse();
      const page = events.slice(start, start + maxResults).map((event) => answer(event, input.includeExecutionData !== false));
      return { events: page, ...(start + maxResults < events.length ? { nextToken: String(start + maxResults) } : {}) };
    },
  });
};
