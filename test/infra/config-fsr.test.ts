/** The `fastSnapshotRestore` setting and `limits.fastSnapshotRestoreSeconds` (infra/config.ts, infra/snapshot-factory.ts). */
import { describe, expect, it } from 'vitest';
import { parseSettings } from '../../infra/config';
import { factoryDefaults } from '../../infra/snapshot-factory';
import { settingsFailure } from './settings-failure';

const network = { instanceProfileName: 'builder', subnetIds: [], securityGroupIds: [], associatePublicIp: true };
const failure = settingsFailure;

describe('setting fastSnapshotRestore', () => {
  it('becomes the workflow default, with its limit', () => {
    // Act
    const settings = parseSettings({ fastSnapshotRestore: { availabilityZones: ['us-west-2a'] }, limits: { snapshotSeconds: 3600, fastSnapshotRestoreSeconds: 1200 } }, 'test settings');
    const defaults = factoryDefaults(settings, network);

    // Assess
    expect(defaults.fastSnapshotRestore).toEqual({ availabilityZones: ['us-west-2a'] });
    expect(defaults.limits.fastSnapshotRestoreSeconds).toBe(1200);
  });

  it('is absent from the workflow defaults when not set', () => {
    expect(factoryDefaults(parseSettings({}, 'test settings'), network).fastSnapshotRestore).toBeUndefined();
  });

  it('is accepted per recipe', () => {
    const settings = parseSettings({ recipes: [{ name: 'ml', images: ['nginx:1'], fastSnapshotRestore: { availabilityZones: ['us-west-2b'] } }] }, 'test settings');
    expect(settings.recipes[0]!.fastSnapshotRestore).toEqual({ availabilityZones: ['us-west-2b'] });
  });

  it('fails when the FSR wait does not fit the execution time limit, naming both settings', () => {
    expect(failure({ fastSnapshotRestore: { availabilityZones: ['us-west-2a'] } })).toMatch(/fastSnapshotRestore.*needs limits\.executionSeconds of at least \d+ s.*limits\.fastSnapshotRestoreSeconds 2152 s/);
  });

  it('fails when a zone is not an Availability Zone name', () => {
    expect(failure({ fastSnapshotRestore: { availabilityZones: ['west'] } })).toContain('expected an Availability Zone name');
  });
});
