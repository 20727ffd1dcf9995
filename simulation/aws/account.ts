/**
 * A whole simulated AWS account: every service the factory's handlers call, sharing one clock
 * (`Date.now()`) and one fault injector. `installSimulatedAws(account.core)` routes the SDK to it.
 */
import type { SimulatedBottlerocketHost } from './bottlerocket-host';
import { SimulatedAwsCore } from './core';
import { SimulatedEc2 } from './ec2';
import { SimulatedSnapshotCopies } from './ec2-copy-snapshot';
import { SimulatedFastSnapshotRestore } from './ec2-fast-snapshot-restore';
import { SimulatedSnapshotSharing } from './ec2-snapshot-sharing';
import { SimulatedEcr } from './ecr';
import { SimulatedEventBridge } from './events';
import { SimulatedStepFunctions } from './sfn';
import { registerExecutionHistory } from './sfn-history';
import { SimulatedParameterStore } from './ssm-parameters';
import { SimulatedSsmCommands } from './ssm-commands';

export interface SimulatedAccount {
  core: SimulatedAwsCore;
  ec2: SimulatedEc2;
  /** Fast Snapshot Restore of ec2's snapshots, per zone (simulation/aws/ec2-fast-snapshot-restore.ts). */
  fastSnapshotRestore: SimulatedFastSnapshotRestore;
  /** Snapshot permissions (createVolumePermission) and AMIs that keep a snapshot from being deleted. */
  snapshotSharing: SimulatedSnapshotSharing;
  ssmCommands: SimulatedSsmCommands;
  /** The builders' simulated boot (host containers pulled as the builder, admin container readiness). */
  bottlerocket: SimulatedBottlerocketHost;
  parameters: SimulatedParameterStore;
  ecr: SimulatedEcr;
  sfn: SimulatedStepFunctions;
  events: SimulatedEventBridge;
  /** CopySnapshot into this region (simulation/aws/ec2-copy-snapshot.ts). */
  snapshotCopies: SimulatedSnapshotCopies;
  /**
   * The account's other regions, each a whole simulated region of the same account and clock, created on first use
   * (simulation/aws/regions.ts). Empty unless a handler sends to another region (cross-region copies).
   */
  regions: Map<string, SimulatedAccount>;
  /** For a region of {@link regions}: the account's home region (the one `createSimulatedAccount` made). */
  home?: SimulatedAccount;
}

/** Public Bottlerocket AMI parameters the simulated account knows, per architecture. */
export const seedBottlerocketAmis = (parameters: SimulatedParameterStore, versions = ['1.34', '1.35', '1.36']): void => {
  let n = 0;
  for (const version of versions) {
    for (const variant of ['', '-nvidia', '-fips']) {
      for (const arch of ['x86_64', 'arm64']) {
        n += 1;
        const amiId = `ami-0${n.toString(16).padStart(16, '0')}`;
        parameters.seed(`/aws/service/bottlerocket/aws-k8s-${version}${variant}/${arch}/latest/image_id`, amiId);
      }
    }
  }
};

/** `home`: make a further region of that account (simulation/aws/regions.ts does). */
export const createSimulatedAccount = (options: { region?: string; accountId?: string; home?: SimulatedAccount } = {}): SimulatedAccount => {
  const core = new SimulatedAwsCore(options);
  const ec2 = new SimulatedEc2(core);
  const fastSnapshotRestore = new SimulatedFastSnapshotRestore(core, ec2);
  const ssmCommands = new SimulatedSsmCommands(core, ec2);
  const parameters = new SimulatedParameterStore(core);
  seedBottlerocketAmis(parameters);
  // EC2 knows every seeded AMI with the architecture of its parameter path, so RunInstances can check it.
  for (const { Name, Value } of parameters.parameters.values()) {
    const arch = /\/(x86_64|arm64)\/latest\/image_id$/.exec(Name)?.[1];
    if (arch) ec2.registerImage(Value, arch as 'x86_64' | 'arm64', Name);
  }
  const ecr = new SimulatedEcr(core);
  const sfn = new SimulatedStepFunctions(core);
  registerExecutionHistory(core, sfn);
  const events = new SimulatedEventBridge(core);
  const snapshotSharing = new SimulatedSnapshotSharing(core, ec2);
  const regions = options.home?.regions ?? new Map<string, SimulatedAccount>();
  const homeAccount = options.home;
  const ec2Of = (region: string): SimulatedEc2 | undefined =>
    region === (homeAccount ?? account).core.region ? (homeAccount ?? account).ec2 : regions.get(region)?.ec2;
  const snapshotCopies = new SimulatedSnapshotCopies(ec2, ec2Of);
  const account: SimulatedAccount = {
    core, ec2, fastSnapshotRestore, snapshotSharing, ssmCommands, bottlerocket: ssmCommands.host, parameters, ecr, sfn, events, snapshotCopies, regions,
    ...(homeAccount ? { home: homeAccount } : {}),
  };
  return account;
};
