/**
 * The engine process of `snapshot-factory local`: holds the simulated account and its executions
 * (cli/local/local-factory.ts) and answers the Step Functions operations (cli/local/step-functions-api.ts) that
 * the HTTP server (cli/local/server.ts, the parent process) forwards over the IPC channel. It runs apart from the
 * server because it fakes `Date` and the timers of its whole process.
 *
 * Messages: parent -> `{ id, operation, input }`; engine -> `{ ready: { stateMachineArn } }` once, then
 * `{ id, output }` or `{ id, error: { code, message } }`. The engine ends when the channel closes or on SIGTERM.
 */
import '../../simulation/environment';
import { LocalFactory } from './local-factory';
import { DEFAULT_SPEED, parseSpeed } from './live-clock';
import { LocalStepFunctionsApi, StepFunctionsApiError } from './step-functions-api';

/** A request forwarded by the server. */
export interface EngineRequest {
  id: number;
  operation: string;
  input: Record<string, unknown>;
}

/** What the engine sends back. */
export type EngineMessage =
  | { ready: { stateMachineArn: string } }
  | { id: number; output: Record<string, unknown> }
  | { id: number; error: { code: string; message: string } };

const send = (message: EngineMessage) => process.send?.(message);
const log = (line: string) => process.stderr.write(`[local] ${line}\n`);

const main = async () => {
  if (!process.send) throw new Error('cli/local/engine-process.ts runs as the child of `snapshot-factory local` (it needs an IPC channel)');
  const factory = await LocalFactory.start({ speed: parseSpeed(process.env.SNAPSHOT_FACTORY_LOCAL_SPEED ?? String(DEFAULT_SPEED)), log });
  const api = new LocalStepFunctionsApi(factory);
  const end = () => {
    factory.shutdown();
    process.exit(0);
  };
  process.on('disconnect', end);
  // Ctrl-C reaches the whole process group: the server ends the engine when it has closed (the channel closes),
  // so the engine does not exit first and look like a crash.
  process.on('SIGINT', () => undefined);
  process.on('SIGTERM', end);
  process.on('message', (request: EngineRequest) => {
    try {
      send({ id: request.id, output: api.handle(request.operation, request.input) });
    } catch (error) {
      if (error instanceof StepFunctionsApiError) send({ id: request.id, error: { code: error.code, message: error.message } });
      else {
        log(`${request.operation} failed: ${(error as Error).stack ?? String(error)}`);
        send({ id: request.id, error: { code: 'InternalFailure', message: 'The request processing has failed because of an unknown error, exception or failure.' } });
      }
    }
  });
  send({ ready: { stateMachineArn: factory.stateMachine.stateMachineArn } });
};

main().catch((error: unknown) => {
  log(`the engine could not start: ${(error as Error).stack ?? String(error)}`);
  process.exit(1);
});
