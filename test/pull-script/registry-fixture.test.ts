import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRegistry, type TestRegistry } from '../support/registry';

describe('test registry fixture', () => {
  let open: TestRegistry;
  let closed: TestRegistry;
  beforeAll(async () => {
    [open, closed] = await Promise.all([startRegistry(), startRegistry({ auth: { username: 'puller', password: 's3cret' } })]);
  });
  afterAll(async () => {
    await Promise.all([open?.stop(), closed?.stop()]);
  });

  it('pushes a single-platform image whose digest the registry serves', async () => {
    // Act
    const pushed = await open.pushImage('team/app', 'v1');
    // Assess
    expect(pushed.reference).toBe(`${open.host}/team/app:v1`);
    expect(pushed.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(pushed.platformDigests['linux/amd64']).toBe(pushed.digest);
    expect(await open.headDigest('team/app', 'v1')).toBe(pushed.digest);
  });

  it('pushes a multi-platform index with one manifest per platform', async () => {
    const pushed = await open.pushImage('team/multi', 'v2', { platforms: ['linux/amd64', 'linux/arm64'] });
    expect(pushed.mediaType).toBe('application/vnd.oci.image.index.v1+json');
    expect(Object.keys(pushed.platformDigests)).toEqual(['linux/amd64', 'linux/arm64']);
    expect(pushed.platformDigests['linux/amd64']).not.toBe(pushed.platformDigests['linux/arm64']);
    expect(await open.headDigest('team/multi', pushed.platformDigests['linux/arm64']!)).toBe(pushed.platformDigests['linux/arm64']);
  });

  it('refuses anonymous reads on the htpasswd registry and accepts the credentials', async () => {
    const pushed = await closed.pushImage('private/app', 'v1');
    const anonymous = await fetch(`http://${closed.host}/v2/private/app/manifests/v1`, { method: 'HEAD' });
    expect(anonymous.status).toBe(401);
    expect(await closed.headDigest('private/app', 'v1')).toBe(pushed.digest);
  });

  it('reports an unknown tag as missing', async () => {
    expect(await open.headDigest('team/app', 'nope')).toBeUndefined();
  });
});
