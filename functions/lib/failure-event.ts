/**
 * The `Snapshot Build Failed` event's names, shared by functions/notify-build-failure.ts (which puts it) and the
 * infrastructure (whose rules match it): in a module without side effects, so infra/ can read them.
 */

/** The factory's own event source, as for `Snapshot Ready` (functions/publish-snapshot.ts). */
export const FAILURE_EVENT_SOURCE = 'snapshot-factory';
export const FAILURE_EVENT_DETAIL_TYPE = 'Snapshot Build Failed';
/** The execution statuses that are announced: every way a Standard execution ends without succeeding. */
export const FAILED_STATUSES = ['FAILED', 'TIMED_OUT', 'ABORTED'] as const;
