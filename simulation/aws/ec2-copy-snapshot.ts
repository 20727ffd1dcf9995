/**
 * Simulated EC2 CopySnapshot, answered by the destination region's EC2 (the request goes to the destination
 * endpoint and names `SourceRegion`, as the real API does). The copy is a new snapshot of the destination's
 * {@link SimulatedEc2}, `pending` with a growing `Progress` until it completes.
 *
 * Sources (Amazon EBS User Guide and EC2 API reference):
 * - "Copy an Amazon EBS snapshot" (ebs-copy-snapshot.html): "There is a limit of 20 concurrent snapshot copy
 *   requests per destination Region. If you exceed this quota, you receive a ResourceLimitExceeded error"; also
 *   "Quotas for Amazon EBS" (ebs-resource-quotas.html): "Concurrent snapshot copies per destination Region: 20, not
 *   adjustable". A copy counts while it is `pending`.
 * - same page: only a `completed` snapshot can be copied; tags are not copied (the request's TagSpecifications tag
 *   the copy); copies have an arbitrary source volume ID (`vol-ffffffff`, as EC2 shows it).
 * - "Encryption and snapshot copying" (ebs-copy-snapshot.html#creating-encrypted-snapshots): a copy of an encrypted
 *   snapshot is encrypted; `KmsKeyId` requires `Encrypted`; without a key the copy uses the destination's
 *   `aws/ebs` key. EC2 API reference, CopySnapshot: `SourceRegion` and `SourceSnapshotId` are required,
 *   `Description` at most 255 characters, `InvalidSnapshot.NotFound` for a source the source region does not have.
 *
 * Left out, because AWS does not document it: the copy's rate (here twice the source snapshot's own creation time,
 * at least 60 s); the exact error text; KMS itself (a key ARN is taken as it is: whether the key exists and its
 * policy allows the factory is not checked -- the simulated IAM checks the kms actions, not the key policy);
 * time-based copies (`CompletionDurationMinutes`), Outposts and Local Zones; copies across accounts.
 *
 * Fault hooks: `copyWillFail(message)` makes the next copy go to `error` halfway; `quota` (a test may lower it).
 */
import { failRequest as fail } from './core';
import type { SimulatedEc2, SimulatedSnapshot } from './ec2';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Input = any;

/** The figures above, in one place. */
export const COPY_FIGURES = {
  concurrentCopiesPerDestinationRegion: 20,
  minCopyMs: 60_000,
  copyTimeFactor: 2,
  descriptionLength: 255,
} as const;

export class SimulatedSnapshotCopies {
  /** Copies `pending` at once that the destination accepts; AWS's 20 unless a test lowers it. */
  quota: number = COPY_FIGURES.concurrentCopiesPerDestinationRegion;
  /** IDs of the snapshots this region copied in, with their source. */
  readonly copies = new Map<string, { sourceRegion: string; sourceSnapshotId: string }>();
  private nextCopyFails?: string;
  private counter = 0;

  /**
   * @param destination the destination region's EC2, where the copy is created.
   * @param sourceEc2 the EC2 of a region of the same account, or undefined for a region the account does not have.
   */
  constructor(
    private readonly destination: SimulatedEc2,
    private readonly sourceEc2: (region: string) => SimulatedEc2 | undefined,
  ) {
    destination.core.register('ec2', { CopySnapshot: (input: Input) => this.copySnapshot(input) });
  }

  /** The next copy goes to `error` halfway through, with this StateMessage. */
  copyWillFail(message = 'Snapshot copy failed'): void {
    this.nextCopyFails = message;
  }

  /** Copies in this region that are still `pending`. */
  pendingCopies(): SimulatedSnapshot[] {
    const pending = new Set(this.destination.snapshotsInState('pending').map((s) => s.SnapshotId));
    return [...this.copies.keys()].filter((id) => pending.has(id)).map((id) => this.destination.snapshots.get(id)!);
  }

  private copySnapshot(input: Input): unknown {
    if (!input.SourceRegion) fail('MissingParameter', 'The request must contain the parameter SourceRegion.');
    if (!input.SourceSnapshotId) fail('MissingParameter', 'The request must contain the parameter SourceSnapshotId.');
    if (input.KmsKeyId && !input.Encrypted) fail('InvalidParameterDependency', 'The parameter KmsKeyId requires the parameter Encrypted to be true.');
    const description: string = input.Description ?? '';
    if (description.length > COPY_FIGURES.descriptionLength) fail('InvalidParameterValue', `Description is longer than ${COPY_FIGURES.descriptionLength} characters.`);
    for (const spec of input.TagSpecifications ?? []) {
      if (spec.ResourceType !== 'snapshot') fail('InvalidParameterValue', `'${spec.ResourceType}' is not a valid taggable resource type for this operation.`);
    }
    const sourceEc2 = this.sourceEc2(input.SourceRegion);
    const source = sourceEc2?.snapshots.get(input.SourceSnapshotId);
    if (!source || source.deleted) fail('InvalidSnapshot.NotFound', `The snapshot '${input.SourceSnapshotId}' does not exist.`);
    const sourceState = sourceEc2!.snapshotsInState('completed').some((s) => s.SnapshotId === source!.SnapshotId);
    if (!sourceState) fail('IncorrectState', `Snapshot '${source!.SnapshotId}' is not in the completed state.`);
    if (this.pendingCopies().length >= this.quota) {
      fail('ResourceLimitExceeded', `You have exceeded the limit of ${this.quota} concurrent snapshot copies to ${this.destination.core.region}.`);
    }
    const now = Date.now();
    const durationMs = Math.max(COPY_FIGURES.minCopyMs, source!.durationMs * COPY_FIGURES.copyTimeFactor);
    this.counter += 1;
    const copy: SimulatedSnapshot = {
      SnapshotId: `snap-0c${this.counter.toString(16).padStart(15, '0')}`,
      VolumeId: 'vol-ffffffff',
      VolumeSize: source!.VolumeSize,
      Description: description,
      Encrypted: Boolean(input.Encrypted) || source!.Encrypted,
      KmsKeyId: Boolean(input.Encrypted) || source!.Encrypted ? (input.KmsKeyId ?? 'alias/aws/ebs') : undefined,
      StartTime: new Date(now),
      Tags: structuredClone(input.TagSpecifications?.find((s: { ResourceType: string }) => s.ResourceType === 'snapshot')?.Tags ?? []),
      durationMs,
      neverFinish: false,
      deleted: false,
    };
    if (this.nextCopyFails !== undefined) {
      copy.failAt = now + Math.floor(durationMs / 2);
      copy.failMessage = this.nextCopyFails;
      this.nextCopyFails = undefined;
    }
    this.destination.snapshots.set(copy.SnapshotId, copy);
    this.copies.set(copy.SnapshotId, { sourceRegion: input.SourceRegion, sourceSnapshotId: source!.SnapshotId });
    return { SnapshotId: copy.SnapshotId, Tags: structuredClone(copy.Tags) };
  }
}
