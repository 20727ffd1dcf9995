/**
 * The factory's command line (`snapshot-factory`, bin/snapshot-factory.js): `build` on a deployed factory, `status`
 * of an execution, `node-class` and `launch-template` for consumers. `npm run simulate` (cli/simulate.ts) runs a
 * build against the simulated AWS instead.
 */
import './unsupported-node-warning';
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { clientsFor } from './aws-access';
import { buildCommand, buildRegion, runBuild, type BuildOptions } from './build-command';
import type { FollowIo } from './follow-execution';
import { instanceTypeLookup } from './instance-type-lookup';
import { localCommand } from './local/command';
import { launchTemplateCommand, nodeClassCommand } from './node-class-command';
import { rewriteLegacyFlags } from './snapshot-flags';
import { executionArnOf, runStatus, statusCommand, statusRegion, type StatusOptions } from './status-command';

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };

const io: FollowIo = {
  stdout: (line) => console.log(line),
  stderr: (line) => console.error(line),
  progressTarget: {
    write: (text) => process.stderr.write(text),
    isTTY: Boolean(process.stderr.isTTY),
    columns: process.stderr.columns,
    now: () => Date.now(),
  },
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

const program = new Command('snapshot-factory')
  .description('Bottlerocket Snapshot Factory: EBS snapshots of Bottlerocket data volumes with images pre-pulled')
  .version(version, '-V, --version')
  .showHelpAfterError();

program.addCommand(
  buildCommand().action(async (images: string[], options: BuildOptions) => {
    const clients = clientsFor(buildRegion(options), options.endpointUrl);
    process.exitCode = await runBuild(images, options, { ...io, clients, instanceTypeLookup: instanceTypeLookup(clients.ec2) });
  }),
);

program.addCommand(
  statusCommand().action(async (execution: string, options: StatusOptions) => {
    const executionArn = executionArnOf(execution, options.stateMachineArn);
    process.exitCode = await runStatus(executionArn, options, clientsFor(statusRegion(executionArn, options.region), options.endpointUrl), io);
  }),
);

program.addCommand(nodeClassCommand());
program.addCommand(launchTemplateCommand());
program.addCommand(localCommand());

program.parseAsync(rewriteLegacyFlags(process.argv)).catch((error: unknown) => {
  console.error(`snapshot-factory: ${(error as Error).message}`);
  process.exitCode = 1;
});
