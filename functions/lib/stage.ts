/**
 * Wraps a stage's logic into a Lambda handler: structured logging context, input validation
 * with the stage's zod schema, and errors that name the stage.
 *
 * Step Functions shows a failed Task's error `name` and message; the message is prefixed with the
 * stage so an execution's failure cause always says which stage failed.
 */
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { Context } from 'aws-lambda';
import { safeParse, type $ZodError, type $ZodType, type output } from 'zod/v4/core';
import { InvalidInputError } from './errors';
import { logger } from './logger';

/** Formats zod issues as `path: problem` so the message names the bad field (classic zod's errors and zod/mini's alike). */
export const describeIssues = (error: $ZodError): string =>
  error.issues
    .map((issue) => `${issue.path.length ? issue.path.join('.') : '(input)'}: ${issue.message}`)
    .join('; ');

/**
 * Parses `input` with `schema` (a classic zod or a zod/mini schema: zod's core parses both) or throws
 * {@link InvalidInputError} naming every bad field.
 */
export const parseInput = <S extends $ZodType>(schema: S, input: unknown, what: string): output<S> => {
  const parsed = safeParse(schema, input);
  if (!parsed.success) throw new InvalidInputError(`${what} is invalid: ${describeIssues(parsed.error)}`);
  return parsed.data;
};

/** Marks the fallback context, whose remaining time no runtime measures. */
const LOCAL = Symbol('local context');

export type StageHandler<I, O> = ((event: unknown, context?: Context) => Promise<O>) & { stage: string; run: (input: I, context?: Context) => Promise<O> };

/**
 * Builds the exported `handler` of a stage.
 *
 * @param stage the stage's kebab-case name, as its file is named (`functions/<stage>.ts`).
 * @example
 * const run = async (input: Input): Promise<Output> => { ... };
 * export const handler = defineStage('stop-instance', inputSchema, run);
 */
export const defineStage = <S extends $ZodType, O>(
  stage: string,
  schema: S,
  run: (input: output<S>, context?: Context) => Promise<O>,
): StageHandler<output<S>, O> => {
  // `run` gets the runtime's context only when there is one: a check polls inside its invocation only when the
  // remaining time is real (functions/lib/poll-inside.ts), never on the fallback's made-up figure.
  const wrapped = middy(async (event: unknown, context: Context & { [LOCAL]?: true }) =>
    run(parseInput(schema, event, `${stage} input`), context?.[LOCAL] ? undefined : context),
  )
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use({
      onError: async (request) => {
        const error = request.error;
        if (error instanceof Error && !error.message.startsWith(`${stage}: `)) {
          error.message = `${stage}: ${error.message}`;
        }
        logger.error('stage failed', { stage, errorName: error?.name, error: error?.message });
      },
    });
  const handler = (async (event: unknown, context?: Context) =>
    wrapped(event, context ?? fallbackContext(stage))) as StageHandler<output<S>, O>;
  handler.stage = stage;
  handler.run = run;
  return handler;
};

/** A minimal Lambda context for local calls (unit tests), where no Lambda runtime provides one. */
const fallbackContext = (stage: string): Context =>
  ({
    [LOCAL]: true,
    functionName: stage,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:${stage}`,
    memoryLimitInMB: '256',
    awsRequestId: 'local',
    logGroupName: `/aws/lambda/${stage}`,
    logStreamName: 'local',
    callbackWaitsForEmptyEventLoop: false,
    getRemainingTimeInMillis: () => 60_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  }) as Context;
