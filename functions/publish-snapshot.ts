/**
 * State `PublishSnapshot`: the last state of a successful execution. Makes each completed snapshot the
 * current one of its recipe and announces it.
 *
 * For each build of the Map output:
 * 1. tags the snapshot with its digest-set hash (`snapshot-factory:digest-set`) and publish time;
 * 2. writes, for every architecture the snapshot serves (a combined-layout snapshot serves both),
 *    `/snapshot-factory/<recipe>/<architecture>/digest-set` (read by the skip check) and then
 *    `/snapshot-factory/<recipe>/<architecture>/snapshot-id` (read by consumers);
 * 3. when the deployment names a result parameter (env `RESULT_PARAMETER_NAME`, setting `resultParameterName`), writes
 *    the snapshot ID to it too, resolved per served architecture (functions/lib/result-parameter.ts);
 * 4. puts one `Snapshot Ready` event per snapshot on the default EventBridge bus (source `snapshot-factory`).
 * Returns the execution's output: status `BUILT`, the recipe, each snapshot with its images and timings.
 *
 * The images come from the plan (`plan.common.images` x the planned build's platforms, with the digests prepare-build
 * resolved), not from the Map's results: check-pull-command verified, before the builder stopped, that it pulled
 * every one of them with exactly that digest, so the plan's list is what the snapshot holds, and the state need not
 * carry a second copy (docs/architecture.md, "Payload budget").
 *
 * Throws TransientAwsError (retryable), AccessDeniedError, AwsRequestError, InvalidInputError.
 */
import { CreateTagsCommand } from '@aws-sdk/client-ec2';
import { PutEventsCommand, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import { PutParameterCommand } from '@aws-sdk/client-ssm';
import { z } from 'zod';
import { ec2, eventBridge, ssm } from './lib/clients';
import {
  ARCHITECTURE_OF_PLATFORM,
  TAG_DIGEST_SET,
  TAG_PUBLISHED_AT,
  digestSetHash,
  digestSetParameterName,
  encodeDigestRecord,
  snapshotIdParameterName,
  type PlatformDigest,
} from './lib/current-snapshot';
import { AwsRequestError, InvalidInputError, TransientAwsError, callAws } from './lib/errors';
import { logger } from './lib/logger';
import { RESULT_PARAMETER_ENV, resultParameterNames } from './lib/result-parameter';
import { defineStage } from './lib/stage';
import { architectureSchema, digestForPlatform, planCommonSchema, type Architecture, type PlanCommon } from './lib/schemas';

export const EVENT_SOURCE = 'snapshot-factory';
export const EVENT_DETAIL_TYPE = 'Snapshot Ready';
/** PutEvents' limit on one entry (Source + DetailType + Detail + Resources + Time), in bytes. */
export const EVENT_ENTRY_LIMIT_BYTES = 256 * 1024;

const planBuildSchema = z
  .object({
    architecture: architectureSchema,
    platforms: z.array(z.string()).min(1),
    digestSet: z.string().optional(),
  })
  .passthrough();

const inputSchema = z.object({
  plan: z
    .object({
      recipe: z.string().min(1),
      executionName: z.string().optional(),
      common: planCommonSchema,
      builds: z.array(planBuildSchema).default([]),
    })
    .passthrough(),
  builds: z
    .array(
      z
        .object({
          architecture: architectureSchema,
          platforms: z.array(z.string()).min(1),
          snapshotId: z.string().startsWith('snap-'),
          volumeSizeGiB: z.number().int().optional(),
          timings: z.record(z.string(), z.string()).default({}),
        })
        .passthrough(),
    )
    .min(1),
});
type Input = z.infer<typeof inputSchema>;
type CompletedBuild = Input['builds'][number];

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
}

export interface PublishOutput {
  status: 'BUILT';
  recipe: string;
  executionName?: string;
  publishedAt: string;
  snapshots: PublishedSnapshot[];
}

const run = async (input: Input): Promise<PublishOutput> => {
  const { plan } = input;
  const publishedAt = new Date(Date.now()).toISOString();
  const snapshots: PublishedSnapshot[] = [];
  const results = resultParameterNames(process.env[RESULT_PARAMETER_ENV], plan.recipe, input.builds.map(servedArchitectures));
  if (results.conflicts.length > 0) {
    logger.warn('result parameters left unwritten: several snapshots of this execution resolve to them (add {architecture} to resultParameterName)', {
      conflicts: results.conflicts,
    });
  }

  for (const [index, build] of input.builds.entries()) {
    const planned = plan.builds.find((b) => b.architecture === build.architecture);
    const platformDigests = platformDigestsOf(build, plan.common);
    // The skip check hashes what prepare-build resolved; reuse that hash so the two always agree.
    const digestSet = planned?.digestSet ?? digestSetHash(platformDigests);
    const servesArchitectures = servedArchitectures(build);

    await callAws(`ec2:CreateTags ${build.snapshotId}`, () =>
      ec2.send(
        new CreateTagsCommand({
          Resources: [build.snapshotId],
          Tags: [
            { Key: TAG_DIGEST_SET, Value: digestSet },
            { Key: TAG_PUBLISHED_AT, Value: publishedAt },
          ],
        }),
      ),
    );

    const parameters: PublishedSnapshot['parameters'] = [];
    for (const architecture of servesArchitectures) {
      const names = {
        snapshotId: snapshotIdParameterName(plan.recipe, architecture),
        digestSet: digestSetParameterName(plan.recipe, architecture),
      };
      const record = encodeDigestRecord({
        snapshotId: build.snapshotId,
        digestSet,
        publishedAt,
        executionName: plan.executionName,
        images: platformDigests,
        imageCount: platformDigests.length,
      });
      // Digest set first: a reader that sees the new ID always finds the digests it was built from.
      await putParameter(names.digestSet, record.value, record.tier, `Digest set of ${names.snapshotId}`);
      await putParameter(names.snapshotId, build.snapshotId, 'Standard', `Current snapshot of recipe ${plan.recipe} for ${architecture}`);
      parameters.push(names);
    }
    // After the factory's own parameters: those stay the source of truth, this one is a copy for the user.
    // Intelligent-Tiering: naming Standard would fail on a parameter the user created as Advanced.
    const resultParameters = results.names[index] ?? [];
    for (const name of resultParameters) await putParameter(name, build.snapshotId, 'Intelligent-Tiering');

    snapshots.push({
      architecture: build.architecture,
      servesArchitectures,
      platforms: build.platforms,
      snapshotId: build.snapshotId,
      volumeSizeGiB: build.volumeSizeGiB,
      digestSet,
      parameters,
      resultParameters,
      images: platformDigests,
      timings: build.timings,
      durationsSeconds: durationsOf(build.timings),
    });
  }

  await putEvents(snapshots.map((snapshot) => readyEvent(plan.recipe, plan.executionName, snapshot)));
  logger.info('snapshots published', { recipe: plan.recipe, snapshots: snapshots.map((s) => s.snapshotId) });
  return { status: 'BUILT', recipe: plan.recipe, executionName: plan.executionName, publishedAt, snapshots };
};

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

/** The `Snapshot Ready` event; the image list is left out (with a count) when it would exceed PutEvents' entry limit. */
export const readyEvent = (recipe: string, executionName: string | undefined, snapshot: PublishedSnapshot): PutEventsRequestEntry => {
  const detail = {
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

/** PutEvents takes at most 10 entries per call and reports failures per entry, not as an exception. */
const putEvents = async (entries: PutEventsRequestEntry[]): Promise<void> => {
  for (let start = 0; start < entries.length; start += 10) {
    const batch = entries.slice(start, start + 10);
    const result = await callAws('events:PutEvents', () => eventBridge.send(new PutEventsCommand({ Entries: batch })));
    if (!result.FailedEntryCount) continue;
    const failed = (result.Entries ?? []).filter((e) => e.ErrorCode);
    const message = `events:PutEvents failed for ${result.FailedEntryCount} entries: ${failed.map((e) => `${e.ErrorCode}: ${e.ErrorMessage}`).join('; ')}`;
    const transient = failed.every((e) => /Throttl|InternalFailure|ServiceUnavailable/i.test(e.ErrorCode ?? ''));
    throw transient ? new TransientAwsError(message) : new AwsRequestError(message);
  }
};

export const handler = defineStage('publish-snapshot', inputSchema, run);
