/**
 * Image references: parsed and validated with the distribution reference grammar
 * (distribution/reference, `reference.go`), then normalised the way Docker and containerd's CRI do.
 *
 * ```
 * reference       := name [ ":" tag ] [ "@" digest ]
 * name            := [ domain "/" ] path-component [ "/" path-component ]*     (at most 255 characters)
 * domain          := domain-component [ "." domain-component ]* [ ":" port-number ]
 * domain-component:= /([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])/
 * path-component  := [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*
 * tag             := /[\w][\w.-]{0,127}/
 * digest          := sha256 ":" 64 lowercase hex | sha512 ":" 128 lowercase hex
 * ```
 *
 * Normalisation (Docker Hub short names): the first component is a registry only when it contains `.` or `:`
 * or is `localhost`; otherwise the image is on Docker Hub (`docker.io`), and a one-component name gets the
 * `library/` namespace. Without tag and digest, the tag is `latest`. So `nginx` is
 * `docker.io/library/nginx:latest`, `bitnami/redis:7` is `docker.io/bitnami/redis:7`, and
 * `index.docker.io/x/y` is `docker.io/x/y:latest`. A digest-pinned reference keeps its tag if it has one.
 *
 * Not accepted (stricter than the grammar, on purpose): IPv6 registry addresses, digest algorithms other than
 * sha256/sha512, and uppercase hex. None of the accepted characters has a meaning to a shell except `:`/`/`/`.`
 * /`-`/`_`/`@`, and the pull script single-quotes every value anyway (see docs/pull-script.md).
 */
import { InvalidImageReferenceError } from './errors';

const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN = `${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*(?::[0-9]{1,5})?`;
const PATH_COMPONENT = '[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*';
const TAG = '[\\w][\\w.-]{0,127}';

const DOMAIN_RE = new RegExp(`^${DOMAIN}$`);
const PATH_COMPONENT_RE = new RegExp(`^${PATH_COMPONENT}$`);
const TAG_RE = new RegExp(`^${TAG}$`);
const DIGEST_RE = /^(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})$/;

export const NAME_MAX_LENGTH = 255;
const DOCKER_HUB = 'docker.io';

/** A reference that passed {@link parseImageReference}; only the parser creates these. */
export interface ImageReference {
  /** Registry host[:port], e.g. `docker.io`, `123456789012.dkr.ecr.us-west-2.amazonaws.com`. */
  readonly domain: string;
  /** Repository path, e.g. `library/nginx`. */
  readonly path: string;
  readonly tag?: string;
  readonly digest?: string;
  /** `domain/path` */
  readonly name: string;
  /** Fully normalised reference, what containerd names the image: `domain/path[:tag][@digest]`. */
  readonly normalized: string;
  /** What the user wrote. */
  readonly original: string;
}

const validated = new WeakSet<ImageReference>();

const reject = (reference: string, problem: string): never => {
  const shown = JSON.stringify(reference.length > 300 ? `${reference.slice(0, 300)}…` : reference);
  throw new InvalidImageReferenceError(`image reference ${shown} is invalid: ${problem}`);
};

/**
 * Parses, validates and normalises an image reference.
 *
 * @throws InvalidImageReferenceError naming the reference and what is wrong with it.
 * @example
 * parseImageReference('nginx').normalized; // 'docker.io/library/nginx:latest'
 */
export const parseImageReference = (input: string): ImageReference => {
  if (typeof input !== 'string' || input.length === 0) return reject(String(input), 'it is empty');
  if (input.length > NAME_MAX_LENGTH + 1 + 128 + 1 + 7 + 128) return reject(input, 'it is too long');
  // Any character outside the grammar's alphabet is refused up front with a clear message
  // (whitespace, quotes, `$`, `;`, `|`, backticks, newlines, non-ASCII...).
  const bad = /[^A-Za-z0-9._\-/:@]/.exec(input);
  if (bad) return reject(input, `character ${JSON.stringify(bad[0])} at position ${bad.index} is not allowed in an image reference`);

  let rest = input;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST_RE.test(digest)) {
      return reject(input, `digest "${digest}" must be sha256:<64 lowercase hex> (or sha512:<128 lowercase hex>)`);
    }
  }

  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG_RE.test(tag)) return reject(input, `tag "${tag}" must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`);
  }

  if (rest.length === 0) return reject(input, 'the repository name is empty');
  if (rest.length > NAME_MAX_LENGTH) return reject(input, `the repository name is longer than ${NAME_MAX_LENGTH} characters`);

  const components = rest.split('/');
  let domain = DOCKER_HUB;
  const first = components[0] ?? '';
  if (components.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost')) {
    domain = first;
    components.shift();
    if (!DOMAIN_RE.test(domain)) return reject(input, `registry "${domain}" is not a valid host[:port]`);
    const port = domain.split(':')[1];
    if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) return reject(input, `registry port ${port} is out of range`);
  }
  if (domain === 'index.docker.io') domain = DOCKER_HUB;

  for (const component of components) {
    if (component.length === 0) return reject(input, 'the repository path has an empty component (double or trailing "/")');
    if (component !== component.toLowerCase() && PATH_COMPONENT_RE.test(component.toLowerCase())) {
      return reject(input, `repository path "${components.join('/')}" must be lowercase`);
    }
    if (!PATH_COMPONENT_RE.test(component)) {
      return reject(input, `repository path component "${component}" must be lowercase letters and digits separated by ".", "_", "__" or "-"`);
    }
  }
  if (domain === DOCKER_HUB && components.length === 1) components.unshift('library');

  const path = components.join('/');
  const name = `${domain}/${path}`;
  if (name.length > NAME_MAX_LENGTH) return reject(input, `the normalised name ${name} is longer than ${NAME_MAX_LENGTH} characters`);
  if (tag === undefined && digest === undefined) tag = 'latest';
  const normalized = `${name}${tag !== undefined ? `:${tag}` : ''}${digest !== undefined ? `@${digest}` : ''}`;

  const reference: ImageReference = Object.freeze({ domain, path, tag, digest, name, normalized, original: input });
  validated.add(reference);
  return reference;
};

/** True when `value` came out of {@link parseImageReference} (not a look-alike object). */
export const isValidatedReference = (value: unknown): value is ImageReference =>
  typeof value === 'object' && value !== null && validated.has(value as ImageReference);

const ECR_DOMAIN_RE = /^[0-9]{12}\.dkr\.ecr(-fips)?\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$/;

/** Private Amazon ECR registries (`<account>.dkr.ecr[-fips].<region>.amazonaws.com[.cn]`): pulled with the instance role. */
export const isEcrDomain = (domain: string): boolean => ECR_DOMAIN_RE.test(domain);

/** Two entries of an image list that name the same image. */
export interface DuplicateImage {
  /** The two spellings, as written, and their 0-based positions in the list. */
  first: { spelling: string; index: number };
  second: { spelling: string; index: number };
  /** What both normalise to. */
  normalized: string;
}

/**
 * The first pair of entries naming the same image once normalised (`nginx`, `docker.io/library/nginx:latest` and
 * `index.docker.io/library/nginx` are one image), or undefined. References that only look alike (another tag,
 * registry or namespace) are different images.
 *
 * @throws InvalidImageReferenceError for the first invalid reference, before any duplicate is looked for past it.
 * @example findDuplicateImage(['nginx', 'redis', 'docker.io/library/nginx']).normalized // 'docker.io/library/nginx:latest'
 */
export const findDuplicateImage = (images: readonly string[]): DuplicateImage | undefined => {
  const seen = new Map<string, { spelling: string; index: number }>();
  for (const [index, spelling] of images.entries()) {
    const { normalized } = parseImageReference(spelling);
    const first = seen.get(normalized);
    if (first) return { first, second: { spelling, index }, normalized };
    seen.set(normalized, { spelling, index });
  }
  return undefined;
};

/** Says what {@link findDuplicateImage} found, naming both spellings and their positions (1-based). */
export const describeDuplicateImage = ({ first, second, normalized }: DuplicateImage): string =>
  `${first.spelling === second.spelling ? `"${first.spelling}" twice` : `"${first.spelling}" and "${second.spelling}", the same image`} ` +
  `(${normalized}; entries ${first.index + 1} and ${second.index + 1})`;
