/**
 * The largest execution input the factory accepts, for the payload-budget test and benchmark: as many images as
 * prepare-build allows (`MAX_IMAGES`), each as long as a reference can be (functions/lib/image-reference.ts: a
 * 255-character name, a 128-character tag and, pinned, a sha512 digest: 520 characters; 384 as a tag alone).
 */
import { parseImageReference, NAME_MAX_LENGTH } from '../functions/lib/image-reference';
import { MAX_IMAGES } from '../functions/lib/schemas';

/** distribution/reference's tag grammar allows 128 characters. */
const TAG_MAX_LENGTH = 128;
const REGISTRY = 'registry-with-a-long-name.example.com:5000';

/**
 * `count` distinct references of the longest length: pinned by a sha512 digest (what makes a reference longest),
 * or tag-only (the longest reference whose digests prepare-build must resolve: an index and one manifest per platform).
 *
 * @example longestReferences({ pinned: false })[0].length; // 384
 */
export const longestReferences = ({ count = MAX_IMAGES, pinned = true }: { count?: number; pinned?: boolean } = {}): string[] =>
  Array.from({ length: count }, (_, i) => {
    const id = String(i).padStart(4, '0');
    const path = `team-${id}/${'a'.repeat(NAME_MAX_LENGTH)}`.slice(0, NAME_MAX_LENGTH - REGISTRY.length - 1);
    const tag = `v${id}`.padEnd(TAG_MAX_LENGTH, 'x');
    const digest = `sha512:${id}${'f'.repeat(124)}`;
    const reference = `${REGISTRY}/${path}:${tag}${pinned ? `@${digest}` : ''}`;
    parseImageReference(reference); // the fixture must stay a valid reference if the grammar tightens
    return reference;
  });

/** The execution input of the largest build of a layout: both architectures, the longest references. */
export const maximumInput = (layout: 'per-architecture' | 'combined', options: { pinned?: boolean } = {}) => ({
  images: longestReferences(options),
  architectures: ['x86_64', 'arm64'],
  layout,
});
