/**
 * Where the current snapshot of a recipe lives, and the digest set it was built from.
 *
 * Per recipe and architecture, Parameter Store holds two parameters:
 * - `/snapshot-factory/<recipe>/<architecture>/snapshot-id`: just the snapshot ID, for consumers.
 * - `/snapshot-factory/<recipe>/<architecture>/digest-set`: JSON {@link CurrentDigestRecord}, read by the skip check.
 *
 * The skip check compares only the digest-set hash, so the record stays useful even when its image list
 * is too long for the parameter (standard tier <= 4 KB, then Advanced tier <= 8 KB, then the list is left out).
 */
import { createHash } from 'node:crypto';
import type { Architecture } from './schemas';

export const PARAMETER_PREFIX = '/snapshot-factory';

/** Tag on a published snapshot: the digest-set hash it was built from. */
export const TAG_DIGEST_SET = 'snapshot-factory:digest-set';
/** Tag on a published snapshot: when it became current. */
export const TAG_PUBLISHED_AT = 'snapshot-factory:published-at';

/** Name of the parameter holding the current snapshot ID of `recipe` for `architecture`. */
export const snapshotIdParameterName = (recipe: string, architecture: Architecture): string =>
  `${PARAMETER_PREFIX}/${recipe}/${architecture}/snapshot-id`;

/** Name of the parameter holding the digest set of the current snapshot of `recipe` for `architecture`. */
export const digestSetParameterName = (recipe: string, architecture: Architecture): string =>
  `${PARAMETER_PREFIX}/${recipe}/${architecture}/digest-set`;

/** The EC2 architecture whose nodes run containerd `platform`. */
export const ARCHITECTURE_OF_PLATFORM: Record<string, Architecture> = { 'linux/amd64': 'x86_64', 'linux/arm64': 'arm64' };

/** One image resolved for one platform: the manifest that platform's nodes run. */
export interface PlatformDigest {
  reference: string;
  platform: string;
  digest: string;
}

/**
 * Hash of a set of per-platform digests, independent of order: `sha256:<64 hex>`.
 *
 * @example digestSetHash([{ reference: 'nginx:1', platform: 'linux/amd64', digest: 'sha256:ab…' }])
 */
export const digestSetHash = (entries: readonly PlatformDigest[]): string => {
  const lines = [...new Set(entries.map((e) => `${e.reference} ${e.platform} ${e.digest}`))].sort();
  return `sha256:${createHash('sha256').update(lines.join('\n')).digest('hex')}`;
};

/**
 * A consumer channel publish-snapshot writes after the digest-set record, in this order: the `snapshot-id`
 * parameters, the result parameters (setting `resultParameterName`), then the `Snapshot Ready` event.
 * docs/consumers.md, "Order and redelivery".
 */
export type PublishChannel = 'snapshot-id' | 'result-parameters' | 'event';

/** Every channel, in the order publish-snapshot writes them. */
export const PUBLISH_CHANNELS: readonly PublishChannel[] = ['snapshot-id', 'result-parameters', 'event'];

/** What the `digest-set` parameter holds. */
export interface CurrentDigestRecord {
  snapshotId: string;
  digestSet: string;
  publishedAt: string;
  executionName?: string;
  /** Absent when the list did not fit in an Advanced-tier parameter; `imageCount` still says how many. */
  images?: PlatformDigest[];
  imageCount: number;
  /**
   * The publish ledger: channels not yet confirmed for this snapshot. publish-snapshot writes the record with every
   * channel pending before it writes them, and again with `[]` once the event was accepted; a record that still lists
   * channels makes the next unchanged run `REPUBLISH` them. Absent (records written before the ledger existed): complete.
   */
  pending?: PublishChannel[];
  /** The `Snapshot Ready` event's ID, as PutEvents answered it, once it was accepted. */
  eventId?: string;
}

export const STANDARD_PARAMETER_BYTES = 4096;
export const ADVANCED_PARAMETER_BYTES = 8192;

export type ParameterTier = 'Intelligent-Tiering' | 'Advanced';

/**
 * Serialises `record` to fit a parameter: the value and the tier to store it in.
 *
 * Up to 4 KB: `Intelligent-Tiering`, which stores it as Standard (free) unless the parameter was already
 * Advanced — Parameter Store refuses to turn an Advanced parameter back to Standard, so naming `Standard`
 * would fail once a long image list shrank. Up to 8 KB: `Advanced`. Beyond: the image list is left out.
 */
export const encodeDigestRecord = (record: CurrentDigestRecord): { value: string; tier: ParameterTier } => {
  const full = JSON.stringify(record);
  const bytes = Buffer.byteLength(full, 'utf8');
  if (bytes <= STANDARD_PARAMETER_BYTES) return { value: full, tier: 'Intelligent-Tiering' };
  if (bytes <= ADVANCED_PARAMETER_BYTES) return { value: full, tier: 'Advanced' };
  const { images: _omitted, ...withoutImages } = record;
  return { value: JSON.stringify(withoutImages), tier: 'Intelligent-Tiering' };
};

/** Parses a `digest-set` parameter value; undefined when it is not a record this factory wrote. */
export const decodeDigestRecord = (value: string | undefined): CurrentDigestRecord | undefined => {
  if (!value) return undefined;
  try {
    const parsed = JSON.parse(value) as Partial<CurrentDigestRecord>;
    if (typeof parsed.snapshotId !== 'string' || typeof parsed.digestSet !== 'string') return undefined;
    // A ledger that is not a list of known channels was not written by this factory: redo every channel.
    if (parsed.pending !== undefined && (!Array.isArray(parsed.pending) || parsed.pending.some((c) => !PUBLISH_CHANNELS.includes(c)))) {
      return { ...(parsed as CurrentDigestRecord), pending: [...PUBLISH_CHANNELS] };
    }
    return parsed as CurrentDigestRecord;
  } catch {
    return undefined;
  }
};
