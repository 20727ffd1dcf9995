/**
 * The part of Lambda's runtime a handler sees in the simulation: the context object and the function's Timeout, on
 * the virtual clock (FakeTimers, simulation/run-state-machine.ts), so a handler that sleeps advances the clock and
 * one that runs past its deployed Timeout fails as Lambda fails it.
 *
 * As AWS documents it:
 * - the context's `getRemainingTimeInMillis()` "returns the number of milliseconds left before the execution times
 *   out" (AWS Lambda Developer Guide, "Using the Lambda context object to retrieve Node.js function information");
 *   `memoryLimitInMB`, `functionName`, `invokedFunctionArn` and `awsRequestId` are filled from the deployed function;
 * - an invocation that runs past the function's Timeout ends with the error type `Sandbox.Timedout` and the message
 *   "Task timed out after N.NN seconds" (AWS Lambda Developer Guide, "Troubleshoot invocation issues in Lambda",
 *   "Function times out during Init phase (Sandbox.Timedout)"); Step Functions' lambda:invoke Task fails with that
 *   error name, which no `Lambda.*` Retry matches, so the Task's Catch sees it.
 *
 * Left out: the Init phase's own 10 s limit and its re-run after a timeout inside the Timeout (the simulation charges
 * a cold start's time before the handler, simulation/lambda-latency.ts, and never fails an Init); freezing the
 * environment at the timeout: the timed-out handler's promise is abandoned, not stopped, so it may still send a
 * request it had started (the checks' inner poll stops at its window anyway).
 */
import type { Context } from 'aws-lambda';

/** What the simulation knows of a deployed function (simulation/deploy/deployment.ts). */
export interface DeployedRuntime {
  /** File name in functions/. */
  name: string;
  arn: string;
  timeoutSeconds: number;
  memoryMb: number;
}

/** Lambda's error for an invocation that ran past its Timeout (`errorType` Sandbox.Timedout). */
export class LambdaTimedOutError extends Error {
  constructor(timeoutSeconds: number) {
    super(`Task timed out after ${timeoutSeconds.toFixed(2)} seconds`);
    this.name = 'Sandbox.Timedout';
  }
}

let requests = 0;

/** A Lambda context whose remaining time is measured on the (virtual) clock from `startedAt`. */
export const lambdaContext = (fn: DeployedRuntime, startedAt: number): Context => {
  requests += 1;
  const deadline = startedAt + fn.timeoutSeconds * 1000;
  return {
    functionName: fn.arn.split(':').at(-1)!,
    functionVersion: '$LATEST',
    invokedFunctionArn: fn.arn,
    memoryLimitInMB: String(fn.memoryMb),
    awsRequestId: `00000000-0000-4000-8000-${String(requests).padStart(12, '0')}`,
    logGroupName: `/aws/lambda/${fn.name}`,
    logStreamName: 'simulated',
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
};

/**
 * Runs `handler` as Lambda would run the deployed function: with a context, and failed with
 * {@link LambdaTimedOutError} when it has not returned within the function's Timeout.
 */
export const invokeWithTimeout = async <T>(fn: DeployedRuntime, handler: (context: Context) => Promise<T>): Promise<T> => {
  const context = lambdaContext(fn, Date.now());
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new LambdaTimedOutError(fn.timeoutSeconds)), fn.timeoutSeconds * 1000);
  });
  try {
    return await Promise.race([handler(context), timedOut]);
  } finally {
    // A pending timer would keep the virtual clock moving to it once the run is idle.
    clearTimeout(timer);
  }
};
