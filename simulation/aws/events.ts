/**
 * Simulated EventBridge (default bus): PutEvents records the events and enforces PutEvents' limits —
 * 1 to 10 entries per call, at most 256 KB per request — and answers per-entry failures like AWS
 * (`FailedEntryCount`, `ErrorCode`) for entries missing Source, DetailType or a JSON Detail.
 *
 * Per-entry failures, as "Sending events with PutEvents" (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevents.html)
 * and PutEventsResultEntry (https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEventsResultEntry.html)
 * describe them: the call still answers 200; the other entries are processed; `Entries` has one result per request
 * entry, in order, an event ID for an accepted one and `ErrorCode` + `ErrorMessage` (no ID) for a failed one.
 * {@link SimulatedEventBridge.failEntries} makes entries fail with a code AWS documents (`ThrottlingException` and
 * `InternalFailure` retryable, the others not). Left out: rules, targets and their delivery (nothing in the factory
 * listens on the bus in the simulation), and the ErrorMessage texts, which AWS does not document.
 */
import { AwsServiceError, type SimulatedAwsCore } from './core';

export interface PutEntry {
  Source?: string;
  DetailType?: string;
  Detail?: string;
  Resources?: string[];
  Time?: Date;
  EventBusName?: string;
}

export interface RecordedEvent {
  id: string;
  source: string;
  detailType: string;
  detail: unknown;
  bus: string;
  time: string;
}

export const PUT_EVENTS_MAX_ENTRIES = 10;
/** Entry error codes PutEventsResultEntry documents (retryable first). */
export const PUT_EVENTS_ENTRY_ERROR_CODES = [
  'InternalFailure',
  'ThrottlingException',
  'AccessDeniedException',
  'InvalidAccountIdException',
  'InvalidArgument',
  'MalformedDetail',
  'RedactionFailure',
  'NotAuthorizedForSourceException',
  'NotAuthorizedForDetailTypeException',
] as const;
export type PutEventsEntryErrorCode = (typeof PUT_EVENTS_ENTRY_ERROR_CODES)[number];
export const PUT_EVENTS_MAX_BYTES = 256 * 1024;

const entrySize = (entry: PutEntry): number =>
  (entry.Time ? 14 : 0) +
  Buffer.byteLength(entry.Source ?? '') +
  Buffer.byteLength(entry.DetailType ?? '') +
  Buffer.byteLength(entry.Detail ?? '') +
  (entry.Resources ?? []).reduce((sum, r) => sum + Buffer.byteLength(r), 0);

export class SimulatedEventBridge {
  readonly events: RecordedEvent[] = [];
  private readonly entryFailures: { code: PutEventsEntryErrorCode; left: number }[] = [];
  private nextId = 0;

  constructor(core: SimulatedAwsCore) {
    core.register('events', { PutEvents: (input: { Entries?: PutEntry[] }) => this.putEvents(input.Entries ?? []) });
  }

  /**
   * The next `times` well-formed entries (any call) fail with `code` in PutEvents' answer instead of being accepted;
   * `Infinity` for always. The call itself succeeds, as on AWS. Returns a function that removes the fault.
   */
  failEntries(code: PutEventsEntryErrorCode, times = 1): () => void {
    if (!PUT_EVENTS_ENTRY_ERROR_CODES.includes(code)) throw new Error(`unknown PutEvents entry error code "${code}" (use ${PUT_EVENTS_ENTRY_ERROR_CODES.join(', ')})`);
    const failure = { code, left: times };
    this.entryFailures.push(failure);
    return () => {
      failure.left = 0;
    };
  }

  /** Events with `detailType`, e.g. `Snapshot Ready`. */
  ofType(detailType: string): RecordedEvent[] {
    return this.events.filter((event) => event.detailType === detailType);
  }

  private putEvents(entries: PutEntry[]) {
    if (entries.length < 1 || entries.length > PUT_EVENTS_MAX_ENTRIES) {
      throw new AwsServiceError('ValidationException', `1 validation error detected: Value at 'entries' failed to satisfy constraint: Member must have length less than or equal to ${PUT_EVENTS_MAX_ENTRIES}`);
    }
    const total = entries.reduce((sum, entry) => sum + entrySize(entry), 0);
    if (total > PUT_EVENTS_MAX_BYTES) {
      throw new AwsServiceError('ValidationException', `Total size of the entries in the request is over the limit (${total} > ${PUT_EVENTS_MAX_BYTES} bytes).`);
    }
    let failed = 0;
    const results = entries.map((entry) => {
      let detail: unknown;
      try {
        detail = JSON.parse(entry.Detail ?? '');
      } catch {
        detail = undefined;
      }
      if (!entry.Source || !entry.DetailType || detail === undefined || typeof detail !== 'object') {
        failed += 1;
        return { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed or Source/DetailType is missing.' };
      }
      const injected = this.entryFailures.find((f) => f.left > 0);
      if (injected) {
        injected.left -= 1;
        failed += 1;
        return { ErrorCode: injected.code, ErrorMessage: `Injected ${injected.code}` };
      }
      this.nextId += 1;
      const id = `evt-${this.nextId.toString().padStart(8, '0')}`;
      this.events.push({
        id,
        source: entry.Source,
        detailType: entry.DetailType,
        detail,
        bus: entry.EventBusName ?? 'default',
        time: (entry.Time ?? new Date(Date.now())).toISOString(),
      });
      return { EventId: id };
    });
    return { FailedEntryCount: failed, Entries: results };
  }
}

/**
 * Whether `event` matches an EventBridge event pattern, as "Amazon EventBridge event patterns" describes it
 * (EventBridge User Guide, https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns.html): every
 * field of the pattern must match (AND); an array of values matches when the event's value equals one of them (OR),
 * exactly and case-sensitively; a nested object matches the event's nested object field by field. Content filters
 * (prefix, anything-but, numeric, exists...) are not modelled: a pattern using one throws rather than matching
 * more than EventBridge would.
 */
export const matchesEventPattern = (pattern: Record<string, unknown>, event: Record<string, unknown>): boolean =>
  Object.entries(pattern).every(([field, expected]) => {
    const actual = event[field];
    if (Array.isArray(expected)) {
      for (const value of expected) {
        if (value !== null && typeof value === 'object') throw new Error(`event pattern field "${field}": content filter ${JSON.stringify(value)} is not modelled`);
      }
      const values = Array.isArray(actual) ? actual : [actual];
      return values.some((value) => expected.includes(value));
    }
    if (expected && typeof expected === 'object') {
      return actual !== null && typeof actual === 'object' && matchesEventPattern(expected as Record<string, unknown>, actual as Record<string, unknown>);
    }
    throw new Error(`event pattern field "${field}": expected an array of values or an object, got ${JSON.stringify(expected)}`);
  });
