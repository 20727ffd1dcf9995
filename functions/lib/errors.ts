/**
 * The factory's error names: the contract between the handlers and the state machine.
 *
 * Step Functions sees only an error's `name`, so every class sets it to a string literal
 * (a minifier would rename the class). The ASL's Retry lists only {@link RETRYABLE_ERROR_NAMES};
 * every other name is terminal and goes to cleanup. `docs/errors.md` documents each one.
 */

/** Base of every error the factory throws on purpose. */
export abstract class FactoryError extends Error {
  abstract override readonly name: string;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** Throttling, a 5xx, or a network fault: the same call is expected to succeed later. */
export class TransientAwsError extends FactoryError {
  override readonly name = 'TransientAwsError' as const;
}

/** The execution input or a stage input is invalid. Names the bad field or image. */
export class InvalidInputError extends FactoryError {
  override readonly name = 'InvalidInputError' as const;
}

/** An image reference is not valid image-reference grammar, or may not be used. */
export class InvalidImageReferenceError extends FactoryError {
  override readonly name = 'InvalidImageReferenceError' as const;
}

/** IAM or an SCP refused a call. Retrying does not help; the message names the action. */
export class AccessDeniedError extends FactoryError {
  override readonly name = 'AccessDeniedError' as const;
}

/** AWS rejected a request for a reason that retrying does not fix (bad parameter, limit, unknown ID...). */
export class AwsRequestError extends FactoryError {
  override readonly name = 'AwsRequestError' as const;
}

/** The AMI parameter does not exist or does not hold an AMI ID. */
export class AmiNotFoundError extends FactoryError {
  override readonly name = 'AmiNotFoundError' as const;
}

/** Every instance type in the list was refused for capacity or support reasons. */
export class InstanceCapacityError extends FactoryError {
  override readonly name = 'InstanceCapacityError' as const;
}

/** The builder instance stopped, terminated or vanished while the build still needed it. */
export class InstanceLostError extends FactoryError {
  override readonly name = 'InstanceLostError' as const;
}

/** The pull command ended in `Failed`; the message carries the real reason (stderr). */
export class PullFailedError extends FactoryError {
  override readonly name = 'PullFailedError' as const;
}

/** The data volume has too little free space for the images; the message says how many GiB are needed. */
export class DataVolumeTooSmallError extends FactoryError {
  override readonly name = 'DataVolumeTooSmallError' as const;
}

/**
 * A pull ended, but the image is not complete and unpacked for that platform in containerd when the script
 * checks, before the builder stops (a blob missing from the content store, a layer's snapshot missing, or a
 * plain manifest for another platform). The message names the image and the platform; nothing is published.
 */
export class ImageVerificationError extends FactoryError {
  override readonly name = 'ImageVerificationError' as const;
}

/** SSM ended the pull command as `TimedOut` (its execution timeout) or `Cancelled`. */
export class PullCommandTimedOutError extends FactoryError {
  override readonly name = 'PullCommandTimedOutError' as const;
}

/** The data volume's snapshot went to state `error`. */
export class SnapshotFailedError extends FactoryError {
  override readonly name = 'SnapshotFailedError' as const;
}

/** The instance has no volume attached as `/dev/xvdb`. */
export class DataVolumeNotFoundError extends FactoryError {
  override readonly name = 'DataVolumeNotFoundError' as const;
}

/** The SSM agent did not report Online within the limit. */
export class SsmAgentTimeoutError extends FactoryError {
  override readonly name = 'SsmAgentTimeoutError' as const;
}

/** The pull command did not finish within the workflow's limit. */
export class PullTimeoutError extends FactoryError {
  override readonly name = 'PullTimeoutError' as const;
}

/** The instance did not reach `stopped` within the limit. */
export class StopTimeoutError extends FactoryError {
  override readonly name = 'StopTimeoutError' as const;
}

/** The snapshot did not reach `completed` within the limit. */
export class SnapshotTimeoutError extends FactoryError {
  override readonly name = 'SnapshotTimeoutError' as const;
}

/** An image tag or digest does not exist in its registry, or the registry refused the lookup. */
export class ImageNotFoundError extends FactoryError {
  override readonly name = 'ImageNotFoundError' as const;
}

/** A registry could not be reached or answered with a server error while resolving a digest. */
export class RegistryUnavailableError extends FactoryError {
  override readonly name = 'RegistryUnavailableError' as const;
}

/**
 * EC2 refused to enable Fast Snapshot Restore in a zone (EnableFastSnapshotRestores' `Unsuccessful` list), the
 * quota of FSR-enabled snapshots per Region included, or a zone went from enabling to `disabling`/`disabled`; or EC2
 * refused to disable FSR on a superseded snapshot (DisableFastSnapshotRestores' `Unsuccessful` list).
 */
export class FastSnapshotRestoreFailedError extends FactoryError {
  override readonly name = 'FastSnapshotRestoreFailedError' as const;
}

/**
 * A cross-region copy of the snapshot failed: CopySnapshot was refused for a reason retrying will not change, or the
 * copy went to `error` or vanished from its region. The message names the region, the copy and EC2's reason.
 */
export class SnapshotCopyFailedError extends FactoryError {
  override readonly name = 'SnapshotCopyFailedError' as const;
}

/** A cross-region copy did not reach `completed` within `limits.copySeconds`. */
export class SnapshotCopyTimeoutError extends FactoryError {
  override readonly name = 'SnapshotCopyTimeoutError' as const;
}

/** Fast Snapshot Restore did not reach `enabled` in every zone within `limits.fastSnapshotRestoreSeconds`. */
export class FastSnapshotRestoreTimeoutError extends FactoryError {
  override readonly name = 'FastSnapshotRestoreTimeoutError' as const;
}

/** Retried by the state machine with backoff and jitter. */
export const RETRYABLE_ERROR_NAMES = ['TransientAwsError', 'RegistryUnavailableError'] as const;

/** Never retried: they go straight to cleanup and fail the execution. */
export const TERMINAL_ERROR_NAMES = [
  'InvalidInputError',
  'InvalidImageReferenceError',
  'AccessDeniedError',
  'AwsRequestError',
  'AmiNotFoundError',
  'InstanceCapacityError',
  'InstanceLostError',
  'PullFailedError',
  'DataVolumeTooSmallError',
  'ImageVerificationError',
  'PullCommandTimedOutError',
  'SnapshotFailedError',
  'DataVolumeNotFoundError',
  'SsmAgentTimeoutError',
  'PullTimeoutError',
  'StopTimeoutError',
  'SnapshotTimeoutError',
  'ImageNotFoundError',
  'FastSnapshotRestoreFailedError',
  'FastSnapshotRestoreTimeoutError',
  'SnapshotCopyFailedError',
  'SnapshotCopyTimeoutError',
] as const;

export type RetryableErrorName = (typeof RETRYABLE_ERROR_NAMES)[number];
export type TerminalErrorName = (typeof TERMINAL_ERROR_NAMES)[number];

const THROTTLING_OR_TRANSIENT = new Set([
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'TooManyRequestsException',
  'ProvisionedThroughputExceededException',
  'SlowDown',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'Unavailable',
  'InternalError',
  'InternalFailure',
  'InternalServerError',
  'InternalServerErrorException',
  'RequestTimeout',
  'RequestTimeoutException',
  'TimeoutError',
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
]);

const ACCESS_DENIED = new Set([
  'AccessDenied',
  'AccessDeniedException',
  'UnauthorizedOperation',
  'UnauthorizedException',
  'AuthFailure',
  'OptInRequired',
]);

interface SdkLikeError {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  $retryable?: unknown;
}

/** The AWS error code of an SDK v3 exception (its `name`), or a Node network error code. */
export const awsErrorCode = (error: unknown): string => {
  const e = (error ?? {}) as SdkLikeError;
  return e.name && e.name !== 'Error' ? e.name : (e.code ?? e.name ?? 'UnknownError');
};

/** True when retrying the same request later is expected to succeed. */
export const isTransientAwsError = (error: unknown): boolean => {
  const e = (error ?? {}) as SdkLikeError;
  const status = e.$metadata?.httpStatusCode ?? 0;
  return THROTTLING_OR_TRANSIENT.has(awsErrorCode(error)) || Boolean(e.$retryable) || status >= 500;
};

/**
 * Translates an exception from an AWS SDK call into the factory's error names, keeping the original as `cause`.
 * Errors that are already a {@link FactoryError} pass through unchanged.
 *
 * @param action what was being done, e.g. `ec2:RunInstances for i-123`; it leads the message.
 * @example
 * try { await ec2.send(new StopInstancesCommand({ InstanceIds: [id] })); }
 * catch (error) { throw toFactoryError(error, `ec2:StopInstances ${id}`); }
 */
export const toFactoryError = (error: unknown, action: string): FactoryError => {
  if (error instanceof FactoryError) return error;
  const code = awsErrorCode(error);
  const detail = (error as SdkLikeError | undefined)?.message ?? String(error);
  const message = `${action} failed: ${code}: ${detail}`;
  if (isTransientAwsError(error)) return new TransientAwsError(message, { cause: error });
  if (ACCESS_DENIED.has(code)) return new AccessDeniedError(message, { cause: error });
  return new AwsRequestError(message, { cause: error });
};

/**
 * Runs one AWS call and translates what it throws with {@link toFactoryError}.
 *
 * @example
 * const out = await callAws(`ec2:DescribeInstances ${id}`, () => ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] })));
 */
export const callAws = async <T>(action: string, call: () => Promise<T>): Promise<T> => {
  try {
    return await call();
  } catch (error) {
    throw toFactoryError(error, action);
  }
};
