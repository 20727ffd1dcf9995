/**
 * Simulated public registries (Docker Hub, public.ecr.aws, ghcr.io, quay.io, registry.k8s.io...) for the
 * local simulation, so digest resolution never reaches the internet. Install with
 * `useRegistryLookup(registries.lookup)` (functions/lib/digests.ts); private ECR references keep going
 * through the simulated ECR API.
 */
import { ImageNotFoundError, RegistryUnavailableError } from '../functions/lib/errors';
import { parseReference, platformDigests, type RegistryLookup } from '../functions/lib/digests';
import { makeImage, type SimulatedImage } from './aws/ecr';

export class SimulatedRegistries {
  /** `<registry>/<repository>:<tag>` -> image; digests of every manifest it holds. */
  private readonly tags = new Map<string, SimulatedImage & { manifests: Record<string, string> }>();
  /** Registry hosts that answer 503 (a registry that is down). */
  readonly down = new Set<string>();
  /** Every lookup, in order: `<registry>/<repository>:<tag>`. */
  readonly lookups: string[] = [];
  private pushes = 0;

  /** Publishes `reference` (with a tag); each call is new content unless `seed` repeats. */
  push(reference: string, options: { platforms?: string[]; seed?: string; sizeBytes?: number } = {}): SimulatedImage {
    this.pushes += 1;
    const parsed = parseReference(reference);
    const image = makeImage(options.platforms ?? ['linux/amd64', 'linux/arm64'], options.seed ?? `${reference}#${this.pushes}`, options.sizeBytes);
    this.tags.set(`${parsed.registry}/${parsed.repository}:${parsed.tag}`, image);
    return image;
  }

  readonly lookup: RegistryLookup = async (parsed, reference, platforms) => {
    const key = `${parsed.registry}/${parsed.repository}:${parsed.tag}`;
    this.lookups.push(key);
    if (this.down.has(parsed.registry)) throw new RegistryUnavailableError(`Registry ${parsed.registry} answered 503 for ${reference}.`);
    const image = this.tags.get(key);
    if (!image) throw new ImageNotFoundError(`Image ${reference} does not exist (${parsed.registry} answered 404 for ${parsed.tag}).`);
    return { reference, digest: image.digest, mediaType: image.mediaType, platforms: platformDigests(reference, image.digest, image.manifest, platforms) };
  };
}
