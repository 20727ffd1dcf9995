/**
 * `snapshot-factory local`'s server: an HTTP server on 127.0.0.1 speaking Step Functions' JSON protocol
 * (cli/local/json-protocol.ts), in front of the engine process (cli/local/engine-process.ts) that runs the
 * simulation. Two processes because the engine fakes its process's clock and timers; the server keeps real ones.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { EngineMessage, EngineRequest } from './engine-process';
import { serveJsonRequest, type OperationResult } from './json-protocol';
import { LocalStepFunctionsApi } from './step-functions-api';

const here = dirname(fileURLToPath(import.meta.url));

/** The engine process ended before it was ready, or while serving. */
export class LocalEngineError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LocalEngineError';
  }
}

export interface LocalServerOptions {
  /** TCP port on 127.0.0.1; 0 picks a free one. */
  port: number;
  /** Virtual seconds per wall second. */
  speed: number;
  /** Called if the engine process ends while the server runs. */
  onEngineExit?: (code: number | null) => void;
}

/** A running endpoint. */
export interface LocalServer {
  stateMachineArn: string;
  /** `http://127.0.0.1:<port>` */
  endpointUrl: string;
  /** Closes the server and ends the engine. */
  close: () => Promise<void>;
}

/** The engine runs TypeScript: it needs tsx's loader, which a process started by tsx passes on in its execArgv. */
const engineExecArgv = (): string[] => (process.execArgv.some((arg) => arg.includes('tsx')) ? process.execArgv : [...process.execArgv, '--import', 'tsx']);

/**
 * Starts the engine, waits until the factory is deployed in its simulated account, then listens.
 *
 * @example
 * const server = await startLocalServer({ port: 0, speed: 10 });
 * console.log(server.stateMachineArn, server.endpointUrl);
 * await server.close();
 */
export const startLocalServer = async (options: LocalServerOptions): Promise<LocalServer> => {
  const engine: ChildProcess = fork(join(here, 'engine-process.ts'), [], {
    execArgv: engineExecArgv(),
    env: { ...process.env, SNAPSHOT_FACTORY_LOCAL_SPEED: String(options.speed) },
    // The handlers' EMF lines go to stdout, as to a Lambda log stream: kept off the server's stdout.
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const pending = new Map<number, (result: OperationResult) => void>();
  let nextId = 1;
  let closing = false;

  const stateMachineArn = await new Promise<string>((resolve, reject) => {
    const onExit = (code: number | null) => reject(new LocalEngineError(`the simulation engine exited (code ${code}) before it was ready; its errors are above`));
    engine.once('exit', onExit);
    engine.once('error', reject);
    engine.on('message', (message: EngineMessage) => {
      if ('ready' in message) {
        engine.off('exit', onExit);
        resolve(message.ready.stateMachineArn);
        return;
      }
      const answer = pending.get(message.id);
      pending.delete(message.id);
      answer?.('error' in message ? { error: message.error } : { output: message.output });
    });
  });
  engine.on('exit', (code) => {
    for (const answer of pending.values()) answer({ error: { code: 'InternalFailure', message: 'The request processing has failed because of an unknown error, exception or failure.' } });
    pending.clear();
    if (!closing) options.onEngineExit?.(code);
  });

  const perform = (operation: string, input: Record<string, unknown>) =>
    new Promise<OperationResult>((resolve) => {
      const id = nextId++;
      pending.set(id, resolve);
      engine.send({ id, operation, input } satisfies EngineRequest);
    });
  const server: Server = createServer((request, response) => {
    serveJsonRequest(request, response, LocalStepFunctionsApi.OPERATIONS, perform).catch((error: unknown) => {
      process.stderr.write(`[local] ${(error as Error).stack ?? String(error)}\n`);
      if (!response.headersSent) response.writeHead(500).end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, '127.0.0.1', () => resolve());
  }).catch((error: unknown) => {
    engine.kill('SIGTERM');
    throw error;
  });
  const { port } = server.address() as AddressInfo;

  return {
    stateMachineArn,
    endpointUrl: `http://127.0.0.1:${port}`,
    close: async () => {
      closing = true;
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if (engine.exitCode === null && engine.signalCode === null) {
        const exited = new Promise((resolve) => engine.once('exit', resolve));
        engine.disconnect();
        await exited;
      }
    },
  };
};
