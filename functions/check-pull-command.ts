/**
 * State `CheckPullCommand`: reads the pull command's invocation and, once it ended, the script's report
 * (functions/lib/pull-script.ts). The Choice loops through `WaitForPull` while `done` is false, for
 * `nextCheckSeconds` (the Wait's `SecondsPath`): a share of the build's time since launch (`pullEstimateSeconds`), because SSM shows nothing of a running command's output ("If the command hasn't finished running ... this
 * string is empty", GetCommandInvocation API reference, StandardOutputContent) and the plan holds no image sizes
 * (functions/lib/next-check.ts); 0 once done. Before it returns to the Wait, it looks again itself every 2 s for up
 * to a minute of its invocation (functions/lib/poll-inside.ts, `INNER_POLL.pull`).
 *
 * On success, every requested image x platform must be in the report with the digest prepare-build resolved
 * (when it resolved one): nothing the user asked for is silently dropped, and a report SSM cut short fails the
 * build rather than vouch for lines it does not show. The result counts the pulls (`pulled`) and the images
 * (`images`) the report lists as verified, one by one, instead of listing them: the list is the plan's, and repeating it in the state would cost up to a
 * quarter of Step Functions' 256 KiB payload quota per platform (docs/architecture.md, "Payload budget").
 *
 * Before the builder stops, the script checked every pull complete and unpacked for its platform and measured the
 * data volume (docs/pull-script.md, "Verification"): a pull that failed that check fails the build with
 * `ImageVerificationError` naming the image and the platform, and the volume's used bytes come back as
 * `dataVolumeUsedBytes` for the build result.
 *
 * Throws `PullFailedError` (the script failed, an image is missing from the report, or an image's digest changed
 * since it was resolved), `ImageVerificationError` (a pulled image is not complete and unpacked for a platform),
 * `DataVolumeTooSmallError` (the data volume ran out of space), `PullCommandTimedOutError`
 * (SSM ended the command `TimedOut` or `Cancelled`), `PullTimeoutError` (not finished within
 * `build.limits.pullSeconds` of `pull.sentAt`), `InstanceLostError` (the command is still running but the builder
 * is stopping, stopped, terminated or gone), `TransientAwsError` (retryable), `AccessDeniedError`, `AwsRequestError`.
 */
import { GetCommandInvocationCommand, type GetCommandInvocationCommandOutput } from '@aws-sdk/client-ssm';
import type { Context } from 'aws-lambda';
import * as z from './lib/zod-mini';
import { assertBuilderAlive } from './lib/builder-liveness';
import { ssm } from './lib/clients/ssm';
import {
  DataVolumeTooSmallError,
  ImageVerificationError,
  PullCommandTimedOutError,
  PullFailedError,
  PullTimeoutError,
  awsErrorCode,
  callAws,
} from './lib/errors';
import { parseImageReference } from './lib/image-reference';
import { gibDown, gibUp, parsePullReport, type PullReport, type PullReportPlan } from './lib/pull-script';
import { nextCheckSeconds, pullEstimateSeconds } from './lib/next-check';
import { INNER_POLL, pollInside } from './lib/poll-inside';
import { buildTargetSchema, instanceSchema, pullCommandSchema } from './lib/schemas';
import { defineStage } from './lib/stage';
import { summarizeList } from './lib/tags';

const inputSchema = z.object({
  build: z.pick(buildTargetSchema, { images: true, platforms: true, limits: true, dataVolume: true, pull: true }),
  instance: instanceSchema,
  pull: pullCommandSchema,
});
type Input = z.infer<typeof inputSchema>;
type Output = {
  done: boolean;
  status: string;
  /** Image x platform pulls the report lists as verified, one by one; 0 until done. */
  pulled: number;
  /** Images the report lists as verified on every platform of the build; 0 until done. */
  images: number;
  /** Bytes used on the data volume after the pulls and their verification (the report's VOLUME line); 0 until done. */
  dataVolumeUsedBytes: number;
  checkedAt: string;
  /** When the Wait looks again; 0 once done. */
  nextCheckSeconds: number;
};

/** How long after SendCommand an unknown invocation is normal (SSM's eventual consistency). */
export const INVOCATION_GRACE_SECONDS = 60;
const RUNNING = new Set(['Pending', 'InProgress', 'Delayed', 'Cancelling']);
/** Error messages carry at most this much of the script's output. */
const DETAIL_MAX = 1500;

const describeFailures = (report: PullReport, list: PullReport['failures'] = report.failures): string =>
  summarizeList(
    list.map((f) => `${f.reference} (${f.platform}): ${f.reason}`),
    DETAIL_MAX,
    '; ',
  );

const verificationError = (report: PullReport, commandId: string): ImageVerificationError =>
  new ImageVerificationError(
    `pull command ${commandId}: ${report.unverified.length} pulled image(s) are not complete and unpacked in containerd, so the snapshot is not published: ${describeFailures(report, report.unverified)}`,
  );

/** The order send-pull-command generated the script in: the report refers to images and platforms by index. */
const planOf = (build: Input['build']): PullReportPlan => ({
  references: build.images.map((image) => parseImageReference(image.reference).normalized),
  platforms: build.platforms,
  expectedDigests: build.images.map((image) => image.digest),
});

/**
 * Fails unless the report lists every requested image x platform with the expected digest; returns the counts of
 * what it lists. A report cut short fails too: only a listed pull is counted, so a count can never be guessed.
 */
const verifyReport = (report: PullReport, build: Input['build'], commandId: string): { pulled: number; images: number; dataVolumeUsedBytes: number } => {
  if (!report.summary) {
    throw new PullFailedError(`pull command ${commandId} succeeded but printed no report; the script did not run as generated.`);
  }
  if (report.unverified.length > 0 && report.failures.length === 0) throw verificationError(report, commandId);
  if (report.summary.failed > 0 || report.failures.length > 0) {
    throw new PullFailedError(`pull command ${commandId} reported failed pulls: ${describeFailures(report)}`);
  }
  const problems: string[] = [];
  const expected = build.images.length * build.platforms.length;
  if (report.summary.expected !== expected) problems.push(`the script planned ${report.summary.expected} pulls, the build ${expected}`);
  if (!report.volume) problems.push('the report does not say how much of the data volume is used (no SNAPSHOT_FACTORY_VOLUME line)');
  if (report.malformed.length > 0) problems.push(`the report has lines that do not match the build: ${summarizeList(report.malformed, 300, ' | ')}`);
  let pulled = 0;
  let images = 0;
  for (const image of build.images) {
    const reference = parseImageReference(image.reference).normalized;
    let everyPlatform = true;
    for (const platform of build.platforms) {
      const listed = report.images.filter((i) => i.reference === reference && i.platform === platform);
      if (listed.length === 0) {
        everyPlatform = false;
        problems.push(`${image.reference} (${platform}) is missing from the report`);
      } else if (listed.length > 1) {
        everyPlatform = false;
        problems.push(`${image.reference} (${platform}) is listed ${listed.length} times`);
      } else if (image.digest && listed[0]!.digest !== image.digest) {
        everyPlatform = false;
        problems.push(`${image.reference} (${platform}) was resolved to ${image.digest} but the builder pulled ${listed[0]!.digest}; the tag moved during the build, run it again`);
      } else {
        pulled += 1;
      }
    }
    if (everyPlatform) images += 1;
  }
  // Only what is listed is counted: a report SSM cut short (24,000 characters of stdout) cannot vouch for the rest.
  if (report.truncated) {
    problems.unshift(
      `the report is incomplete (SSM returns at most 24,000 characters of stdout): it lists ${report.images.length} of the ${report.summary.ok} successful pulls its summary counts`,
    );
  }
  if (problems.length > 0) throw new PullFailedError(`pull command ${commandId}: ${summarizeList(problems, DETAIL_MAX, '; ')}`);
  return { pulled, images, dataVolumeUsedBytes: report.volume?.usedBytes ?? 0 };
};

const failure = (invocation: GetCommandInvocationCommandOutput, build: Input['build'], commandId: string): Error => {
  const report = parsePullReport(invocation.StandardOutputContent ?? '', planOf(build));
  // The summary is printed first, so it survives any cut: it says how many failed even when their lines did not.
  const cut =
    report.truncated && report.summary
      ? ` (the failure list is incomplete: SSM returns at most 24,000 characters of stdout; ${report.failures.length} of ${report.summary.failed} failed pulls listed)`
      : '';
  if (report.disk) {
    return new DataVolumeTooSmallError(
      `the images need about ${gibUp(report.disk.neededBytes)} GiB, the data volume has ${gibDown(report.disk.freeBytes)} GiB free of ` +
        `${build.dataVolume.sizeGiB} GiB; raise dataVolume.sizeGiB. ${describeFailures(report)}${cut}`.trim(),
    );
  }
  // Every pull ended and only the verification failed: the images are there but not whole.
  if (!report.error && report.failures.length === 0 && report.unverified.length > 0) return verificationError(report, commandId);
  const stderr = (invocation.StandardErrorContent ?? '').trim();
  const reason = report.error ?? (report.failures.length > 0 ? describeFailures(report) : stderr.slice(-DETAIL_MAX));
  return new PullFailedError(
    `pull command ${commandId} failed (${invocation.StatusDetails ?? invocation.Status}, exit ${invocation.ResponseCode ?? '?'}): ${reason || 'no output'}${cut}`,
  );
};

const look = async ({ build, instance, pull }: Input): Promise<Output> => {
  const { commandId } = pull;
  const checkedAt = new Date();
  const waitedMs = checkedAt.getTime() - Date.parse(pull.sentAt);
  const waitedSeconds = Math.floor(waitedMs / 1000);
  const notDone = (status: string): Output => {
    if (waitedSeconds > build.limits.pullSeconds) {
      throw new PullTimeoutError(
        `pull command ${commandId} on ${instance.instanceId} is still ${status} ${waitedSeconds} s after it was sent; the limit is ` +
          `${build.limits.pullSeconds} s (limits.pullSeconds raises it).`,
      );
    }
    const sinceLaunchSeconds = (checkedAt.getTime() - Date.parse(instance.launchedAt)) / 1000;
    const next = nextCheckSeconds(pullEstimateSeconds(sinceLaunchSeconds), waitedMs / 1000, build.limits.pullSeconds);
    return { done: false, status, pulled: 0, images: 0, dataVolumeUsedBytes: 0, checkedAt: checkedAt.toISOString(), nextCheckSeconds: next };
  };

  let invocation: GetCommandInvocationCommandOutput;
  try {
    invocation = await callAws(`ssm:GetCommandInvocation ${commandId}`, () =>
      ssm.send(new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: instance.instanceId })),
    );
  } catch (error) {
    // SSM answers InvocationDoesNotExist for a short while after SendCommand: not an error yet.
    if (awsErrorCode((error as Error).cause) === 'InvocationDoesNotExist' && waitedSeconds <= INVOCATION_GRACE_SECONDS) {
      return notDone('Pending');
    }
    throw error;
  }

  const status = invocation.Status ?? 'Pending';
  if (RUNNING.has(status)) {
    // SSM keeps a command of a builder that went away InProgress until its timeout, possibly hours: ask EC2.
    await assertBuilderAlive(instance.instanceId, 'pulling images');
    return notDone(status);
  }
  if (status === 'TimedOut' || status === 'Cancelled') {
    throw new PullCommandTimedOutError(
      `pull command ${commandId} ended ${status} (${invocation.StatusDetails ?? status}); its execution timeout is ` +
        `${build.pull.commandTimeoutSeconds} s (pull.commandTimeoutSeconds raises it).`,
    );
  }
  if (status !== 'Success') throw failure(invocation, build, commandId);

  const report = parsePullReport(invocation.StandardOutputContent ?? '', planOf(build));
  const counts = verifyReport(report, build, commandId);
  return { done: true, status, ...counts, checkedAt: checkedAt.toISOString(), nextCheckSeconds: 0 };
};

const run = async (input: Input, context?: Context): Promise<Output> => pollInside(() => look(input), INNER_POLL.pull, context);

/** Handler of the `CheckPullCommand` state. */
export const handler = defineStage('check-pull-command', inputSchema, run);
