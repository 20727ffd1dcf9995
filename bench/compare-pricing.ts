/**
 * List prices (on-demand, us-east-1, USD, no free tier) for what a build uses, each with the page it comes from.
 * A price the stored pages did not show is marked `verified: false`; the bench prints that next to its figures.
 */

export interface Price {
  usd: number;
  unit: string;
  source: string;
  /** False when no stored page showed this exact figure: the value is AWS's published list price as commonly quoted. */
  verified: boolean;
}

/** EC2 on-demand Linux, per hour, us-east-1. */
export const EC2_HOURLY: Readonly<Record<string, Price>> = {
  'm7i.xlarge': { usd: 0.2016, unit: 'hour of m7i.xlarge', source: 'c3x.dev/blog/m5-vs-m6i-vs-m7i-cost-performance (us-east-1 on-demand Linux)', verified: true },
  'm6i.xlarge': { usd: 0.192, unit: 'hour of m6i.xlarge', source: 'c3x.dev/blog/m5-vs-m6i-vs-m7i-cost-performance', verified: true },
  'm5.xlarge': { usd: 0.192, unit: 'hour of m5.xlarge', source: 'c3x.dev/blog/m5-vs-m6i-vs-m7i-cost-performance', verified: true },
  'm7g.xlarge': { usd: 0.1632, unit: 'hour of m7g.xlarge', source: 'c3x.dev/blog/m5-vs-m6i-vs-m7i-cost-performance', verified: true },
  // Half of m5.xlarge: on-demand prices scale with size within a family (m7g.large 0.0816 = m7g.xlarge / 2 on
  // factualminds.com/blog/amazon-ec2-on-demand-pricing-instance-families-2026 shows the same ratio).
  'm5.large': { usd: 0.096, unit: 'hour of m5.large', source: 'm5.xlarge / 2 (c3x.dev; size ratio as on factualminds.com)', verified: false },
};

/** EC2 bills Linux instances per second with a 60-second minimum (factualminds.com EC2 on-demand pricing 2026). */
export const EC2_MINIMUM_SECONDS = 60;

/**
 * EBS gp3 and snapshots. Billing rule: per second, 60-second minimum, a month of 30 days, IOPS above 3,000 and
 * throughput above 125 MB/s charged (EBS pricing page, Example 1 "General Purpose SSD (gp3) Volumes", aws.eu/ebs/pricing).
 */
export const EBS = {
  gp3GbMonth: { usd: 0.08, unit: 'GB-month', source: 'saisci.com/aws/gp2-vs-gp3-cost-comparison-ebs-volumes (from the EBS pricing page, N. Virginia)', verified: true },
  gp3IopsMonth: { usd: 0.005, unit: 'provisioned IOPS-month above 3,000', source: 'saisci.com/aws/gp2-vs-gp3-cost-comparison-ebs-volumes (from the EBS pricing page, N. Virginia)', verified: true },
  gp3ThroughputMonth: { usd: 0.04, unit: 'provisioned MB/s-month above 125', source: 'saisci.com/aws/gp2-vs-gp3-cost-comparison-ebs-volumes (from the EBS pricing page, N. Virginia)', verified: true },
  // Billed for the blocks that hold data, not the volume size (repost.aws knowledge-center/ebs-snapshot-billing).
  snapshotGbMonth: { usd: 0.05, unit: 'GB-month stored (standard tier)', source: 'EBS user guide, snapshot-archive-pricing.html ("the standard rate for snapshots of $0.05 per GB-month")', verified: true },
  freeIops: 3000,
  freeThroughputMBps: 125,
  secondsPerMonth: 30 * 86_400,
  minimumSeconds: 60,
} as const;

/** Step Functions standard workflows, us-east-1: $0.0250 per 1,000 state transitions (aws.amazon.com/step-functions/pricing). */
export const SFN_PER_TRANSITION: Price = { usd: 0.025 / 1000, unit: 'state transition', source: 'aws.amazon.com/step-functions/pricing', verified: true };

/** Lambda, us-east-1: requests $0.20 per 1M; duration per GB-s (arm64 is what the factory deploys, infra/snapshot-factory.ts). */
export const LAMBDA = {
  perRequest: { usd: 0.2 / 1_000_000, unit: 'request', source: 'git.mcrn.ar/mariano/lambda_local_runner docs/lambdas-md/lambda-13-cost.md ("$0.20 / 1M")', verified: true },
  perGbSecondArm: { usd: 0.0000133334, unit: 'GB-s (arm64)', source: 'cloudchipr.com/blog/aws-lambda-pricing (us-east-1, first tier)', verified: true },
  perGbSecondX86: { usd: 0.0000166667, unit: 'GB-s (x86_64)', source: 'cloudchipr.com/blog/aws-lambda-pricing (us-east-1, first tier)', verified: true },
  /** Duration is billed in 1 ms increments (same page). */
  billingIncrementMs: 1,
} as const;

/** SSM Run Command and CloudFormation (AWS:: resource types) carry no charge of their own. */
export const NO_CHARGE_NOTE = 'SSM Run Command and CloudFormation stacks of AWS:: resources: no charge of their own (AWS pricing pages; not in the stored pages)';

/** A priced interval of an EBS gp3 volume. */
export interface VolumeUse {
  sizeGiB: number;
  iops: number;
  throughputMBps: number;
  seconds: number;
}

/** The on-demand cost of one instance for `seconds` of running, or undefined when its type has no price here. */
export const instanceCost = (instanceType: string, seconds: number): number | undefined => {
  const price = EC2_HOURLY[instanceType];
  if (!price) return undefined;
  return (price.usd * Math.max(EC2_MINIMUM_SECONDS, seconds)) / 3600;
};

/** The cost of a gp3 volume over its lifetime: storage, IOPS and throughput above the free baseline, pro-rated. */
export const volumeCost = (volume: VolumeUse): number => {
  const months = Math.max(EBS.minimumSeconds, volume.seconds) / EBS.secondsPerMonth;
  const storage = volume.sizeGiB * EBS.gp3GbMonth.usd;
  const iops = Math.max(0, volume.iops - EBS.freeIops) * EBS.gp3IopsMonth.usd;
  const throughput = Math.max(0, volume.throughputMBps - EBS.freeThroughputMBps) * EBS.gp3ThroughputMonth.usd;
  return (storage + iops + throughput) * months;
};

/** The price sources a table relies on, with the unverified ones flagged. */
export const priceNotes = (): string[] => {
  const all: Price[] = [...Object.values(EC2_HOURLY), EBS.gp3GbMonth, EBS.gp3IopsMonth, EBS.gp3ThroughputMonth, EBS.snapshotGbMonth, SFN_PER_TRANSITION, LAMBDA.perRequest, LAMBDA.perGbSecondArm];
  const amount = (p: Price) => (p.usd < 0.001 ? `$${Number((p.usd * 1e6).toPrecision(6))} per 1M x` : `$${p.usd} per`);
  return all.map((p) => `${p.verified ? '  ' : '! '}${amount(p)} ${p.unit}: ${p.source}${p.verified ? '' : ' -- NOT VERIFIED'}`);
};
