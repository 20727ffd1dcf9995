/** prepare-build's part of cross-region copies: the setting's layers, its validation, and the budget it needs. */
import { describe, expect, it } from 'vitest';
import { parseExecutionInput, planBuild } from '../../functions/prepare-build';
import { buildDefaultsSchema } from '../../functions/lib/build-defaults';
import { DEFAULT_COPY_SECONDS } from '../../functions/lib/snapshot-copies';

const NGINX = 'public.ecr.aws/docker/library/nginx:1.27';
/** The default waits leave no room for a copy wait in the default 4-hour execution (see the budget test below). */
const ROOM = { snapshotSeconds: 3600, pullSeconds: 3600, ssmOnlineSeconds: 300 };
const defaults = buildDefaultsSchema.parse({ limits: ROOM, pull: { commandTimeoutSeconds: 3000 } });
const plan = (input: Record<string, unknown>, deployed = defaults) => planBuild('exec-1', parseExecutionInput({ images: [NGINX], ...input }), deployed);
const KEY = 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';

describe('prepare-build: copies', () => {
  it('puts the copies and the default limit on every build', () => {
    // Act
    const builds = plan({ architectures: ['x86_64', 'arm64'], copies: [{ region: 'eu-west-1', kmsKeyArn: KEY }, { region: 'ap-south-1' }] }).builds;

    // Assess
    expect(builds.map((b) => b.copies)).toEqual([
      [{ region: 'eu-west-1', kmsKeyArn: KEY }, { region: 'ap-south-1' }],
      [{ region: 'eu-west-1', kmsKeyArn: KEY }, { region: 'ap-south-1' }],
    ]);
    expect(builds.map((b) => b.limits.copySeconds)).toEqual([DEFAULT_COPY_SECONDS, DEFAULT_COPY_SECONDS]);
  });

  it('fails when snapshots are shared and a copy has no kmsKeyArn, naming its region, and accepts the copy with a key', () => {
    // Prepare: unencrypted at home, so only the copies' keys are in question.
    const input = { dataVolume: { encrypted: false }, sharing: { accountIds: ['222233334444'] } };
    // Act / Assess
    expect(() => plan({ ...input, copies: [{ region: 'eu-west-1', kmsKeyArn: KEY }, { region: 'ap-south-1' }] })).toThrow(
      /the copies in ap-south-1 would be encrypted with that region's default aws\/ebs key, which cannot be shared/,
    );
    expect(plan({ ...input, copies: [{ region: 'eu-west-1', kmsKeyArn: KEY }] }).builds).toHaveLength(1);
  });

  it('takes the deployed default, and an empty list in the input turns it off', () => {
    // Prepare
    const deployed = buildDefaultsSchema.parse({ copies: [{ region: 'eu-west-1' }], limits: { ...ROOM, copySeconds: 1200 }, pull: { commandTimeoutSeconds: 3000 } });

    // Act
    const [withDefault] = plan({}, deployed).builds;
    const [turnedOff] = plan({ copies: [] }, deployed).builds;

    // Assess
    expect(withDefault!.copies).toEqual([{ region: 'eu-west-1' }]);
    expect(withDefault!.limits.copySeconds).toBe(1200);
    expect(turnedOff!.copies).toBeUndefined();
    expect(turnedOff!.limits.copySeconds).toBeUndefined();
  });

  it('fails when a region is not a region name, naming the field', () => {
    expect(() => plan({ copies: [{ region: 'eu-west-1a' }] })).toThrow(
      expect.objectContaining({ name: 'InvalidInputError', message: expect.stringContaining('copies.0.region: expected a region name') }),
    );
  });

  it('fails when a region is listed twice', () => {
    expect(() => plan({ copies: [{ region: 'eu-west-1' }, { region: 'eu-west-1' }] })).toThrow(
      expect.objectContaining({ name: 'InvalidInputError', message: expect.stringContaining('lists eu-west-1 more than once') }),
    );
  });

  it("fails when a copy goes to the factory's own region", () => {
    expect(() => plan({ copies: [{ region: process.env.AWS_REGION! }] })).toThrow(
      expect.objectContaining({ name: 'InvalidInputError', message: expect.stringContaining(`copies lists ${process.env.AWS_REGION}, the factory's own region`) }),
    );
  });

  it('fails when the key is of another region, naming both', () => {
    expect(() => plan({ copies: [{ region: 'ap-south-1', kmsKeyArn: KEY }] })).toThrow(
      expect.objectContaining({ name: 'InvalidInputError', message: expect.stringContaining('copies.0.kmsKeyArn: is a key of eu-west-1, but the copy goes to ap-south-1') }),
    );
  });

  it('fails when the key is an alias, not a key ARN', () => {
    expect(() => plan({ copies: [{ region: 'eu-west-1', kmsKeyArn: 'arn:aws:kms:eu-west-1:111122223333:alias/aws/ebs' }] })).toThrow(
      expect.objectContaining({ name: 'InvalidInputError', message: expect.stringContaining('copies.0.kmsKeyArn: expected a KMS key ARN') }),
    );
  });

  it('fails when the copy wait does not fit the execution with the default waits, naming limits.copySeconds', () => {
    expect(() => plan({ copies: [{ region: 'eu-west-1' }] }, buildDefaultsSchema.parse({}))).toThrow(
      expect.objectContaining({ name: 'InvalidInputError', message: expect.stringMatching(/limits\.copySeconds is 3600 \(the default, 3600 s\).*time limit of 14400 s/) }),
    );
  });
});
