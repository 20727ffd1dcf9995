/**
 * The benches' way of varying a simulated account's durations (±25 %, from a seeded generator), so polls do not line
 * up with round numbers and two runs of a bench give the same figures.
 */
import type { SimulatedAccount } from '../simulation/aws/account';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** `ms` moved by up to ±25 %, drawn from `random`. */
export const aroundWith = (random: () => number) => (ms: number): number => Math.round(ms * (0.75 + random() / 2));

/** Varies the simulated EC2 and SSM durations of `account` in place (instance states, snapshot, agent, pulls). */
export const varySimulatedDurations = (account: SimulatedAccount, around: (ms: number) => number): SimulatedAccount => {
  const ec2 = account.ec2.options as Mutable<typeof account.ec2.options>;
  const ssm = account.ssmCommands.options as Mutable<typeof account.ssmCommands.options>;
  ec2.pendingMs = around(ec2.pendingMs);
  ec2.stoppingMs = around(ec2.stoppingMs);
  ec2.snapshotBaseMs = around(ec2.snapshotBaseMs);
  ec2.snapshotMsPerGiB = around(ec2.snapshotMsPerGiB);
  ssm.agentOnlineMs = around(ssm.agentOnlineMs);
  ssm.baseRunMs = around(ssm.baseRunMs);
  ssm.pullMs = around(ssm.pullMs);
  return account;
};
