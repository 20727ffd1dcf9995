/** Shared by the EC2 stage tests: a simulated account routed to the SDK clients, a build target, fake timers. */
import { vi } from 'vitest';
import { handler as launch } from '../../functions/launch-instance';
import type { BuildTarget, LaunchedInstance } from '../../functions/lib/schemas';
import { handler as stop } from '../../functions/stop-instance';
import { createSimulatedAccount, type SimulatedAccount } from '../../simulation/aws/account';
import { installSimulatedAws } from '../../simulation/aws/install';
import { regionOf } from '../../simulation/aws/regions';

export const AMI_PARAMETER = '/aws/service/bottlerocket/aws-k8s-1.35/x86_64/latest/image_id';

export const buildTarget = (overrides: Partial<BuildTarget> = {}): BuildTarget => ({
  executionName: 'nightly-2026-11-24',
  recipe: 'ml-images',
  architecture: 'x86_64',
  platforms: ['linux/amd64'],
  images: [{ reference: 'public.ecr.aws/docker/library/python:3.12', digest: 'sha256:' + 'a'.repeat(64) }],
  amiParameter: AMI_PARAMETER,
  instanceTypes: ['m7i.large', 'm6i.large', 'm5.large'],
  instanceProfileName: 'snapshot-factory-builder',
  subnetIds: [],
  securityGroupIds: [],
  associatePublicIp: true,
  osVolume: { sizeGiB: 10 },
  dataVolume: { sizeGiB: 50, iops: 4000, throughputMiBps: 1000, encrypted: true },
  pull: { concurrency: 4, commandTimeoutSeconds: 3600 },
  limits: { ssmOnlineSeconds: 600, pullSeconds: 3600, stopSeconds: 600, snapshotSeconds: 3600 },
  tags: {},
  ...overrides,
});

/** Fake timers and a fresh simulated account; returns it and an undo for afterEach. */
export const simulatedAws = (): { account: SimulatedAccount; restore: () => void } => {
  vi.useFakeTimers({ now: new Date('2026-11-24T12:00:00Z') });
  const account = createSimulatedAccount();
  const uninstall = installSimulatedAws(account.core, (region) => regionOf(account, region).core);
  return {
    account,
    restore: () => {
      uninstall();
      vi.useRealTimers();
    },
  };
};

/** Launches a builder for `build` and, unless `stopped` is false, stops it, advancing virtual time past each step. */
export const launchedBuilder = async (build: BuildTarget, { stopped = true } = {}): Promise<LaunchedInstance> => {
  const instance = await launch({ build });
  vi.advanceTimersByTime(60_000);
  if (stopped) {
    await stop({ build, instance });
    vi.advanceTimersByTime(60_000);
  }
  return instance;
};

/** What check-pull-command returns once it verified every image of `build` on every platform (create-snapshot's `pullStatus`). */
export const verifiedPull = (build: Pick<BuildTarget, 'images' | 'platforms'>): { done: true; pulled: number; images: number } => ({
  done: true,
  pulled: build.images.length * build.platforms.length,
  images: build.images.length,
});
