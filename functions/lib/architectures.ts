/**
 * The EC2 architectures the factory builds for and their containerd platforms: plain constants, kept apart from the
 * zod schemas so that a function can use them without loading a schema library (prepare-build's bundle, issue 12).
 */

export const ARCHITECTURES = ['x86_64', 'arm64'] as const;
export type Architecture = (typeof ARCHITECTURES)[number];

/** containerd platform for each EC2 architecture. */
export const PLATFORM_OF: Record<Architecture, string> = { x86_64: 'linux/amd64', arm64: 'linux/arm64' };

/**
 * At most this many images per build: each is one line of the pull script and of the pull report. Kept in a module
 * without side effects, so that reading it does not load the deployed defaults (build-defaults.ts parses
 * FACTORY_DEFAULTS at import).
 */
export const MAX_IMAGES = 100;
