/**
 * EC2's request throttling, per account and Region (one {@link Ec2Throttling} per simulated region), from the Amazon
 * EC2 Developer Guide, "Request throttling for the Amazon EC2 API"
 * (https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html; the API Reference's "throttling.html" is
 * the same page):
 *
 * - "each API is evaluated individually, and you are throttled on the number of requests you make on a per-API
 *   basis. Each request that you make removes one token from the API's bucket": one request bucket per action, its
 *   size and refill rate those of the action's category, or the action's own where the page lists it
 *   ("Uncategorized actions"). Throttling one action leaves the others alone.
 * - "If the bucket is below its maximum capacity, a set number of tokens is added back to it every second until it
 *   reaches its maximum capacity": refilled by the rate once per whole second of the simulation's clock
 *   (`Date.now()`, faked in the harness), counted from the bucket's first request; a fractional rate accumulates.
 * - "Unfiltered and unpaginated non-mutating actions ... when requested without specifying either pagination or a
 *   filter, use tokens from a smaller token bucket": DescribeInstances and DescribeSnapshots with neither `Filters`
 *   nor `MaxResults`/`NextToken` take from a second, smaller bucket of that action. The factory's checks ask by ID
 *   (`InstanceIds`, `SnapshotIds`); the page's "filter" links to `--filters` and says nothing of IDs, so an ID-only
 *   request counts as unfiltered here: the stricter reading, so nothing passes here that the other would refuse.
 * - "Resource rate limiting": RunInstances, StopInstances, TerminateInstances (and StartInstances, not called) also
 *   take one token per instance from a resource bucket of 1,000 (RunInstances: per instance of `MaxCount`).
 * - "If you exceed an API throttling limit, you get the RequestLimitExceeded error code". EC2 answers it with
 *   HTTP 503 ("Request limit exceeded. (Service: AmazonEC2; Status Code: 503; Error Code: RequestLimitExceeded ...)",
 *   as SDKs report it, e.g. cloudfoundry/bosh-aws-cpi-release issue 61; the message of 2026 names the account and
 *   action, CloudSnorkel/cdk-github-runners issue 946). The SDK v3 classifies it as a throttling error by its name
 *   (@smithy/core retry: THROTTLING_ERROR_CODES), so its standard retry strategy retries it.
 *
 * What it leaves out: the console's bucket (no console here); whether a refused request or one refused by its
 * resource bucket spends a request token (the page does not say: the request token is spent, the stricter choice);
 * limit increases (the page's figures are the defaults).
 */
import { AwsServiceError } from './core';

/** A token bucket: `capacity` tokens at most, `refillPerSecond` added back every whole second. */
export interface BucketFigures {
  capacity: number;
  refillPerSecond: number;
}

/** The page's "Request token bucket sizes and refill rates", by category. */
export const EC2_REQUEST_BUCKETS = {
  nonMutating: { capacity: 100, refillPerSecond: 20 },
  unfilteredNonMutating: { capacity: 50, refillPerSecond: 10 },
  mutating: { capacity: 50, refillPerSecond: 5 },
  resourceIntensive: { capacity: 50, refillPerSecond: 5 },
} as const satisfies Record<string, BucketFigures>;

/**
 * The page's "Uncategorized actions" table, for the actions the simulated EC2 answers. Not listed there, so of their
 * category: StopInstances, CopySnapshot, Enable/DisableFastSnapshotRestores (mutating), every Describe* (non-mutating).
 */
export const EC2_ACTION_BUCKETS: Readonly<Record<string, BucketFigures>> = {
  RunInstances: { capacity: 5, refillPerSecond: 2 },
  TerminateInstances: { capacity: 100, refillPerSecond: 5 },
  CreateSnapshot: { capacity: 100, refillPerSecond: 5 },
  DeleteSnapshot: { capacity: 100, refillPerSecond: 5 },
  CreateTags: { capacity: 100, refillPerSecond: 10 },
  DeleteTags: { capacity: 100, refillPerSecond: 10 },
  ModifySnapshotAttribute: { capacity: 100, refillPerSecond: 5 },
};

/** The page's "Unfiltered and unpaginated non-mutating actions". */
export const EC2_UNFILTERED_ACTIONS: ReadonlySet<string> = new Set([
  'DescribeInstances',
  'DescribeInstanceStatus',
  'DescribeNetworkInterfaces',
  'DescribeSecurityGroups',
  'DescribeSnapshots',
  'DescribeSpotInstanceRequests',
  'DescribeVolumes',
]);

/** The page's "Resource-intensive actions" (none of them is called by the factory; listed so none falls to `mutating`). */
const RESOURCE_INTENSIVE_ACTIONS: ReadonlySet<string> = new Set([
  'AcceptVpcPeeringConnection',
  'AuthorizeSecurityGroupIngress',
  'CancelSpotInstanceRequests',
  'CreateKeyPair',
  'CreateVpcPeeringConnection',
  'DeleteVpcPeeringConnection',
  'RejectVpcPeeringConnection',
  'RevokeSecurityGroupIngress',
  'RequestSpotInstances',
]);

/** The page's "Resource token bucket sizes and refill rates". */
export const EC2_RESOURCE_BUCKETS: Readonly<Record<string, BucketFigures>> = {
  RunInstances: { capacity: 1000, refillPerSecond: 2 },
  TerminateInstances: { capacity: 1000, refillPerSecond: 20 },
  StartInstances: { capacity: 1000, refillPerSecond: 2 },
  StopInstances: { capacity: 1000, refillPerSecond: 20 },
};

const NON_MUTATING = /^(Describe|List|Search|Get)/;

type Input = Record<string, unknown>;

const unfiltered = (input: Input): boolean =>
  !(Array.isArray(input.Filters) && input.Filters.length > 0) && input.MaxResults === undefined && input.NextToken === undefined;

/** The request bucket a request of `operation` takes its token from: its key and figures. */
export const requestBucketOf = (operation: string, input: Input): { key: string; figures: BucketFigures } => {
  const own = EC2_ACTION_BUCKETS[operation];
  if (own) return { key: operation, figures: own };
  if (NON_MUTATING.test(operation)) {
    if (EC2_UNFILTERED_ACTIONS.has(operation) && unfiltered(input)) return { key: `${operation} (unfiltered)`, figures: EC2_REQUEST_BUCKETS.unfilteredNonMutating };
    return { key: operation, figures: EC2_REQUEST_BUCKETS.nonMutating };
  }
  if (RESOURCE_INTENSIVE_ACTIONS.has(operation)) return { key: operation, figures: EC2_REQUEST_BUCKETS.resourceIntensive };
  return { key: operation, figures: EC2_REQUEST_BUCKETS.mutating };
};

/** Instances a request of a resource-rate action affects: RunInstances' `MaxCount`, the others' `InstanceIds`. */
const resourcesOf = (operation: string, input: Input): number => {
  if (operation === 'RunInstances') return Math.max(1, Number(input.MaxCount ?? 1));
  return Array.isArray(input.InstanceIds) ? input.InstanceIds.length : 1;
};

/** A token bucket on the simulation's clock, refilled once per whole second since its first request (shared with ssm-parameters.ts). */
export class TokenBucket {
  private tokens: number;
  private refilledAt?: number;
  constructor(private readonly figures: BucketFigures) {
    this.tokens = figures.capacity;
  }

  /** Takes `count` tokens if the bucket holds them, after adding what the whole seconds since the last refill brought. */
  take(count: number, now: number): boolean {
    if (this.refilledAt === undefined) this.refilledAt = now;
    const seconds = Math.floor((now - this.refilledAt) / 1000);
    if (seconds > 0) {
      this.tokens = Math.min(this.figures.capacity, this.tokens + seconds * this.figures.refillPerSecond);
      this.refilledAt += seconds * 1000;
    }
    if (this.tokens < count) return false;
    this.tokens -= count;
    return true;
  }
}

/** One region's EC2 buckets; `throttled` counts the requests it refused, per bucket. */
export class Ec2Throttling {
  readonly throttled = new Map<string, number>();
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(private readonly accountId: string) {}

  /** Spends the request's tokens, or answers the RequestLimitExceeded EC2 would. */
  admit(operation: string, input: unknown, now = Date.now()): void {
    const request = input && typeof input === 'object' ? (input as Input) : {};
    const { key, figures } = requestBucketOf(operation, request);
    if (!this.bucket(key, figures).take(1, now)) this.refuse(key, operation);
    const resource = EC2_RESOURCE_BUCKETS[operation];
    const resourceKey = `${operation} (resources)`;
    if (resource && !this.bucket(resourceKey, resource).take(resourcesOf(operation, request), now)) this.refuse(resourceKey, operation);
  }

  /** Requests refused in all. */
  get refused(): number {
    return [...this.throttled.values()].reduce((a, b) => a + b, 0);
  }

  private bucket(key: string, figures: BucketFigures): TokenBucket {
    let bucket = this.buckets.get(key);
    if (!bucket) this.buckets.set(key, (bucket = new TokenBucket(figures)));
    return bucket;
  }

  private refuse(key: string, operation: string): never {
    this.throttled.set(key, (this.throttled.get(key) ?? 0) + 1);
    throw new AwsServiceError(
      'RequestLimitExceeded',
      `Request limit exceeded. Account ${this.accountId} has been throttled on ec2:${operation} because it exceeded its request rate limit.`,
      503,
    );
  }
}
