/**
 * Who is calling: the harness runs each handler inside an AsyncLocalStorage context naming its function, and
 * the simulated AWS's SDK middleware (simulation/aws/install.ts) reads it to sign the request as that
 * function's role. Every await inside the handler keeps the context (Node's async context tracking).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { IamPrincipal } from '../aws/core';

const storage = new AsyncLocalStorage<IamPrincipal>();

/** The principal of the code running now, if the harness named one. */
export const currentPrincipal = (): IamPrincipal | undefined => storage.getStore();

/**
 * Runs `work` as the Lambda function `name` (its file name in functions/): every SDK request it sends is
 * authorized against that function's deployed role. For functions outside the state machine (start-build,
 * reap-builders) that tests and other harnesses invoke themselves.
 *
 * @example await runAsFunction('reap-builders', () => handler({}));
 */
export const runAsFunction = <T>(name: string, work: () => T): T => storage.run({ kind: 'function', name }, work);

/** Runs `work` as the builder instance `instanceId` (its instance profile's role). */
export const runAsInstance = <T>(instanceId: string, work: () => T): T => storage.run({ kind: 'instance', instanceId }, work);
