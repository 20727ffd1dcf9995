/**
 * Failure notification (not a state of the state machine): the target of the rule `ExecutionEndedNotify` on Step
 * Functions' own "Step Functions Execution Status Change" events of the factory's state machine with status
 * FAILED, TIMED_OUT or ABORTED (infra/snapshot-lifecycle.ts). Those events come for every way an execution ends
 * badly, also the two that run no Catch (a timed-out or aborted execution), and once per status change, so each
 * failed execution gets exactly one `Snapshot Build Failed` event on the default bus (source `snapshot-factory`).
 *
 * It reads the execution's history (GetExecutionHistory) for what the status-change event does not say: the
 * recipe and architectures (PrepareBuild's output, or the execution input when PrepareBuild never finished) and
 * the stage: for FAILED, the handler the cause names (`<stage> failed with ...` from cleanup, `<stage>: ...` from functions/lib/stage.ts), else the
 * last Task state that failed; for TIMED_OUT and ABORTED, the last state entered. DescribeExecution is asked for the
 * input only when the event left it out (inputDetails.included false: Step Functions omits payloads over 248 KiB).
 *
 * The event's `cause` is cut to {@link MAX_CAUSE_CHARACTERS} and anything that looks like a credential
 * (authorization headers, bearer or registry tokens, passwords, AWS access keys) is replaced by `[redacted]`: the
 * cause may quote a registry's answer, and the event goes to every rule on the bus and any subscribed mailbox.
 *
 * Throws TransientAwsError (Lambda's asynchronous retries run it again), AccessDeniedError, AwsRequestError
 * (PutEvents refused the entry), InvalidInputError (not a status-change event of a failed execution).
 */
import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { DescribeExecutionCommand, GetExecutionHistoryCommand, type HistoryEvent } from '@aws-sdk/client-sfn';
import * as z from './lib/zod-mini';
import { eventBridge } from './lib/clients/eventbridge';
import { sfn } from './lib/clients/sfn';
import { AwsRequestError, TransientAwsError, callAws } from './lib/errors';
import { FAILED_STATUSES, FAILURE_EVENT_DETAIL_TYPE, FAILURE_EVENT_SOURCE } from './lib/failure-event';
import { logger } from './lib/logger';
import { defineStage } from './lib/stage';

export { FAILED_STATUSES, FAILURE_EVENT_DETAIL_TYPE, FAILURE_EVENT_SOURCE } from './lib/failure-event';
/** Step Functions allows a cause of 32,768 characters; a notification needs the start of it. */
export const MAX_CAUSE_CHARACTERS = 4096;
/** GetExecutionHistory returns at most 1,000 events per page (Step Functions API reference, GetExecutionHistory). */
const HISTORY_PAGE = 1000;

const inputSchema = z.object({
  source: z.literal('aws.states'),
  'detail-type': z.literal('Step Functions Execution Status Change'),
  region: z.string().check(z.minLength(1)),
  detail: z.looseObject({
    executionArn: z.string().check(z.startsWith('arn:')),
    stateMachineArn: z.string().check(z.startsWith('arn:')),
    name: z.string().check(z.minLength(1)),
    status: z.enum(FAILED_STATUSES),
    startDate: z.nullish(z.number()),
    stopDate: z.nullish(z.number()),
    input: z.nullish(z.string()),
    inputDetails: z.nullish(z.looseObject({ included: z.boolean() })),
    error: z.nullish(z.string()),
    cause: z.nullish(z.string()),
  }),
});
type Input = z.infer<typeof inputSchema>;

/** The `Snapshot Build Failed` event's detail (docs/consumers.md). */
export interface BuildFailedDetail {
  recipe?: string;
  architectures: string[];
  status: (typeof FAILED_STATUSES)[number];
  /** The state that failed (or was running when the execution timed out or was aborted), e.g. `LaunchInstance`. */
  stage?: string;
  error?: string;
  cause?: string;
  executionArn: string;
  executionName: string;
  consoleUrl: string;
  startedAt?: string;
  stoppedAt?: string;
}

const run = async (event: Input): Promise<{ eventId: string; detail: BuildFailedDetail }> => {
  const { detail } = event;
  const history = await readHistory(detail.executionArn);
  const executionInput = detail.inputDetails?.included === false || detail.input == null ? await describeInput(detail.executionArn) : detail.input;
  const plan = planOf(history);
  const requested = parseJson(executionInput) as { recipe?: unknown; architectures?: unknown } | undefined;
  const notice: BuildFailedDetail = {
    recipe: plan?.recipe ?? (typeof requested?.recipe === 'string' ? requested.recipe : undefined),
    architectures: plan?.architectures ?? (Array.isArray(requested?.architectures) ? requested.architectures.filter((a): a is string => typeof a === 'string') : []),
    status: detail.status,
    stage: stageOf(detail.status, detail.cause ?? undefined, history),
    ...(detail.error ? { error: detail.error } : {}),
    ...(detail.cause ? { cause: redactSecrets(detail.cause).slice(0, MAX_CAUSE_CHARACTERS) } : {}),
    executionArn: detail.executionArn,
    executionName: detail.name,
    consoleUrl: consoleUrl(event.region, detail.executionArn),
    ...(detail.startDate ? { startedAt: new Date(detail.startDate).toISOString() } : {}),
    ...(detail.stopDate ? { stoppedAt: new Date(detail.stopDate).toISOString() } : {}),
  };
  const result = await callAws('events:PutEvents', () =>
    eventBridge.send(new PutEventsCommand({ Entries: [{ Source: FAILURE_EVENT_SOURCE, DetailType: FAILURE_EVENT_DETAIL_TYPE, Detail: JSON.stringify(notice), Resources: [detail.executionArn] }] })),
  );
  const entry = result.Entries?.[0];
  if (!entry?.EventId || entry.ErrorCode) {
    const message = `events:PutEvents refused the Snapshot Build Failed event of ${detail.name}: ${entry?.ErrorCode ?? 'no result'}: ${entry?.ErrorMessage ?? ''}`;
    throw ['ThrottlingException', 'InternalFailure'].includes(entry?.ErrorCode ?? '') ? new TransientAwsError(message) : new AwsRequestError(message);
  }
  logger.info('build failure announced', { executionName: detail.name, status: detail.status, stage: notice.stage, eventId: entry.EventId });
  return { eventId: entry.EventId, detail: notice };
};

/** The Step Functions console page of an execution. */
export const consoleUrl = (region: string, executionArn: string): string =>
  `https://${region}.console.aws.amazon.com/states/home?region=${region}#/v2/executions/details/${encodeURIComponent(executionArn)}`;

/** The first page (oldest first: PrepareBuild's output is among the first events) and the last page, newest first. */
const readHistory = async (executionArn: string): Promise<{ first: HistoryEvent[]; last: HistoryEvent[] }> => {
  const page = (reverseOrder: boolean) =>
    callAws(`states:GetExecutionHistory ${executionArn}`, () =>
      sfn.send(new GetExecutionHistoryCommand({ executionArn, reverseOrder, maxResults: HISTORY_PAGE, includeExecutionData: true })),
    );
  const [first, last] = [await page(false), await page(true)];
  return { first: first.events ?? [], last: last.events ?? [] };
};

const describeInput = async (executionArn: string): Promise<string | undefined> =>
  (await callAws(`states:DescribeExecution ${executionArn}`, () => sfn.send(new DescribeExecutionCommand({ executionArn })))).input;

const parseJson = (text: string | undefined | null): unknown => {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
};

/** PrepareBuild's plan, from its state's output (`{ plan: {...} }`), when it finished. */
const planOf = (history: { first: HistoryEvent[] }): { recipe?: string; architectures?: string[] } | undefined => {
  const exited = history.first.find((e) => e.type === 'TaskStateExited' && e.stateExitedEventDetails?.name === 'PrepareBuild');
  const output = parseJson(exited?.stateExitedEventDetails?.output) as { plan?: { recipe?: unknown; architectures?: unknown } } | undefined;
  if (!output?.plan) return undefined;
  return {
    recipe: typeof output.plan.recipe === 'string' ? output.plan.recipe : undefined,
    architectures: Array.isArray(output.plan.architectures) ? output.plan.architectures.filter((a): a is string => typeof a === 'string') : undefined,
  };
};

/** `launch-instance` -> `LaunchInstance`: a handler's stage name as its state is named. */
const stateOfStage = (stage: string): string => stage.split('-').map((part) => part.charAt(0).toUpperCase() + part.slice(1)).join('');

const stageOf = (status: Input['detail']['status'], cause: string | undefined, history: { last: HistoryEvent[] }): string | undefined => {
  if (status === 'FAILED') {
    // Cleanup's cause reads `<stage> failed with <error>: ...` (functions/cleanup-build.ts, describeFailure); a
    // handler's own message `<stage>: ...` (functions/lib/stage.ts).
    const named = /^([a-z][a-z0-9]*(?:-[a-z0-9]+)+)(?: failed with |: )/.exec(cause ?? '')?.[1];
    if (named) return stateOfStage(named);
    // Newest first: the Task state entered just before the newest failed task attempt.
    const failedAt = history.last.findIndex((e) => e.type === 'TaskFailed' || e.type === 'TaskTimedOut');
    if (failedAt >= 0) {
      const entered = history.last.slice(failedAt).find((e) => e.type === 'TaskStateEntered');
      if (entered?.stateEnteredEventDetails?.name) return entered.stateEnteredEventDetails.name;
    }
  }
  const last = history.last.find((e) => e.type?.endsWith('StateEntered'));
  return last?.stateEnteredEventDetails?.name;
};

const SECRET_PATTERNS: RegExp[] = [
  /\b(authorization|proxy-authorization)\s*[:=]\s*("?)[^\s"]+(?:\s+[^\s",;]+)?\2/gi,
  /\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}/gi,
  /\b(password|passwd|secret|token|access_token|refresh_token|x-amz-security-token)\s*([:=])\s*("?)[^\s",;&]+\3/gi,
  /\b(A3T[A-Z0-9]|AKIA|ASIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA)[A-Z0-9]{16}\b/g,
];

/**
 * `text` with what looks like a credential replaced by `[redacted]`: authorization headers, bearer/basic tokens,
 * `password=`/`token=` style values and AWS access key IDs.
 *
 * @example redactSecrets('pull failed: Authorization: Bearer abc.def.ghi') // 'pull failed: [redacted]'
 */
export const redactSecrets = (text: string): string => SECRET_PATTERNS.reduce((out, pattern) => out.replace(pattern, '[redacted]'), text);

export const handler = defineStage('notify-build-failure', inputSchema, run);
