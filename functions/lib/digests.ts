/**
 * Resolves image references to manifest digests, per platform, before anything launches.
 *
 * - Pinned references (`repo@sha256:...`) need no lookup: the pinned digest stands for every platform.
 * - Private ECR (`<account>.dkr.ecr.<region>.amazonaws.com/...`) goes through the ECR API (BatchGetImage),
 *   with the factory's IAM role.
 * - Every other registry (Docker Hub, public.ecr.aws, ghcr.io, registry.k8s.io, quay.io, ...) goes through the
 *   registry HTTP API v2 with the anonymous bearer-token flow (`WWW-Authenticate: Bearer realm,service,scope`),
 *   or HTTP Basic when a credential for that host is configured.
 *
 * A multi-platform index yields one digest per requested platform; a single manifest stands for every platform.
 * A tag, digest or platform that does not exist -> {@link ImageNotFoundError} (terminal); a registry that cannot
 * be reached or answers 5xx/429 -> {@link RegistryUnavailableError} (retryable).
 */
import { createHash } from 'node:crypto';
import { BatchGetImageCommand, type ECRClient } from '@aws-sdk/client-ecr';
import { ecr as defaultEcr } from './clients/ecr';
import { ImageNotFoundError, InvalidImageReferenceError, RegistryUnavailableError, callAws } from './errors';
import { isEcrDomain, parseImageReference } from './image-reference';

/** A reference split per the distribution grammar, with Docker Hub's defaults applied. */
export interface ParsedReference {
  /** Registry host as written (`docker.io` when none was). */
  registry: string;
  repository: string;
  tag?: string;
  digest?: string;
}

/**
 * Splits an image reference with B's parser (functions/lib/image-reference.ts, the distribution grammar),
 * Docker Hub defaults applied.
 *
 * @throws InvalidImageReferenceError naming the reference.
 * @example parseReference('nginx') // { registry: 'docker.io', repository: 'library/nginx', tag: 'latest', digest: undefined }
 */
export const parseReference = (reference: string): ParsedReference => {
  const parsed = parseImageReference(reference);
  return { registry: parsed.domain, repository: parsed.path, tag: parsed.tag, digest: parsed.digest };
};

/** One image resolved: the digest to pull (index or manifest) and the manifest each platform runs. */
export interface ResolvedImage {
  reference: string;
  /** Digest of what the reference names: an index for multi-platform images. */
  digest: string;
  mediaType?: string;
  /** Manifest digest per requested platform (`linux/amd64`...). */
  platforms: Record<string, string>;
}

/** Looks up one reference in its registry; injectable so the simulation never reaches the internet. */
export type RegistryLookup = (parsed: ParsedReference, reference: string, platforms: readonly string[]) => Promise<ResolvedImage>;

export interface DigestResolverOptions {
  /** ECR client for private ECR references; default the factory's shared client. */
  ecr?: ECRClient;
  /** Resolver for every non-ECR registry; default the HTTP API v2 client. The simulation passes its own. */
  registryLookup?: RegistryLookup;
  /** `fetch` used by the HTTP client; default Node's global fetch. */
  fetch?: typeof fetch;
  /** Loopback registries reached over plain http (tests only): `127.0.0.1:5000`. Non-loopback hosts are refused. */
  plainHttpHosts?: readonly string[];
  /** Basic credentials per registry host, for private registries. */
  credentials?: Record<string, { username: string; password: string }>;
  /** Time allowed for each registry request before it counts as unavailable. @default 10000 */
  timeoutMs?: number;
}

export const MANIFEST_ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
];

const ECR_ACCOUNT = /^(\d{12})\./;
const ECR_REGION = /\.dkr\.ecr(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com/;

/** True for private ECR registry hosts. */
export const isPrivateEcr = (registry: string): boolean => isEcrDomain(registry);

interface IndexManifest {
  mediaType?: string;
  manifests?: { digest: string; platform?: { os?: string; architecture?: string; variant?: string } }[];
}

/** Maps each requested platform to its manifest in an index, or the single manifest to every platform. */
export const platformDigests = (reference: string, digest: string, body: string, platforms: readonly string[]): Record<string, string> => {
  let manifest: IndexManifest;
  try {
    manifest = JSON.parse(body) as IndexManifest;
  } catch {
    throw new RegistryUnavailableError(`The registry returned a manifest for ${reference} that is not JSON.`);
  }
  const result: Record<string, string> = {};
  if (!Array.isArray(manifest.manifests)) {
    for (const platform of platforms) result[platform] = digest;
    return result;
  }
  for (const platform of platforms) {
    const [os, architecture] = platform.split('/');
    const match = manifest.manifests.find(
      (m) => m.platform?.os === os && m.platform?.architecture === architecture && (architecture !== 'arm64' || !m.platform?.variant || m.platform.variant === 'v8'),
    );
    if (!match) {
      const offered = manifest.manifests.map((m) => `${m.platform?.os}/${m.platform?.architecture}`).join(', ');
      throw new ImageNotFoundError(`Image ${reference} has no ${platform} manifest (it offers ${offered || 'none'}).`);
    }
    result[platform] = match.digest;
  }
  return result;
};

const sha256 = (text: string): string => `sha256:${createHash('sha256').update(text).digest('hex')}`;

/** Resolves through the registry HTTP API v2, with the bearer-token (anonymous or Basic-authenticated) flow. */
export const httpRegistryLookup = (options: Pick<DigestResolverOptions, 'fetch' | 'plainHttpHosts' | 'credentials' | 'timeoutMs'> = {}): RegistryLookup => {
  const doFetch = options.fetch ?? fetch;
  const plain = new Set(options.plainHttpHosts ?? []);
  for (const host of plain) {
    if (!/^(127\.0\.0\.1|localhost|\[::1\])(:\d+)?$/.test(host)) {
      throw new InvalidImageReferenceError(`Plain http is only for loopback test registries, not ${host}.`);
    }
  }
  const tokens = new Map<string, string>();

  const request = async (url: string, init: RequestInit, reference: string): Promise<Response> => {
    try {
      // A registry that accepts the connection and never answers must not hold the Lambda until its own timeout.
      return await doFetch(url, { ...init, signal: AbortSignal.timeout(options.timeoutMs ?? 10_000) });
    } catch (error) {
      throw new RegistryUnavailableError(`Registry for ${reference} is unreachable (${url}): ${(error as Error).message}`, { cause: error });
    }
  };

  const fetchToken = async (challenge: string, host: string, scope: string, reference: string): Promise<string> => {
    const params = Object.fromEntries([...challenge.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [(m[1] ?? '').toLowerCase(), m[2] ?? '']));
    if (!params.realm) throw new RegistryUnavailableError(`Registry ${host} sent a Bearer challenge without a realm.`);
    const url = new URL(params.realm);
    if (params.service) url.searchParams.set('service', params.service);
    url.searchParams.set('scope', params.scope ?? scope);
    const credential = options.credentials?.[host];
    const headers: Record<string, string> = credential ? { Authorization: basic(credential) } : {};
    const response = await request(url.toString(), { headers }, reference);
    if (response.status >= 500 || response.status === 429) {
      throw new RegistryUnavailableError(`Token service of ${host} answered ${response.status} for ${reference}.`);
    }
    if (!response.ok) throw new ImageNotFoundError(`Registry ${host} refused a token for ${reference} (${response.status}); is it private?`);
    const body = (await response.json()) as { token?: string; access_token?: string };
    const token = body.token ?? body.access_token;
    if (!token) throw new RegistryUnavailableError(`Token service of ${host} returned no token for ${reference}.`);
    return token;
  };

  return async (parsed, reference, platforms) => {
    const host = parsed.registry === 'docker.io' ? 'registry-1.docker.io' : parsed.registry;
    const scheme = plain.has(host) ? 'http' : 'https';
    const url = `${scheme}://${host}/v2/${parsed.repository}/manifests/${parsed.digest ?? parsed.tag}`;
    const scope = `repository:${parsed.repository}:pull`;
    const tokenKey = `${host} ${scope}`;
    const get = async (authorization?: string) =>
      request(url, { headers: { Accept: MANIFEST_ACCEPT.join(', '), ...(authorization ? { Authorization: authorization } : {}) } }, reference);

    const cached = tokens.get(tokenKey);
    let response = await get(cached);
    if (response.status === 401) {
      const challenge = response.headers.get('www-authenticate') ?? '';
      let authorization: string;
      if (/^bearer\s/i.test(challenge)) {
        authorization = `Bearer ${await fetchToken(challenge, host, scope, reference)}`;
      } else if (/^basic\s/i.test(challenge) && options.credentials?.[host]) {
        authorization = basic(options.credentials[host]);
      } else {
        throw new ImageNotFoundError(`Registry ${host} requires credentials for ${reference} and none are configured.`);
      }
      tokens.set(tokenKey, authorization);
      response = await get(authorization);
    }
    if (response.status === 404) throw new ImageNotFoundError(`Image ${reference} does not exist (${host} answered 404 for ${parsed.digest ?? parsed.tag}).`);
    if (response.status >= 500 || response.status === 429) {
      throw new RegistryUnavailableError(`Registry ${host} answered ${response.status} for ${reference}.`);
    }
    if (!response.ok) throw new ImageNotFoundError(`Registry ${host} refused ${reference} (${response.status}).`);
    const body = await response.text();
    const digest = response.headers.get('docker-content-digest') ?? sha256(body);
    return { reference, digest, mediaType: response.headers.get('content-type') ?? undefined, platforms: platformDigests(reference, digest, body, platforms) };
  };
};

const basic = (credential: { username: string; password: string }): string =>
  `Basic ${Buffer.from(`${credential.username}:${credential.password}`).toString('base64')}`;

/** Resolves through the ECR API: one BatchGetImage per reference. */
export const ecrLookup = (client: ECRClient = defaultEcr): RegistryLookup => async (parsed, reference, platforms) => {
  const [, registryId] = ECR_ACCOUNT.exec(parsed.registry) ?? [];
  // A same-named repository in the functions' region would answer with the wrong image: refuse instead.
  const region = ECR_REGION.exec(parsed.registry)?.[1];
  const clientRegion = await client.config.region();
  if (region && region !== clientRegion) {
    throw new InvalidImageReferenceError(
      `Image ${reference} is in ECR region ${region}; the factory resolves private ECR digests in ${clientRegion} only. Pin it by digest (${parsed.registry}/${parsed.repository}@sha256:...).`,
    );
  }
  const imageId = parsed.digest ? { imageDigest: parsed.digest } : { imageTag: parsed.tag };
  let output;
  try {
    output = await callAws(`ecr:BatchGetImage ${reference}`, () =>
      client.send(new BatchGetImageCommand({ registryId, repositoryName: parsed.repository, imageIds: [imageId], acceptedMediaTypes: MANIFEST_ACCEPT })),
    );
  } catch (error) {
    const code = ((error as Error).cause as Error | undefined)?.name;
    if (code === 'RepositoryNotFoundException') throw new ImageNotFoundError(`Image ${reference}: ECR repository ${parsed.repository} does not exist.`, { cause: error });
    throw error;
  }
  const image = output.images?.[0];
  if (!image?.imageManifest || !image.imageId?.imageDigest) {
    const failure = output.failures?.[0];
    throw new ImageNotFoundError(`Image ${reference} does not exist in ECR (${failure?.failureCode ?? 'no image'}: ${failure?.failureReason ?? ''}).`);
  }
  const digest = image.imageId.imageDigest;
  return { reference, digest, mediaType: image.imageManifestMediaType, platforms: platformDigests(reference, digest, image.imageManifest, platforms) };
};

let overrideLookup: RegistryLookup | undefined;

/**
 * Replaces the non-ECR registry lookup for every resolver created without an explicit one (the simulation
 * uses it so public images never reach the internet). Returns a function that restores the default.
 */
export const useRegistryLookup = (lookup: RegistryLookup): (() => void) => {
  overrideLookup = lookup;
  return () => {
    if (overrideLookup === lookup) overrideLookup = undefined;
  };
};

export type DigestResolver = (reference: string, platforms: readonly string[]) => Promise<ResolvedImage>;

/**
 * Builds the resolver prepare-build and start-build use.
 *
 * @example
 * const resolve = createDigestResolver();
 * const image = await resolve('public.ecr.aws/docker/library/nginx:1.27', ['linux/amd64', 'linux/arm64']);
 */
export const createDigestResolver = (options: DigestResolverOptions = {}): DigestResolver => {
  const ecrResolve = ecrLookup(options.ecr ?? defaultEcr);
  const http = options.registryLookup ? undefined : httpRegistryLookup(options);
  return async (reference, platforms) => {
    const parsed = parseReference(reference);
    if (parsed.digest) {
      return { reference, digest: parsed.digest, platforms: Object.fromEntries(platforms.map((p) => [p, parsed.digest as string])) };
    }
    if (isPrivateEcr(parsed.registry)) return ecrResolve(parsed, reference, platforms);
    const lookup = options.registryLookup ?? overrideLookup ?? (http as RegistryLookup);
    return lookup(parsed, reference, platforms);
  };
};
