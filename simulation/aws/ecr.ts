/**
 * Simulated private ECR: repositories of images (single manifests or multi-platform indexes) answering
 * DescribeImages and BatchGetImage like ECR: `RepositoryNotFoundException` for an unknown repository,
 * per-image `failures` (`ImageNotFound`) in BatchGetImage, `ImageNotFoundException` in DescribeImages.
 */
import { createHash } from 'node:crypto';
import { AwsServiceError, type SimulatedAwsCore } from './core';

export interface SimulatedImage {
  /** What a tag resolves to: the index for several platforms, else the manifest. */
  digest: string;
  mediaType: string;
  manifest: string;
  platformDigests: Record<string, string>;
  /** Per-platform image size in bytes. */
  platformSizes: Record<string, number>;
}

const INDEX = 'application/vnd.oci.image.index.v1+json';
const MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

const digestOf = (text: string): string => `sha256:${createHash('sha256').update(text).digest('hex')}`;

/**
 * Builds an image's manifests without storing them: deterministic in `seed`, so a push with a new seed
 * is a new image (a changed digest).
 */
export const makeImage = (platforms: readonly string[], seed: string, sizeBytes = 50 * 1024 * 1024): SimulatedImage & { manifests: Record<string, string> } => {
  const manifests: Record<string, string> = {};
  const platformDigests: Record<string, string> = {};
  const platformSizes: Record<string, number> = {};
  for (const platform of platforms) {
    const layer = digestOf(`${seed} ${platform} layer`);
    const manifest = JSON.stringify({
      schemaVersion: 2,
      mediaType: MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: digestOf(`${seed} ${platform} config`), size: 1024 },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layer, size: sizeBytes }],
    });
    const digest = digestOf(manifest);
    manifests[digest] = manifest;
    platformDigests[platform] = digest;
    platformSizes[platform] = sizeBytes + 1024;
  }
  if (platforms.length === 1) {
    const digest = platformDigests[platforms[0] as string] as string;
    return { digest, mediaType: MANIFEST, manifest: manifests[digest] as string, platformDigests, platformSizes, manifests };
  }
  const index = JSON.stringify({
    schemaVersion: 2,
    mediaType: INDEX,
    manifests: platforms.map((platform) => {
      const [os, architecture] = platform.split('/');
      const digest = platformDigests[platform] as string;
      return { mediaType: MANIFEST, digest, size: (manifests[digest] as string).length, platform: { os, architecture } };
    }),
  });
  const digest = digestOf(index);
  manifests[digest] = index;
  return { digest, mediaType: INDEX, manifest: index, platformDigests, platformSizes, manifests };
};

interface Repository {
  name: string;
  tags: Map<string, string>;
  manifests: Map<string, { manifest: string; mediaType: string; pushedAt: Date; sizeBytes: number }>;
}

interface ImageId {
  imageTag?: string;
  imageDigest?: string;
}

export class SimulatedEcr {
  readonly repositories = new Map<string, Repository>();
  private pushes = 0;

  constructor(private readonly core: SimulatedAwsCore) {
    core.register('ecr', {
      BatchGetImage: (input: { repositoryName: string; imageIds: ImageId[]; acceptedMediaTypes?: string[] }) => this.batchGetImage(input),
      DescribeImages: (input: { repositoryName: string; imageIds?: ImageId[] }) => this.describeImages(input),
    });
  }

  /** Pushes an image (creating the repository); each push has new content unless `seed` repeats. */
  pushImage(repositoryName: string, tag: string, options: { platforms?: string[]; seed?: string; sizeBytes?: number } = {}): SimulatedImage {
    this.pushes += 1;
    const image = makeImage(options.platforms ?? ['linux/amd64'], options.seed ?? `${repositoryName}:${tag}#${this.pushes}`, options.sizeBytes);
    const repository = this.repository(repositoryName, true);
    for (const [digest, manifest] of Object.entries(image.manifests)) {
      const mediaType = digest === image.digest ? image.mediaType : MANIFEST;
      repository.manifests.set(digest, { manifest, mediaType, pushedAt: new Date(Date.now()), sizeBytes: Object.values(image.platformSizes)[0] ?? 0 });
    }
    repository.tags.set(tag, image.digest);
    return image;
  }

  /** The ECR event AWS sends for a successful push (detail-type `ECR Image Action`). */
  pushEvent(repositoryName: string, tag: string, digest: string): Record<string, unknown> {
    return {
      version: '0',
      id: `sim-${this.pushes}`,
      'detail-type': 'ECR Image Action',
      source: 'aws.ecr',
      account: this.core.accountId,
      time: new Date(Date.now()).toISOString(),
      region: this.core.region,
      resources: [`arn:aws:ecr:${this.core.region}:${this.core.accountId}:repository/${repositoryName}`],
      detail: { result: 'SUCCESS', 'repository-name': repositoryName, 'image-digest': digest, 'action-type': 'PUSH', 'image-tag': tag },
    };
  }

  private repository(name: string, create = false): Repository {
    let repository = this.repositories.get(name);
    if (!repository && create) {
      repository = { name, tags: new Map(), manifests: new Map() };
      this.repositories.set(name, repository);
    }
    if (!repository) {
      throw new AwsServiceError(
        'RepositoryNotFoundException',
        `The repository with name '${name}' does not exist in the registry with id '${this.core.accountId}'`,
      );
    }
    return repository;
  }

  private find(repository: Repository, id: ImageId): { digest: string; tag?: string } | undefined {
    const digest = id.imageTag ? repository.tags.get(id.imageTag) : id.imageDigest;
    if (!digest || !repository.manifests.has(digest)) return undefined;
    if (id.imageTag && id.imageDigest && id.imageDigest !== digest) return undefined;
    return { digest, tag: id.imageTag };
  }

  private batchGetImage(input: { repositoryName: string; imageIds: ImageId[]; acceptedMediaTypes?: string[] }) {
    if (!input.imageIds?.length || input.imageIds.length > 100) {
      throw new AwsServiceError('InvalidParameterException', 'imageIds must hold 1 to 100 image IDs.');
    }
    const repository = this.repository(input.repositoryName);
    const images = [];
    const failures = [];
    for (const imageId of input.imageIds) {
      const found = this.find(repository, imageId);
      if (!found) {
        failures.push({ imageId, failureCode: 'ImageNotFound', failureReason: 'Requested image not found' });
        continue;
      }
      const stored = repository.manifests.get(found.digest)!;
      if (input.acceptedMediaTypes && !input.acceptedMediaTypes.includes(stored.mediaType)) {
        failures.push({ imageId, failureCode: 'UnsupportedImageType', failureReason: `Manifest media type ${stored.mediaType} is not accepted` });
        continue;
      }
      images.push({
        registryId: this.core.accountId,
        repositoryName: input.repositoryName,
        imageId: { imageDigest: found.digest, imageTag: found.tag },
        imageManifest: stored.manifest,
        imageManifestMediaType: stored.mediaType,
      });
    }
    return { images, failures };
  }

  private describeImages(input: { repositoryName: string; imageIds?: ImageId[] }) {
    const repository = this.repository(input.repositoryName);
    const tagsOf = (digest: string) => [...repository.tags].filter(([, d]) => d === digest).map(([tag]) => tag);
    const describe = (digest: string) => {
      const stored = repository.manifests.get(digest)!;
      return {
        registryId: this.core.accountId,
        repositoryName: input.repositoryName,
        imageDigest: digest,
        imageTags: tagsOf(digest),
        imagePushedAt: stored.pushedAt,
        imageSizeInBytes: stored.sizeBytes,
        imageManifestMediaType: stored.mediaType,
      };
    };
    if (!input.imageIds?.length) return { imageDetails: [...repository.manifests.keys()].map(describe) };
    return {
      imageDetails: input.imageIds.map((imageId) => {
        const found = this.find(repository, imageId);
        if (!found) {
          throw new AwsServiceError(
            'ImageNotFoundException',
            `The image with imageId {imageDigest:'${imageId.imageDigest ?? 'null'}', imageTag:'${imageId.imageTag ?? 'null'}'} does not exist within the repository with name '${input.repositoryName}'`,
          );
        }
        return describe(found.digest);
      }),
    };
  }
}
