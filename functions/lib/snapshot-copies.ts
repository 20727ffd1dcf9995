/**
 * Cross-region copies of a build's snapshot: the setting `copies` (deploy-time default, per recipe, execution input;
 * one name everywhere), its limit `limits.copySeconds`, and the facts the copy stages rely on.
 *
 * Facts from AWS's documentation:
 * - "Copy an Amazon EBS snapshot" (Amazon EBS User Guide, ebs-copy-snapshot.html): CopySnapshot is sent to the
 *   destination Region's endpoint with `SourceRegion`; tags are not copied (the request's TagSpecifications tag the
 *   copy); a copy of an encrypted snapshot must be encrypted, with a key of the destination Region (its
 *   `aws/ebs` key when none is named); "a copy is pending until it completes".
 * - same page: "There is a limit of 20 concurrent snapshot copy requests per destination Region. If you exceed this
 *   quota, you receive a ResourceLimitExceeded error" ("Quotas for Amazon EBS", ebs-resource-quotas.html: not
 *   adjustable). CopySnapshot treats it as retryable: copies finish and free their slots.
 * Kept in a module without side effects (unlike build-defaults.ts, which parses FACTORY_DEFAULTS at import).
 */
import * as z from './zod-mini';
import { BUILD_TASK_SECONDS, EVENTS_PER_POLL, HISTORY_EVENTS, maxChecks } from './execution-budget';
import { InvalidInputError } from './errors';
import { homeRegion } from './regional-clients';
import { CHECK_BOUNDS } from './next-check';

/**
 * At most this many copy regions per build: each is one CopySnapshot and one DescribeSnapshots per poll, and the
 * list travels in the plan and in every Map iteration's state.
 */
export const MAX_COPY_REGIONS = 10;

/** A commercial, GovCloud or China Region name such as `eu-west-1` or `us-gov-west-1`. */
export const REGION_PATTERN = /^[a-z]{2}(-[a-z]+)+-\d+$/;
export const regionSchema = z.string().check(z.regex(REGION_PATTERN, 'expected a region name such as eu-west-1'));

const KEY_ARN = /^arn:aws[a-z-]*:kms:([a-z0-9-]+):\d{12}:key\/[0-9a-zA-Z-]+$/;

/** One copy: the destination Region and, optionally, the customer-managed key the copy is encrypted with there. */
export const copySchema = z
  .strictObject({
    region: regionSchema,
    /** A key ARN in `region` (KMS keys are regional); unset: that Region's `aws/ebs` key. */
    kmsKeyArn: z.optional(z.string().check(z.regex(KEY_ARN, 'expected a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>); an alias cannot scope IAM policies'))),
  })
  .check(
    z.superRefine((copy, ctx) => {
      const keyRegion = copy.kmsKeyArn ? KEY_ARN.exec(copy.kmsKeyArn)?.[1] : undefined;
      if (keyRegion && keyRegion !== copy.region) {
        ctx.addIssue({
          code: 'custom',
          path: ['kmsKeyArn'],
          message: `is a key of ${keyRegion}, but the copy goes to ${copy.region}: a KMS key encrypts only in its own region, name a key of ${copy.region}`,
        });
      }
    }),
  );
export type SnapshotCopySetting = z.infer<typeof copySchema>;

/** The setting `copies`: at most {@link MAX_COPY_REGIONS} regions, each once. `[]` turns a default off. */
export const copiesSchema = z
  .array(copySchema)
  .check(
    z.maxLength(MAX_COPY_REGIONS),
    z.superRefine((copies, ctx) => {
      const seen = new Set<string>();
      for (const [index, copy] of copies.entries()) {
        if (seen.has(copy.region)) ctx.addIssue({ code: 'custom', path: [index, 'region'], message: `lists ${copy.region} more than once` });
        seen.add(copy.region);
      }
    }),
  );

/** The limit `limits.copySeconds` accepts: from 5 minutes to 2 days. */
export const copySecondsSchema = z.integer(z.gte(300), z.lte(172800));
/** Each copy's progress, as CopySnapshot and CheckSnapshotCopies report it (stored at `$.copiesStatus`). */
export const copiesStatusSchema = z.object({
  /** True once every copy is `completed`. */
  completed: z.boolean(),
  copies: z.array(z.object({ region: regionSchema, snapshotId: z.string().check(z.startsWith('snap-')), state: z.string(), progress: z.string() })),
  /** When the copies were asked for: the limit counts from it. */
  requestedAt: z.string().check(z.minLength(1)),
  /** Seconds the next Wait lasts (its SecondsPath). */
  nextCheckSeconds: z.integer(z.nonnegative()),
  checkedAt: z.string().check(z.minLength(1)),
});
export type CopiesStatus = z.infer<typeof copiesStatusSchema>;

/**
 * Default of `limits.copySeconds`. AWS documents no copy rate (only that a copy is `pending` until done); an hour
 * covers a first, full copy of the default 100 GiB volume with room to spare, and fits the execution when the other
 * waits are lowered (prepare-build checks the budget).
 */
export const DEFAULT_COPY_SECONDS = 3600;

/** Seconds one build's copy stage may add to an execution: its limit, one longest poll past it, the copy and check Tasks. */
export const copyWorstCaseSeconds = (limitSeconds: number): number => limitSeconds + CHECK_BOUNDS.maxSeconds + 2 * BUILD_TASK_SECONDS;

/** History events one build's copy stage may add: the Choice, CopySnapshot, and every check up to the limit. */
export const copyWorstCaseEvents = (limitSeconds: number): number => HISTORY_EVENTS.choice + HISTORY_EVENTS.task + (maxChecks(limitSeconds) + 1) * EVENTS_PER_POLL;

/** Message naming the copy that targets the home region (a copy there would be a second snapshot of the same lineage). */
export const homeRegionCopyProblem = (copies: readonly SnapshotCopySetting[], home: string): string | undefined =>
  copies.some((c) => c.region === home)
    ? `copies lists ${home}, the factory's own region, where the snapshot already is: list only other regions`
    : undefined;

/** The env variable naming the deployment's copy regions (setting `copies`, deploy-time and recipes'), comma-separated. */
export const COPY_REGIONS_ENV = 'COPY_REGIONS';

/**
 * The home region, then each copy region of the deployment (env {@link COPY_REGIONS_ENV}, set on reap-builders and
 * cleanup-build): where an ended execution may have left copies. Throws InvalidInputError naming a malformed region.
 */
export const deploymentRegions = (): string[] => {
  const copies = (process.env[COPY_REGIONS_ENV] ?? '').split(',').map((r) => r.trim()).filter((r) => r !== '' && r !== homeRegion());
  for (const region of copies) if (!REGION_PATTERN.test(region)) throw new InvalidInputError(`${COPY_REGIONS_ENV} names "${region.slice(0, 40)}", not a region name such as eu-west-1`);
  return [homeRegion(), ...new Set(copies)];
};
