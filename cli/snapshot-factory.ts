#!/usr/bin/env node
/**
 * The factory's command line: `build` on a deployed factory, `node-class` to print consumer blocks.
 * `npm run simulate` (cli/simulate.ts) runs a build against the simulated AWS instead.
 */
import { Command } from 'commander';
import { buildCommand, clientsFor, runBuild, type BuildOptions } from './build-command';
import { localCommand } from './local/command';
import { karpenterNodeClass, launchTemplateBlockDevices } from './node-templates';
import { parsePositiveInteger, rewriteLegacyFlags } from './snapshot-flags';

const program = new Command('snapshot-factory')
  .description('Bottlerocket Snapshot Factory: EBS snapshots of Bottlerocket data volumes with images pre-pulled')
  .showHelpAfterError();

program.addCommand(
  buildCommand().action(async (images: string[], options: BuildOptions) => {
    process.exitCode = await runBuild(images, options, {
      ...clientsFor(options.region, options.endpointUrl),
      stdout: (line) => console.log(line),
      stderr: (line) => console.error(line),
      sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    });
  }),
);

program.addCommand(
  new Command('node-class')
    .description('print a Karpenter EC2NodeClass and a launch template block that use a snapshot')
    .argument('<snapshot-id>', 'the snapshot, e.g. from the SSM parameter /snapshot-factory/<recipe>/<arch>/snapshot-id')
    .option('-s, --volume-size <GiB>', 'data volume size on the nodes', parsePositiveInteger('--volume-size'), 100)
    .option('-k, --kms-id <key>', 'KMS key of the node volumes')
    .action((snapshotId: string, options: { volumeSize: number; kmsId?: string }) => {
      const template = { snapshotId, volumeSizeGiB: options.volumeSize, kmsKeyId: options.kmsId };
      console.log(karpenterNodeClass(template));
      console.log(launchTemplateBlockDevices(template));
    }),
);

program.addCommand(localCommand());

program.parseAsync(rewriteLegacyFlags(process.argv)).catch((error: unknown) => {
  console.error(`snapshot-factory: ${(error as Error).message}`);
  process.exitCode = 1;
});
