/**
 * `snapshot-factory local [--port N] [--speed X]`: serves the Step Functions API on 127.0.0.1, backed by the
 * simulation (the real ASL and handlers against a simulated account), until SIGINT or SIGTERM. The first line on
 * stdout is the state machine ARN, the second the endpoint URL; the account's log goes to stderr.
 */
import { Command, InvalidArgumentError } from 'commander';
import { DEFAULT_SPEED, InvalidSpeedError, parseSpeed } from './live-clock';
import { startLocalServer } from './server';

/** The default port. */
export const DEFAULT_PORT = 8083;

const portOption = (text: string): number => {
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidArgumentError(`--port must be an integer from 0 to 65535 (0 picks a free port), got ${JSON.stringify(text)}`);
  return port;
};

const speedOption = (text: string): number => {
  try {
    return parseSpeed(text);
  } catch (error) {
    if (error instanceof InvalidSpeedError) throw new InvalidArgumentError(error.message);
    throw error;
  }
};

/** The `local` command, for cli/snapshot-factory.ts. */
export const localCommand = (): Command =>
  new Command('local')
    .description('serve the Step Functions API on 127.0.0.1, backed by the local simulation, until interrupted')
    .option('--port <n>', 'TCP port on 127.0.0.1 (0 picks a free one)', portOption, DEFAULT_PORT)
    .option('--speed <x>', 'virtual seconds per wall second (0.1 to 1000)', speedOption, DEFAULT_SPEED)
    .action(async (options: { port: number; speed: number }) => {
      const server = await startLocalServer({
        port: options.port,
        speed: options.speed,
        onEngineExit: (code) => {
          console.error(`snapshot-factory local: the simulation engine exited (code ${code})`);
          process.exit(1);
        },
      });
      console.log(server.stateMachineArn);
      console.log(server.endpointUrl);
      console.error(`serving Step Functions on ${server.endpointUrl} at ${options.speed}x simulated time; Ctrl-C stops`);
      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      await server.close();
      process.exit(0);
    });
