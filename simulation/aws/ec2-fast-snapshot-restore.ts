/**
 * Simulated EBS Fast Snapshot Restore (FSR): EnableFastSnapshotRestores, DescribeFastSnapshotRestores and
 * DisableFastSnapshotRestores on the snapshots of {@link SimulatedEc2}, per (snapshot, Availability Zone), with states
 * progressing on the virtual clock.
 *
 * Sources (Amazon EBS User Guide and EC2 API reference):
 * - states, "Check the fast snapshot restore state for an Amazon EBS snapshot" (view-fsr-enabled-snapshots.html):
 *   `enabling` -> `optimizing` -> `enabled`, "It takes 60 minutes per TiB to optimize a snapshot"; `disabling` ->
 *   `disabled`; the page's example output (enabling 23:57:49.596, optimizing 23:58:25.573) gives the ~36 s of `enabling`.
 * - "Amazon EBS fast snapshot restore" (ebs-fast-snapshot-restore.html): "You can enable up to 5 snapshots for fast
 *   snapshot restore per Region" (every FSR state counts, snapshots shared with you too), at most 16 TiB per snapshot.
 * - "Configure fast snapshot restore" (manage-fsr-enable.html): billed per minute per zone, one hour at least;
 *   deleting a snapshot you own disables its FSR.
 * - API reference: EnableFastSnapshotRestores / DisableFastSnapshotRestores answer `Successful` and, per snapshot,
 *   `Unsuccessful[].FastSnapshotRestoreStateErrors[] { AvailabilityZone, Error { Code, Message } }`;
 *   DescribeFastSnapshotRestores' filters `availability-zone`, `owner-id`, `snapshot-id`, `state`, MaxResults 0-200;
 *   SourceSnapshotIds takes at most 10 values (`InvalidRequest`, as pingcap/tidb#48505 shows EC2 answering).
 *
 * Left out, because AWS does not document it: the exact per-zone error codes (the simulation answers
 * `Client.FastSnapshotRestoreLimitExceeded`, `Client.InvalidParameterValue` and `Client.IncorrectState`, and the
 * handlers never branch on a code, only on the list being non-empty); how long `disabling` lasts (60 s here);
 * volume creation credits; Outposts, Local Zones and Wavelength Zones. Disabled entries are not listed.
 *
 * Tests and invariants: `activeRestores()` (entries in a billing state), `stateAt()`, `billedZoneHours()`, `quota` (a test may lower it).
 */
import { failRequest as fail, type SimulatedAwsCore } from './core';
import type { SimulatedEc2 } from './ec2';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Input = any;

/** The figures above, in one place (a test may lower the quota). */
export const FSR_FIGURES = {
  /** Snapshots with FSR in any state but disabled, per Region. */
  snapshotsPerRegion: 5,
  enablingMs: 36_000,
  optimizingMsPerTiB: 3_600_000,
  disablingMs: 60_000,
  maxSnapshotGiB: 16_384,
  maxSourceSnapshotIds: 10,
  maxResults: 200,
} as const;

export type FsrState = 'enabling' | 'optimizing' | 'enabled' | 'disabling' | 'disabled';

interface Entry {
  snapshotId: string;
  availabilityZone: string;
  enablingAt: number;
  optimizingAt: number;
  enabledAt: number;
  disablingAt?: number;
  disabledAt?: number;
  reason: string;
}

export class SimulatedFastSnapshotRestore {
  /** Snapshots with FSR in a billing state that the Region allows; AWS's 5 unless a test lowers it. */
  quota: number = FSR_FIGURES.snapshotsPerRegion;
  private readonly entries: Entry[] = [];
  /** The Region's Availability Zones (`<region>a` to `<region>d`). */
  readonly availabilityZones: string[];

  constructor(
    private readonly core: SimulatedAwsCore,
    private readonly ec2: SimulatedEc2,
  ) {
    this.availabilityZones = ['a', 'b', 'c', 'd'].map((letter) => `${core.region}${letter}`);
    core.register('ec2', {
      EnableFastSnapshotRestores: (input: Input) => this.enable(input),
      DisableFastSnapshotRestores: (input: Input) => this.disable(input),
      DescribeFastSnapshotRestores: (input: Input) => this.describe(input),
    });
  }

  /** An entry's state now; a deleted snapshot's FSR is disabled from its deletion on (manage-fsr-enable.html). */
  stateOf(entry: Entry, now = Date.now()): FsrState {
    const snapshot = this.ec2.snapshots.get(entry.snapshotId);
    if (snapshot?.deleted && entry.disabledAt === undefined) entry.disabledAt = now;
    if (entry.disabledAt !== undefined && now >= entry.disabledAt) return 'disabled';
    if (entry.disablingAt !== undefined && now >= entry.disablingAt) return 'disabling';
    if (now >= entry.enabledAt) return 'enabled';
    if (now >= entry.optimizingAt) return 'optimizing';
    return 'enabling';
  }

  /** The FSR state of `snapshotId` in `zone` at `at` (epoch ms), as DescribeFastSnapshotRestores answered then. */
  stateAt(snapshotId: string, zone: string, at: number): FsrState {
    const entries = this.entries.filter((e) => e.snapshotId === snapshotId && e.availabilityZone === zone && e.enablingAt <= at);
    const entry = entries.at(-1);
    return entry ? this.stateOf(entry, at) : 'disabled';
  }

  /** Entries in a state that bills (every state but disabled). */
  activeRestores(): { snapshotId: string; availabilityZone: string; state: FsrState }[] {
    return this.entries.map((e) => ({ snapshotId: e.snapshotId, availabilityZone: e.availabilityZone, state: this.stateOf(e) })).filter((e) => e.state !== 'disabled');
  }

  /** Zone-hours billed so far: per entry, minutes from enabling to disabled (or now), at least one hour (manage-fsr-enable.html). */
  billedZoneHours(now = Date.now()): number {
    return this.entries.reduce((sum, e) => {
      this.stateOf(e, now);
      const end = Math.min(now, e.disabledAt ?? now);
      return sum + Math.max(1, Math.ceil((end - e.enablingAt) / 60_000) / 60);
    }, 0);
  }

  private live(snapshotId: string, zone: string): Entry | undefined {
    return this.entries.find((e) => e.snapshotId === snapshotId && e.availabilityZone === zone && this.stateOf(e) !== 'disabled');
  }

  private snapshotsWithFsr(): Set<string> {
    return new Set(this.activeRestores().map((e) => e.snapshotId));
  }

  private checkRequest(input: Input): { ids: string[]; zones: string[] } {
    const ids: string[] = input.SourceSnapshotIds ?? [];
    const zones: string[] = input.AvailabilityZones ?? [];
    if (ids.length === 0) fail('MissingParameter', 'The request must contain the parameter SourceSnapshotIds');
    if (zones.length === 0) fail('MissingParameter', 'The request must contain the parameter AvailabilityZones');
    if (ids.length > FSR_FIGURES.maxSourceSnapshotIds) fail('InvalidRequest', `Number of values of parameter SourceSnapshotIds must be less than or equal to ${FSR_FIGURES.maxSourceSnapshotIds}.`);
    for (const id of ids) {
      if (!/^snap-[0-9a-f]{8,17}$/.test(id)) fail('InvalidSnapshotID.Malformed', `Invalid id: "${id}"`);
      const snapshot = this.ec2.snapshots.get(id);
      if (!snapshot || snapshot.deleted) fail('InvalidSnapshot.NotFound', `The snapshot '${id}' does not exist.`);
    }
    return { ids, zones };
  }

  private enable(input: Input): unknown {
    const { ids, zones } = this.checkRequest(input);
    const now = Date.now();
    const completed = new Set(this.ec2.snapshotsInState('completed').map((s) => s.SnapshotId));
    const successful: unknown[] = [];
    const unsuccessful: { SnapshotId: string; FastSnapshotRestoreStateErrors: unknown[] }[] = [];
    for (const snapshotId of ids) {
      const snapshot = this.ec2.snapshots.get(snapshotId)!;
      const errors: unknown[] = [];
      const refuse = (zone: string, Code: string, Message: string) => errors.push({ AvailabilityZone: zone, Error: { Code, Message } });
      for (const zone of zones) {
        const existing = this.live(snapshotId, zone);
        if (existing && this.stateOf(existing) !== 'disabling') {
          successful.push(this.item(existing));
          continue;
        }
        if (!this.availabilityZones.includes(zone)) refuse(zone, 'Client.InvalidParameterValue', `The Availability Zone '${zone}' is not valid in ${this.core.region}.`);
        else if (!completed.has(snapshotId)) refuse(zone, 'Client.IncorrectState', `Snapshot ${snapshotId} is not in the completed state.`);
        else if (snapshot.VolumeSize > FSR_FIGURES.maxSnapshotGiB) refuse(zone, 'Client.InvalidParameterValue', `Snapshot ${snapshotId} is larger than 16 TiB.`);
        else if (!this.snapshotsWithFsr().has(snapshotId) && this.snapshotsWithFsr().size >= this.quota) {
          refuse(zone, 'Client.FastSnapshotRestoreLimitExceeded', `You can enable fast snapshot restore for at most ${this.quota} snapshots in ${this.core.region}.`);
        } else {
          const optimizingAt = now + FSR_FIGURES.enablingMs;
          const entry: Entry = {
            snapshotId,
            availabilityZone: zone,
            enablingAt: now,
            optimizingAt,
            enabledAt: optimizingAt + Math.ceil((snapshot.VolumeSize / 1024) * FSR_FIGURES.optimizingMsPerTiB),
            reason: 'Client.UserInitiated - Lifecycle state transition',
          };
          this.entries.push(entry);
          successful.push(this.item(entry));
        }
      }
      if (errors.length) unsuccessful.push({ SnapshotId: snapshotId, FastSnapshotRestoreStateErrors: errors });
    }
    return { Successful: successful, Unsuccessful: unsuccessful };
  }

  private disable(input: Input): unknown {
    const { ids, zones } = this.checkRequest(input);
    const now = Date.now();
    const successful: unknown[] = [];
    for (const snapshotId of ids) {
      for (const zone of zones) {
        const entry = this.live(snapshotId, zone);
        // Disabling where FSR is off is accepted and answers `disabled` (no entry to change).
        if (!entry) {
          successful.push({ SnapshotId: snapshotId, AvailabilityZone: zone, State: 'disabled', OwnerId: this.core.accountId });
          continue;
        }
        if (entry.disablingAt === undefined) {
          entry.disablingAt = now;
          entry.disabledAt = now + FSR_FIGURES.disablingMs;
          entry.reason = 'Client.UserInitiated - Lifecycle state transition';
        }
        successful.push(this.item(entry));
      }
    }
    return { Successful: successful, Unsuccessful: [] };
  }

  private describe(input: Input): unknown {
    const filters = (input.Filters ?? []) as { Name: string; Values: string[] }[];
    const known = ['availability-zone', 'owner-id', 'snapshot-id', 'state'];
    for (const filter of filters) if (!known.includes(filter.Name)) fail('InvalidParameterValue', `The filter '${filter.Name}' is invalid`);
    const max = input.MaxResults ?? FSR_FIGURES.maxResults;
    if (max < 0 || max > FSR_FIGURES.maxResults) fail('InvalidParameterValue', `Value (${max}) for parameter MaxResults is invalid. Expecting a value between 0 and ${FSR_FIGURES.maxResults}.`);
    const now = Date.now();
    const selected = this.entries.filter((entry) => {
      const state = this.stateOf(entry, now);
      if (state === 'disabled') return false;
      const value: Record<string, string> = { 'availability-zone': entry.availabilityZone, 'owner-id': this.core.accountId, 'snapshot-id': entry.snapshotId, state };
      return filters.every((f) => f.Values.includes(value[f.Name]!));
    });
    const start = input.NextToken ? Number(input.NextToken) : 0;
    const page = selected.slice(start, start + (max || FSR_FIGURES.maxResults));
    const next = start + page.length < selected.length ? String(start + page.length) : undefined;
    return { FastSnapshotRestores: page.map((entry) => this.item(entry)), ...(next ? { NextToken: next } : {}) };
  }

  private item(entry: Entry): Record<string, unknown> {
    const state = this.stateOf(entry);
    const at = (ms: number | undefined) => (ms !== undefined && Date.now() >= ms ? new Date(ms) : undefined);
    return {
      SnapshotId: entry.snapshotId,
      AvailabilityZone: entry.availabilityZone,
      State: state,
      StateTransitionReason: entry.reason,
      OwnerId: this.core.accountId,
      EnablingTime: new Date(entry.enablingAt),
      OptimizingTime: at(entry.optimizingAt),
      EnabledTime: at(entry.enabledAt),
      DisablingTime: at(entry.disablingAt),
      DisabledTime: at(entry.disabledAt),
    };
  }
}
