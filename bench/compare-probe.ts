/**
 * What the simulated SSM agent (simulation/aws/ssm-commands.ts) charges for one `ctr images pull` of one image and
 * one platform, measured by asking it rather than copying its formula, so the snapshot.sh model follows the agent
 * whatever it charges (a fixed time per pull today, perhaps a time from the image's size later).
 *
 * snapshot.sh sends one SSM command per (image, platform) (snapshot.sh lines 218-225). The probe launches a builder in
 * a fresh simulated account with the scenario's durations, lets its agent come Online on a fake clock, and sends the
 * factory's own pull command (functions/lib/pull-command.ts) at concurrency 1 for [helper] and for [helper, image]:
 * the difference of their run times is what the agent charges that one pull, the command's fixed part cancelled.
 */
import FakeTimers from '@sinonjs/fake-timers';
import { createSimulatedAccount, type SimulatedAccount } from '../simulation/aws/account';

/** An image of no scenario: the first pull of both probe commands. */
const HELPER = 'public.ecr.aws/bench/compare-probe-helper:v1';

export interface PullToProbe {
  reference: string;
  /** containerd platform, e.g. `linux/amd64`. */
  platform: string;
}

export class PullProbeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PullProbeError';
  }
}

/** Milliseconds the simulated agent runs for one pull of each (image, platform), in the given order. */
export const probePullDurations = async (like: SimulatedAccount, pulls: readonly PullToProbe[]): Promise<number[]> => {
  // Imported here: the simulation sets the deployed defaults before any functions/ module is loaded.
  const { pullCommandOf } = await import('../functions/lib/pull-command');
  const account = createSimulatedAccount({ region: like.core.region, accountId: like.core.accountId });
  Object.assign(account.ec2.options, like.ec2.options);
  Object.assign(account.ssmCommands.options, like.ssmCommands.options);
  Object.assign(account.bottlerocket.options, like.bottlerocket.options);
  const clock = FakeTimers.install({ now: Date.parse('2026-01-05T09:00:00.000Z'), toFake: ['Date'] });
  try {
    const imageId = [...account.ec2.images.entries()].find(([, image]) => image.architecture === 'x86_64')?.[0];
    if (!imageId) throw new PullProbeError('the simulated account knows no x86_64 Bottlerocket AMI');
    const launched = (await account.core.handle('ec2', 'RunInstances', {
      ImageId: imageId,
      InstanceType: 'm5.large',
      MinCount: 1,
      MaxCount: 1,
      BlockDeviceMappings: [{ DeviceName: '/dev/xvdb', Ebs: { VolumeSize: 50, VolumeType: 'gp3', Iops: 4000, Throughput: 1000, DeleteOnTermination: true } }],
    })) as { Instances: { InstanceId: string }[] };
    const instanceId = launched.Instances[0]!.InstanceId;
    // Long enough for any boot the simulated host models; the agent must be Online for SendCommand.
    clock.tick(30 * 60_000);
    if (account.ssmCommands.pingStatus(instanceId) !== 'Online') throw new PullProbeError(`probe builder ${instanceId}: its simulated SSM agent did not come Online`);

    const runMs = async (references: string[], platform: string): Promise<number> => {
      const { commands } = pullCommandOf({ images: references.map((reference) => ({ reference })), platforms: [platform], concurrency: 1 });
      const sent = (await account.core.handle('ssm', 'SendCommand', {
        DocumentName: 'AWS-RunShellScript',
        InstanceIds: [instanceId],
        Parameters: { commands },
      })) as { Command: { CommandId: string } };
      const command = account.ssmCommands.commands.get(`${sent.Command.CommandId}/${instanceId}`);
      if (!command || !Number.isFinite(command.finishAt)) throw new PullProbeError(`probe command for ${references.join(', ')} never ends in the simulated agent`);
      if (command.final !== 'Success') throw new PullProbeError(`probe command for ${references.join(', ')} ended ${command.final}: ${command.stderr}`);
      return command.finishAt - command.sentAt;
    };
    const basis = new Map<string, number>();
    const durations: number[] = [];
    for (const { reference, platform } of pulls) {
      if (!basis.has(platform)) basis.set(platform, await runMs([HELPER], platform));
      durations.push((await runMs([HELPER, reference], platform)) - basis.get(platform)!);
    }
    return durations;
  } finally {
    clock.uninstall();
  }
};
