import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDigestResolver, parseReference, useRegistryLookup } from '../../functions/lib/digests';
import { startRegistry, type TestRegistry } from '../support/registry';
import { createSimulatedAccount } from '../../simulation/aws/account';
import { installSimulatedAws } from '../../simulation/aws/install';

describe('parseReference', () => {
  it('applies Docker Hub defaults', () => {
    expect(parseReference('nginx')).toEqual({ registry: 'docker.io', repository: 'library/nginx', tag: 'latest', digest: undefined });
  });

  it('keeps the registry host, port, tag and digest', () => {
    const digest = `sha256:${'a'.repeat(64)}`;
    expect(parseReference(`127.0.0.1:5000/team/app:v1@${digest}`)).toEqual({ registry: '127.0.0.1:5000', repository: 'team/app', tag: 'v1', digest });
  });

  it('fails when the repository has upper-case letters', () => {
    expect(() => parseReference('Team/App:v1')).toThrow(expect.objectContaining({ name: 'InvalidImageReferenceError' }));
  });
});

describe('digest resolution against a real registry', () => {
  let open: TestRegistry;
  let locked: TestRegistry;
  let gateway: Server;
  let gatewayHost: string;
  const tokensIssued: string[] = [];

  beforeAll(async () => {
    open = await startRegistry();
    locked = await startRegistry({ auth: { username: 'builder', password: 's3cret' } });
    // A Bearer-token front of the open registry, as Docker Hub, ghcr.io or public.ecr.aws behave:
    // 401 + WWW-Authenticate: Bearer realm/service/scope, an anonymous token endpoint, then the registry's answer.
    gateway = createServer(async (req, res) => {
      const url = new URL(req.url ?? '/', `http://${gatewayHost}`);
      if (url.pathname === '/token') {
        const token = `anon-${url.searchParams.get('scope')}`;
        tokensIssued.push(`${url.searchParams.get('service')} ${url.searchParams.get('scope')}`);
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token }));
        return;
      }
      const repository = /^\/v2\/(.+)\/manifests\//.exec(url.pathname)?.[1];
      if (req.headers.authorization !== `Bearer anon-repository:${repository}:pull`) {
        res
          .writeHead(401, { 'www-authenticate': `Bearer realm="http://${gatewayHost}/token",service="test-registry",scope="repository:${repository}:pull"` })
          .end();
        return;
      }
      const upstream = await fetch(`http://${open.host}${url.pathname}`, { headers: { accept: req.headers.accept ?? '' } });
      res.writeHead(upstream.status, Object.fromEntries(upstream.headers)).end(Buffer.from(await upstream.arrayBuffer()));
    });
    await new Promise<void>((resolve) => gateway.listen(0, '127.0.0.1', resolve));
    const address = gateway.address();
    gatewayHost = `127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  }, 60_000);

  afterAll(async () => {
    await Promise.all([open?.stop(), locked?.stop(), new Promise((resolve) => gateway?.close(resolve))]);
  });

  const resolver = () =>
    createDigestResolver({
      plainHttpHosts: [open.host, locked.host, gatewayHost],
      credentials: { [locked.host]: { username: 'builder', password: 's3cret' } },
    });

  it('resolves a tag to its manifest digest', async () => {
    // Prepare
    const pushed = await open.pushImage('team/app', 'v1');
    // Act
    const resolved = await resolver()(pushed.reference, ['linux/amd64']);
    // Assess
    expect(resolved.digest).toBe(pushed.digest);
    expect(resolved.platforms).toEqual({ 'linux/amd64': pushed.digest });
  });

  it('resolves a multi-platform index to one manifest digest per platform', async () => {
    const pushed = await open.pushImage('team/multi', 'v2', { platforms: ['linux/amd64', 'linux/arm64'] });

    const resolved = await resolver()(pushed.reference, ['linux/amd64', 'linux/arm64']);

    expect(resolved.digest).toBe(pushed.digest);
    expect(resolved.platforms).toEqual(pushed.platformDigests);
    expect(resolved.platforms['linux/amd64']).not.toBe(resolved.platforms['linux/arm64']);
  });

  it('fails with ImageNotFoundError when the index lacks a requested platform', async () => {
    const pushed = await open.pushImage('team/amd-only', 'v1', { platforms: ['linux/amd64'], index: true });

    await expect(resolver()(pushed.reference, ['linux/arm64'])).rejects.toMatchObject({ name: 'ImageNotFoundError', message: expect.stringContaining('linux/arm64') });
  });

  it('fails with ImageNotFoundError naming the image when the tag does not exist', async () => {
    await open.pushImage('team/app', 'v1');
    const reference = `${open.host}/team/app:does-not-exist`;

    await expect(resolver()(reference, ['linux/amd64'])).rejects.toMatchObject({ name: 'ImageNotFoundError', message: expect.stringContaining(reference) });
  });

  it('follows the anonymous Bearer token flow', async () => {
    const pushed = await open.pushImage('team/public', 'v3', { platforms: ['linux/amd64', 'linux/arm64'] });
    tokensIssued.length = 0;

    const resolved = await resolver()(`${gatewayHost}/team/public:v3`, ['linux/arm64']);

    expect(resolved.platforms).toEqual({ 'linux/arm64': pushed.platformDigests['linux/arm64'] });
    expect(tokensIssued).toEqual(['test-registry repository:team/public:pull']);
  });

  it('answers a Basic challenge with the configured credential', async () => {
    const pushed = await locked.pushImage('private/app', 'v1');

    const resolved = await resolver()(pushed.reference, ['linux/amd64']);

    expect(resolved.digest).toBe(pushed.digest);
  });

  it('fails with ImageNotFoundError when a private registry has no configured credential', async () => {
    const pushed = await locked.pushImage('private/app', 'v1');

    await expect(createDigestResolver({ plainHttpHosts: [locked.host] })(pushed.reference, ['linux/amd64'])).rejects.toMatchObject({
      name: 'ImageNotFoundError',
      message: expect.stringContaining('requires credentials'),
    });
  });

  it('fails with RegistryUnavailableError when the registry is down', async () => {
    const down = '127.0.0.1:9'; // discard port: nothing listens
    await expect(createDigestResolver({ plainHttpHosts: [down] })(`${down}/team/app:v1`, ['linux/amd64'])).rejects.toMatchObject({
      name: 'RegistryUnavailableError',
    });
  });

  it('fails with RegistryUnavailableError when the registry accepts the connection but never answers', async () => {
    const silent = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const address = silent.address();
    const host = `127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    try {
      await expect(createDigestResolver({ plainHttpHosts: [host], timeoutMs: 200 })(`${host}/team/app:v1`, ['linux/amd64'])).rejects.toMatchObject({
        name: 'RegistryUnavailableError',
        message: expect.stringContaining('unreachable'),
      });
    } finally {
      silent.closeAllConnections();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('needs no lookup for a reference pinned by digest', async () => {
    const digest = `sha256:${'b'.repeat(64)}`;
    const resolved = await createDigestResolver({ fetch: () => Promise.reject(new Error('no network')) })(`quay.io/team/app@${digest}`, ['linux/amd64', 'linux/arm64']);
    expect(resolved).toMatchObject({ digest, platforms: { 'linux/amd64': digest, 'linux/arm64': digest } });
  });

  it('refuses plain http for a non-loopback host', () => {
    expect(() => createDigestResolver({ plainHttpHosts: ['registry.example.com'] })).toThrow(/loopback/);
  });
});

describe('digest resolution of private ECR through the ECR API (simulated)', () => {
  it('resolves a tag and a multi-platform index, and names a missing tag or repository', async () => {
    // Prepare
    const account = createSimulatedAccount();
    const { ecr } = account;
    const uninstall = installSimulatedAws(account.core);
    const restoreLookup = useRegistryLookup(() => Promise.reject(new Error('public lookup must not be used for ECR')));
    try {
      const pushed = ecr.pushImage('team/model', 'v1', { platforms: ['linux/amd64', 'linux/arm64'] });
      const host = `${account.core.accountId}.dkr.ecr.${account.core.region}.amazonaws.com`;
      const resolve = createDigestResolver();
      // Act
      const resolved = await resolve(`${host}/team/model:v1`, ['linux/amd64', 'linux/arm64']);
      // Assess
      expect(resolved.digest).toBe(pushed.digest);
      expect(resolved.platforms).toEqual(pushed.platformDigests);
      await expect(resolve(`${host}/team/model:nope`, ['linux/amd64'])).rejects.toMatchObject({ name: 'ImageNotFoundError', message: expect.stringContaining('team/model:nope') });
      await expect(resolve(`${host}/team/missing:v1`, ['linux/amd64'])).rejects.toMatchObject({ name: 'ImageNotFoundError', message: expect.stringContaining('does not exist') });
      await expect(resolve(`${account.core.accountId}.dkr.ecr.eu-west-1.amazonaws.com/team/model:v1`, ['linux/amd64'])).rejects.toMatchObject({
        name: 'InvalidImageReferenceError',
        message: expect.stringContaining('Pin it by digest'),
      });
      expect(account.core.callsOf('ecr', 'BatchGetImage')).toHaveLength(3);
    } finally {
      restoreLookup();
      uninstall();
    }
  });
});
