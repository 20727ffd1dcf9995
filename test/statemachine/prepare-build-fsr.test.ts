/** prepare-build's part of Fast Snapshot Restore: the setting's layers, its default limit, and the budget it needs. */
import { describe, expect, it } from 'vitest';
import { parseExecutionInput, planBuild } from '../../functions/prepare-build';
import { buildDefaultsSchema } from '../../functions/lib/build-defaults';
import { defaultFastSnapshotRestoreSeconds } from '../../functions/lib/fast-snapshot-restore';

const defaults = buildDefaultsSchema.parse({});
const NGINX = 'public.ecr.aws/docker/library/nginx:1.27';
const plan = (input: Record<string, unknown>, deployed = defaults) => planBuild('exec-1', parseExecutionInput({ images: [NGINX], ...input }), deployed);
/** The default waits leave no room for FSR in the default 4-hour execution (see the budget tests below). */
const ROOM = { snapshotSeconds: 3600 };

describe('prepare-build: fastSnapshotRestore', () => {
  it('puts the zones and the default limit (60 min per TiB + 1800 s) on every build', () => {
    // Act
    const [build] = plan({ fastSnapshotRestore: { availabilityZones: ['us-west-2a', 'us-west-2b'] }, limits: ROOM, dataVolume: { sizeGiB: 200 } }).builds;

    // Assess
    expect(build!.fastSnapshotRestore).toEqual({ availabilityZones: ['us-west-2a', 'us-west-2b'] });
    expect(build!.limits.fastSnapshotRestoreSeconds).toBe(Math.ceil((200 * 3600) / 1024) + 1800);
    expect(defaultFastSnapshotRestoreSeconds(1024)).toBe(5400);
  });

  it('takes the deployed default, and an empty list in the input turns it off', () => {
    // Prepare
    const deployed = buildDefaultsSchema.parse({ fastSnapshotRestore: { availabilityZones: ['eu-west-1a'] }, limits: ROOM });

    // Act
    const [withDefault] = plan({}, deployed).builds;
    const [turnedOff] = plan({ fastSnapshotRestore: { availabilityZones: [] } }, deployed).builds;

    // Assess
    expect(withDefault!.fastSnapshotRestore).toEqual({ availabilityZones: ['eu-west-1a'] });
    expect(turnedOff!.fastSnapshotRestore).toBeUndefined();
    expect(turnedOff!.limits.fastSnapshotRestoreSeconds).toBeUndefined();
  });

  it('fails when a zone is not an Availability Zone name, naming the field', () => {
    expect(() => plan({ fastSnapshotRestore: { availabilityZones: ['us-west-2'] } })).toThrow(
      expect.objectContaining({ name: 'InvalidInputError', message: expect.stringContaining('fastSnapshotRestore.availabilityZones.0: expected an Availability Zone name') }),
    );
  });

  it('fails when a zone is listed twice', () => {
    expect(() => plan({ fastSnapshotRestore: { availabilityZones: ['us-west-2a', 'us-west-2a'] } })).toThrow(expect.objectContaining({ message: expect.stringContaining('lists us-west-2a more than once') }));
  });

  it('fails when the FSR wait does not fit the execution with the default waits, naming limits.fastSnapshotRestoreSeconds and where its value came from', () => {
    expect(() => plan({ fastSnapshotRestore: { availabilityZones: ['us-west-2a'] } })).toThrow(
      expect.objectContaining({
        name: 'InvalidInputError',
        message: expect.stringMatching(/limits\.fastSnapshotRestoreSeconds is 2152 \(the default: 60 min per TiB of dataVolume\.sizeGiB \+ 1800 s\).*time limit of 14400 s/),
      }),
    );
  });

  it('fails when limits.fastSnapshotRestoreSeconds is below 300', () => {
    expect(() => plan({ fastSnapshotRestore: { availabilityZones: ['us-west-2a'] }, limits: { fastSnapshotRestoreSeconds: 60 } })).toThrow(
      expect.objectContaining({ message: expect.stringContaining('limits.fastSnapshotRestoreSeconds') }),
    );
  });
});
