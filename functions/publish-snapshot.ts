/**
 * State `PublishSnapshot`: the last state of a successful execution, and of a `REPUBLISH` one. Makes each completed
 * snapshot the current one of its recipe and announces it, so that every consumer channel ends up naming it.
 *
 * Order (docs/consumers.md, "Order and redelivery"), for each build of the Map output:
 * 1. tags the snapshot with its digest-set hash (`snapshot-factory:digest-set`) and publish time;
 * 2. writes, for every architecture the snapshot serves (a combined-layout snapshot serves both), the digest-set
 *    record `/snapshot-factory/<recipe>/<architecture>/digest-set` with every channel `pending`: the publish ledger;
 * 3. writes `/snapshot-factory/<recipe>/<architecture>/snapshot-id` (read by consumers), then, when the deployment names
 *    a result parameter (env `RESULT_PARAMETER_NAME`, setting `resultParameterName`), the snapshot ID to it too
 *    (functions/lib/result-parameter.ts); then the record again with only `event` pending;
 * then puts one `Snapshot Ready` event per snapshot on the default EventBridge bus (source `snapshot-factory`), a
 * failed entry being a failure as a thrown error is, and last writes each record with nothing pending and its event ID.
 * A consumer therefore never sees the event before the parameters, nor the parameters before the tags. When a step
 * fails past its retries the execution fails, its cause saying what was written and what not, and the ledger makes the
 * next unchanged run `REPUBLISH`: prepare-build passes `plan.republish`, and this state sends exactly the pending
 * channels (no build, no launch), keeping the first publish time. Each invocation reads the ledgers first, so a Step
 * Functions retry carries on where the failed attempt stopped instead of announcing accepted snapshots twice.
 *
 * Returns the execution's output: status `BUILT` (or `REPUBLISHED`, with `republished`), the recipe, each snapshot with
 * its images and timings.
 *
 * The images come from the plan (`plan.common.images` x the planned build's platforms, with the digests prepare-build
 * resolved), not from the Map's results: check-pull-command verified, before the builder stopped, that it pulled
 * every one of them with exactly that digest, so the plan's list is what the snapshot holds, and the state need not
 * carry a second copy (docs/architecture.md, "Payload budget").
 *
 * Throws TransientAwsError (retryable: throttling, a 5xx, or a PutEvents entry failed with `ThrottlingException` or
 * `InternalFailure`), AccessDeniedError, AwsRequestError (a PutEvents entry failed for another reason),
 * InvalidInputError.
 */
import { CreateTagsCommand } from '@aws-sdk/client-ec2';
import { PutEventsCommand, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import { GetParametersCommand, PutParameterCommand } from '@aws-sdk/client-ssm';
import * as z from './lib/zod-mini';
import { ec2 } from './lib/clients/ec2';
import { eventBridge } from './lib/clients/eventbridge';
import { ssm } from './lib/clients/ssm';
import {
  ARCHITECTURE_OF_PLATFORM,
  PUBLISH_CHANNELS,
  TAG_DIGEST_SET,
  TAG_PUBLISHED_AT,
  decodeDigestRecord,
  digestSetHash,
  digestSetParameterName,
  encodeDigestRecord,
  snapshotIdParameterName,
  type PlatformDigest,
  type PublishChannel,
} from './lib/current-snapshot';
import { AwsRequestError, InvalidInputError, TransientAwsError, callAws } from './lib/errors';
import { logger } from './lib/logger';
import { homeRegion } from './lib/regional-clients';
import { ec2In } from './lib/regional/ec2';
import { eventBridgeIn } from './lib/regional/eventbridge';
import { ssmIn } from './lib/regional/ssm';
import { RESULT_PARAMETER_ENV, resultParameterNames } from './lib/result-parameter';
import { defineStage } from './lib/stage';
import { architectureSchema, digestForPlatform, planCommonSchema, type Architecture, type PlanCommon } from './lib/schemas';

export const EVENT_SOURCE = 'snapshot-factory';
export const EVENT_DETAIL_TYPE = 'Snapshot Ready';
/** PutEvents' limit on one entry (Source + DetailType + Detail + Resources + Time), in bytes. */
export const EVENT_ENTRY_LIMIT_BYTES = 256 * 1024;
/**
 * PutEvents entry error codes AWS documents as retryable (EventBridge API reference, PutEventsResultEntry:
 * https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEventsResultEntry.html); every other code is not.
 */
export const RETRYABLE_ENTRY_ERROR_CODES: readonly string[] = ['InternalFailure', 'ThrottlingException'];

const planBuildSchema = z.looseObject({
  architecture: architectureSchema,
  platforms: z.array(z.string()).check(z.minLength(1)),
  digestSet: z.optional(z.string()),
});

const republishTargetSchema = z.looseObject({
  architecture: architectureSchema,
  platforms: z.array(z.string()).check(z.minLength(1)),
  snapshotId: z.string().check(z.startsWith('snap-')),
  digestSet: z.string().check(z.minLength(1)),
  publishedAt: z.optional(z.string()),
  pending: z.array(z.enum(PUBLISH_CHANNELS as [PublishChannel, ...PublishChannel[]])).check(z.minLength(1)),
});

const completedBuildSchema = z.looseObject({
  architecture: architectureSchema,
  platforms: z.array(z.string()).check(z.minLength(1)),
  snapshotId: z.string().check(z.startsWith('snap-')),
  volumeSizeGiB: z.optional(z.integer()),
  timings: z._default(z.record(z.string(), z.string()), {}),
  /** The cross-region copies CheckSnapshotCopies saw completed; empty without `copies`. */
  copies: z._default(z.array(z.looseObject({ region: z.string().check(z.minLength(1)), snapshotId: z.string().check(z.startsWith('snap-')) })), []),
});

const inputSchema = z
  .object({
    plan: z.looseObject({
      recipe: z.string().check(z.minLength(1)),
      executionName: z.optional(z.string()),
      status: z.optional(z.string()),
      common: planCommonSchema,
      builds: z._default(z.array(planBuildSchema), []),
      republish: z._default(z.array(republishTargetSchema), []),
    }),
    /** The Map's results; `[]` on the republish path (the ASL's `PrepareRepublish` sets it). */
    builds: z._default(z.array(completedBuildSchema), []),
  })
  .check(
    z.superRefine((input, ctx) => {
      if (input.plan.status === 'REPUBLISH') {
        if (input.plan.republish.length === 0) ctx.addIssue({ code: 'custom', path: ['plan', 'republish'], message: 'status REPUBLISH names no snapshot to republish' });
      } else if (input.builds.length === 0) {
        ctx.addIssue({ code: 'custom', path: ['builds'], message: 'no completed build to publish' });
      }
    }),
  );
type Input = z.infer<typeof inputSchema>;
type CompletedBuild = Pick<Input['builds'][number], 'architecture' | 'platforms'>;

/** One snapshot to publish and the channels still to send it on. */
interface PublishTarget {
  architecture: Architecture;
  platforms: string[];
  snapshotId: string;
  volumeSizeGiB?: number;
  timings: Record<string, string>;
  digestSet?: string;
  publishedAt: string;
  channels: readonly PublishChannel[];
  /** From a ledger that already recorded the event (a retried invocation). */
  eventId?: string;
  /** Copies in other regions, published there once the home region is (build path only). */
  copies?: { region: string; snapshotId: string }[];
}

export interface PublishedSnapshot {
  architecture: Architecture;
  /** Architectures whose parameters now name this snapshot. */
  servesArchitectures: Architecture[];
  platforms: string[];
  snapshotId: string;
  volumeSizeGiB?: number;
  digestSet: string;
  parameters: { snapshotId: string; digestSet: string }[];
  /** Result parameters (setting `resultParameterName`) written with this snapshot's ID; empty when not set. */
  resultParameters: string[];
  /** Each image x platform the snapshot holds, with its manifest digest. */
  images: PlatformDigest[];
  timings: Record<string, string>;
  /** Seconds from the earliest timing to each timing, and `total`. */
  durationsSeconds: Record<string, number>;
  /** The `Snapshot Ready` event's ID (PutEvents' answer); absent when a republish did not have to resend it. */
  eventId?: string;
  /** Each cross-region copy, published in its region with the same parameter names and its own event. */
  copies: PublishedCopy[];
}

/** A copy published in its region: tagged, named by the recipe's parameters there, announced on that region's bus. */
export interface PublishedCopy {
  region: string;
  snapshotId: string;
  eventId?: string;
}

/** What a republish sent, per snapshot: the channels its ledger listed as pending. */
export interface RepublishedSnapshot {
  architecture: Architecture;
  snapshotId: string;
  channels: PublishChannel[];
}

export interface PublishOutput {
  /** `BUILT`: new snapshots published. `REPUBLISHED`: no build; the channels a failed publish left pending were sent. */
  status: 'BUILT' | 'REPUBLISHED';
  recipe: string;
  executionName?: string;
  publishedAt: string;
  snapshots: PublishedSnapshot[];
  /** With `REPUBLISHED`: what was sent for which snapshot. */
  republished?: RepublishedSnapshot[];
  /** The plan's retention and sharing, passed on for ApplyRetention (which leaves it out of the execution output). */
  lifecycle?: unknown;
  /** The regions the recipe's snapshots were published in: the home region, then each copy's (ApplyRetention's `regions`). */
  regions: string[];
}

const run = async (input: Input): Promise<PublishOutput> => {
  const { plan } = input;
  const republish = plan.status === 'REPUBLISH';
  const now = new Date(Date.now()).toISOString();
  const progress = new PublishProgress(plan.recipe);
  try {
    const targets: PublishTarget[] = republish
      ? plan.republish.map((r) => ({ ...r, timings: {}, publishedAt: r.publishedAt ?? now, channels: PUBLISH_CHANNELS.filter((c) => r.pending.includes(c)) }))
      : await resumeFromLedger(plan.recipe, input.builds.map((b) => ({ ...b, publishedAt: now, channels: PUBLISH_CHANNELS })));
    const snapshots = await publish(plan, targets, republish, progress);
    for (const snapshot of snapshots) await publishCopies(plan, snapshot, progress);
    logger.info(republish ? 'snapshots republished' : 'snapshots published', { recipe: plan.recipe, snapshots: snapshots.map((s) => s.snapshotId) });
    return {
      status: republish ? 'REPUBLISHED' : 'BUILT',
      recipe: plan.recipe,
      executionName: plan.executionName,
      publishedAt: targets[0]!.publishedAt,
      snapshots,
      regions: [homeRegion(), ...new Set(snapshots.flatMap((s) => s.copies.map((c) => c.region)))],
      ...(republish ? { republished: targets.map((t) => ({ architecture: t.architecture, snapshotId: t.snapshotId, channels: [...t.channels] })) } : {}),
      // The next state needs the plan's lifecycle settings; the plan itself (its image list) stays behind.
      ...(plan.lifecycle !== undefined ? { lifecycle: plan.lifecycle } : {}),
    };
  } catch (error) {
    // The execution's cause must say what consumers now see: which channels name the new snapshot and which do not.
    if (error instanceof Error) error.message = `${error.message}; ${progress.describe()}`;
    throw error;
  }
};

const publish = async (plan: Input['plan'], targets: PublishTarget[], republish: boolean, progress: PublishProgress): Promise<PublishedSnapshot[]> => {
  const snapshots: PublishedSnapshot[] = [];
  const results = resultParameterNames(process.env[RESULT_PARAMETER_ENV], plan.recipe, targets.map(servedArchitectures));
  if (results.conflicts.length > 0) {
    logger.warn('result parameters left unwritten: several snapshots of this execution resolve to them (add {architecture} to resultParameterName)', {
      conflicts: results.conflicts,
    });
  }
  const ledger = (target: PublishTarget, snapshot: PublishedSnapshot, pending: PublishChannel[]) =>
    writeRecords(plan, target, snapshot, pending);

  for (const [index, target] of targets.entries()) {
    const planned = plan.builds.find((b) => b.architecture === target.architecture);
    const platformDigests = platformDigestsOf(target, plan.common);
    // The skip check hashes what prepare-build resolved; reuse that hash so the two always agree.
    const digestSet = target.digestSet ?? planned?.digestSet ?? digestSetHash(platformDigests);
    const servesArchitectures = servedArchitectures(target);
    const snapshot: PublishedSnapshot = {
      architecture: target.architecture,
      servesArchitectures,
      platforms: target.platforms,
      snapshotId: target.snapshotId,
      volumeSizeGiB: target.volumeSizeGiB,
      digestSet,
      parameters: servesArchitectures.map((architecture) => ({
        snapshotId: snapshotIdParameterName(plan.recipe, architecture),
        digestSet: digestSetParameterName(plan.recipe, architecture),
      })),
      resultParameters: results.names[index] ?? [],
      images: platformDigests,
      timings: target.timings,
      durationsSeconds: durationsOf(target.timings),
      ...(target.eventId ? { eventId: target.eventId } : {}),
      copies: (target.copies ?? []).map(({ region, snapshotId }) => ({ region, snapshotId })),
    };
    snapshots.push(snapshot);
    // What an earlier attempt (or publish) confirmed belongs in the cause as much as what this one wrote.
    if (!target.channels.includes('snapshot-id')) progress.done(`${snapshot.parameters.map((p) => p.snapshotId).join(', ')} = ${target.snapshotId} (earlier)`);
    if (target.eventId) progress.done(`Snapshot Ready event ${target.eventId} for ${target.snapshotId} (earlier)`);
    if (target.channels.length === 0) continue;

    // The first attempt at this snapshot tags it and opens its ledger; a resumed or republished one has both.
    if (!republish && target.channels.length === PUBLISH_CHANNELS.length) {
      // Tags first: they are what the reaper and lifecycle read, and the record written next points at a tagged snapshot.
      await callAws(`ec2:CreateTags ${target.snapshotId}`, () =>
        ec2.send(
          new CreateTagsCommand({
            Resources: [target.snapshotId],
            Tags: [
              { Key: TAG_DIGEST_SET, Value: digestSet },
              { Key: TAG_PUBLISHED_AT, Value: target.publishedAt },
            ],
          }),
        ),
      );
      progress.done(`tags on ${target.snapshotId}`);
      // The ledger before any consumer channel: a run after a failure finds what is missing (docs/consumers.md).
      await ledger(target, snapshot, [...target.channels]);
    }

    if (target.channels.includes('snapshot-id')) {
      for (const [i, architecture] of servesArchitectures.entries()) {
        const name = snapshot.parameters[i]!.snapshotId;
        await putParameter(name, target.snapshotId, 'Standard', `Current snapshot of recipe ${plan.recipe} for ${architecture}`);
      }
      progress.done(`${snapshot.parameters.map((p) => p.snapshotId).join(', ')} = ${target.snapshotId}`);
    }
    // After the factory's own parameters: those stay the source of truth, this one is a copy for the user.
    // Intelligent-Tiering: naming Standard would fail on a parameter the user created as Advanced.
    if (target.channels.includes('result-parameters') && snapshot.resultParameters.length > 0) {
      for (const name of snapshot.resultParameters) await putParameter(name, target.snapshotId, 'Intelligent-Tiering');
      progress.done(`result parameter ${snapshot.resultParameters.join(', ')} = ${target.snapshotId}`);
    }
    if (target.channels.some((c) => c !== 'event')) await ledger(target, snapshot, target.channels.includes('event') ? ['event'] : []);
  }

  const announce = targets.flatMap((target, index) => (target.channels.includes('event') ? [index] : []));
  if (announce.length > 0) {
    const entries = announce.map((index) => readyEvent(plan.recipe, plan.executionName, snapshots[index]!, republish));
    const outcome = await putEvents(entries);
    // The accepted entries are delivered whatever happened to the others: record them before failing for the rest.
    for (const [position, index] of announce.entries()) {
      const eventId = outcome.eventIds[position];
      if (!eventId) continue;
      snapshots[index]!.eventId = eventId;
      progress.done(`Snapshot Ready event ${eventId} for ${snapshots[index]!.snapshotId}`);
      await ledger(targets[index]!, snapshots[index]!, []);
    }
    if (outcome.failure) throw outcome.failure;
  }
  return snapshots;
};

/**
 * Publishes each copy in its region after the home region (the source of truth) is done: tags the copy with the
 * digest set and publish time (retention there sorts by them), writes the recipe's `snapshot-id` and `digest-set`
 * parameters of that region with the copy's ID (the record with nothing pending: the home ledger is the one a
 * republish reads), and puts a `Snapshot Ready` event naming the copy on that region's default bus. Every step
 * overwrites, so a retried invocation repeats it harmlessly, except that the region's event may be sent twice (as
 * a republish's may: consumers already handle redelivery, docs/consumers.md).
 */
const publishCopies = async (plan: Input['plan'], snapshot: PublishedSnapshot, progress: PublishProgress): Promise<void> => {
  for (const copy of snapshot.copies) {
    const { region, snapshotId } = copy;
    const publishedAt = new Date(Date.now()).toISOString();
    await callAws(`ec2:CreateTags ${snapshotId} in ${region}`, () =>
      ec2In(region).send(
        new CreateTagsCommand({ Resources: [snapshotId], Tags: [{ Key: TAG_DIGEST_SET, Value: snapshot.digestSet }, { Key: TAG_PUBLISHED_AT, Value: publishedAt }] }),
      ),
    );
    const record = encodeDigestRecord({
      snapshotId,
      digestSet: snapshot.digestSet,
      publishedAt,
      executionName: plan.executionName,
      images: snapshot.images,
      imageCount: snapshot.images.length,
      pending: [],
    });
    for (const parameter of snapshot.parameters) {
      await callAws(`ssm:PutParameter ${parameter.digestSet} in ${region}`, () =>
        ssmIn(region).send(new PutParameterCommand({ Name: parameter.digestSet, Value: record.value, Type: 'String', Tier: record.tier, Overwrite: true, Description: `Digest set of ${parameter.snapshotId}` })),
      );
      await callAws(`ssm:PutParameter ${parameter.snapshotId} in ${region}`, () =>
        ssmIn(region).send(new PutParameterCommand({ Name: parameter.snapshotId, Value: snapshotId, Type: 'String', Tier: 'Standard', Overwrite: true, Description: `Current snapshot of recipe ${plan.recipe} (copy in ${region})` })),
      );
    }
    progress.done(`${snapshot.parameters.map((p) => p.snapshotId).join(', ')} = ${snapshotId} in ${region}`);
    const entry = readyEvent(plan.recipe, plan.executionName, { ...snapshot, snapshotId });
    const out = await callAws(`events:PutEvents in ${region}`, () => eventBridgeIn(region).send(new PutEventsCommand({ Entries: [entry] })));
    const result = out.Entries?.[0];
    if (!result?.EventId) {
      const code = result?.ErrorCode ?? 'no event ID';
      const message = `events:PutEvents in ${region} refused the Snapshot Ready event of ${snapshotId}: ${code}: ${result?.ErrorMessage ?? ''}`;
      throw RETRYABLE_ENTRY_ERROR_CODES.includes(code) ? new TransientAwsError(message) : new AwsRequestError(message);
    }
    copy.eventId = result.EventId;
    progress.done(`Snapshot Ready event ${result.EventId} for ${snapshotId} in ${region}`);
  }
};

/**
 * Step Functions retries this state by running it again from the start: a target whose ledger already names its
 * snapshot carries on from there (publish time kept; an event already accepted is not sent again), so a retry after
 * a partly failed PutEvents call does not announce the accepted snapshots twice.
 */
const resumeFromLedger = async (recipe: string, targets: PublishTarget[]): Promise<PublishTarget[]> => {
  const names = targets.map((t) => digestSetParameterName(recipe, t.architecture));
  const values = new Map<string, string | undefined>();
  // GetParameters takes at most 10 names per call.
  for (let start = 0; start < names.length; start += 10) {
    const batch = names.slice(start, start + 10);
    const output = await callAws(`ssm:GetParameters ${batch.join(', ')}`, () => ssm.send(new GetParametersCommand({ Names: batch })));
    for (const parameter of output.Parameters ?? []) if (parameter.Name) values.set(parameter.Name, parameter.Value);
  }
  return targets.map((target, index) => {
    const record = decodeDigestRecord(values.get(names[index]!));
    // Only a ledger of this very snapshot counts; one naming the previous snapshot is the previous publish's.
    if (!record || record.snapshotId !== target.snapshotId || !record.pending) return target;
    const channels = PUBLISH_CHANNELS.filter((c) => record.pending!.includes(c));
    return { ...target, publishedAt: record.publishedAt ?? target.publishedAt, channels, ...(record.eventId ? { eventId: record.eventId } : {}) };
  });
};

/** Writes the digest-set record of every architecture the snapshot serves, with `pending` as its publish ledger. */
const writeRecords = async (plan: Input['plan'], target: PublishTarget, snapshot: PublishedSnapshot, pending: PublishChannel[]): Promise<void> => {
  const record = encodeDigestRecord({
    snapshotId: target.snapshotId,
    digestSet: snapshot.digestSet,
    publishedAt: target.publishedAt,
    executionName: plan.executionName,
    images: snapshot.images,
    imageCount: snapshot.images.length,
    pending,
    ...(snapshot.eventId ? { eventId: snapshot.eventId } : {}),
  });
  for (const { snapshotId, digestSet } of snapshot.parameters) {
    await putParameter(digestSet, record.value, record.tier, `Digest set of ${snapshotId}`);
  }
};

/** What a publish has written so far, for the execution's cause when it fails. */
class PublishProgress {
  private readonly written: string[] = [];
  constructor(private readonly recipe: string) {}

  done(what: string): void {
    this.written.push(what);
  }

  describe(): string {
    const written = this.written.length > 0 ? `written before the failure: ${this.written.join('; ')}` : 'nothing was published';
    return `${written}. The next execution of recipe ${this.recipe} with the same images republishes what is missing (status REPUBLISH, no build).`;
  }
}

/** The per-platform digests the snapshot holds: the plan's images on the build's platforms (image-major, as hashed). */
const platformDigestsOf = (build: CompletedBuild, common: PlanCommon): PlatformDigest[] =>
  common.images.flatMap((image) =>
    build.platforms.map((platform) => {
      const digest = digestForPlatform(image, platform);
      if (!digest) throw new InvalidInputError(`plan.common.images: ${image.reference} has no resolved digest for ${platform}; prepare-build resolves every image`);
      return { reference: image.reference, platform, digest };
    }),
  );

/** A snapshot serves every architecture whose platform it holds, so combined-layout consumers read it under either. */
const servedArchitectures = (build: CompletedBuild): Architecture[] => {
  const served = new Set<Architecture>([build.architecture]);
  for (const platform of build.platforms) {
    const architecture = ARCHITECTURE_OF_PLATFORM[platform];
    if (architecture) served.add(architecture);
  }
  return [...served];
};

export const durationsOf = (timings: Record<string, string>): Record<string, number> => {
  const entries = Object.entries(timings)
    .map(([key, value]) => [key, Date.parse(value)] as const)
    .filter(([, ms]) => Number.isFinite(ms));
  if (entries.length === 0) return {};
  const start = Math.min(...entries.map(([, ms]) => ms));
  const end = Math.max(...entries.map(([, ms]) => ms));
  const durations: Record<string, number> = {};
  for (const [key, ms] of entries) durations[key] = Math.round((ms - start) / 1000);
  durations.total = Math.round((end - start) / 1000);
  return durations;
};

/** Without a description, an overwrite keeps the one the parameter has (the result parameter may be the user's own). */
const putParameter = async (name: string, value: string, tier: 'Standard' | 'Advanced' | 'Intelligent-Tiering', description?: string) =>
  callAws(`ssm:PutParameter ${name}`, () =>
    ssm.send(new PutParameterCommand({ Name: name, Value: value, Type: 'String', Tier: tier, Overwrite: true, Description: description })),
  );

/** Size of an entry as PutEvents counts it. */
export const eventEntrySize = (entry: PutEventsRequestEntry): number =>
  (entry.Time ? 14 : 0) +
  Buffer.byteLength(entry.Source ?? '', 'utf8') +
  Buffer.byteLength(entry.DetailType ?? '', 'utf8') +
  Buffer.byteLength(entry.Detail ?? '', 'utf8') +
  (entry.Resources ?? []).reduce((sum, r) => sum + Buffer.byteLength(r, 'utf8'), 0);

/**
 * The `Snapshot Ready` event; the image list is left out (with a count) when it would exceed PutEvents' entry limit.
 * A redelivery (status `REPUBLISH`) says `redelivered: true`; consumers may see one snapshot announced twice.
 */
export const readyEvent = (recipe: string, executionName: string | undefined, snapshot: PublishedSnapshot, redelivered = false): PutEventsRequestEntry => {
  const detail = {
    ...(redelivered ? { redelivered: true } : {}),
    recipe,
    executionName,
    architecture: snapshot.architecture,
    architectures: snapshot.servesArchitectures,
    platforms: snapshot.platforms,
    snapshotId: snapshot.snapshotId,
    digestSet: snapshot.digestSet,
    parameters: snapshot.parameters,
    imageCount: snapshot.images.length,
    images: snapshot.images.map(({ reference, platform, digest }) => ({ reference, platform, digest })),
  };
  const entry = { Source: EVENT_SOURCE, DetailType: EVENT_DETAIL_TYPE, Detail: JSON.stringify(detail) };
  if (eventEntrySize(entry) <= EVENT_ENTRY_LIMIT_BYTES) return entry;
  const { images: _omitted, ...withoutImages } = detail;
  return { ...entry, Detail: JSON.stringify({ ...withoutImages, imagesOmitted: true }) };
};

/**
 * Sends the entries, 10 per call (PutEvents' limit), and answers each entry's event ID. PutEvents answers 200 with
 * per-entry failures (`FailedEntryCount`, `Entries[].ErrorCode`), so a failed entry is returned as a failure here:
 * retryable when every failed entry's code is one AWS documents as retryable.
 */
const putEvents = async (entries: PutEventsRequestEntry[]): Promise<{ eventIds: (string | undefined)[]; failure?: Error }> => {
  const eventIds: (string | undefined)[] = [];
  const failed: { ErrorCode?: string; ErrorMessage?: string }[] = [];
  for (let start = 0; start < entries.length; start += 10) {
    const batch = entries.slice(start, start + 10);
    let result;
    try {
      result = await callAws('events:PutEvents', () => eventBridge.send(new PutEventsCommand({ Entries: batch })));
    } catch (error) {
      return { eventIds, failure: error as Error };
    }
    // The response lists one result per request entry, in the request's order (eb-putevents.html).
    for (const [i] of batch.entries()) {
      const entry = result.Entries?.[i];
      eventIds.push(entry?.EventId && !entry.ErrorCode ? entry.EventId : undefined);
      if (!entry?.EventId || entry.ErrorCode) failed.push(entry ?? { ErrorCode: 'MissingEntry', ErrorMessage: 'PutEvents answered no result for this entry' });
    }
  }
  if (failed.length === 0) return { eventIds };
  const message = `events:PutEvents failed for ${failed.length} of ${entries.length} entries: ${failed.map((e) => `${e.ErrorCode}: ${e.ErrorMessage}`).join('; ')}`;
  const transient = failed.every((e) => RETRYABLE_ENTRY_ERROR_CODES.includes(e.ErrorCode ?? ''));
  return { eventIds, failure: transient ? new TransientAwsError(message) : new AwsRequestError(message) };
};

export const handler = defineStage('publish-snapshot', inputSchema, run);
