/**
 * The functions' code: each handler bundled by esbuild's JavaScript API inside the synthesizing process.
 *
 * `NodejsFunction` (aws-cdk-lib/aws-lambda-nodejs, lib/bundling.ts) spawns `npx esbuild` once per function: with 14
 * functions that was about 10 s of a 24 s `cdk synth`. Here the same esbuild options run through `buildSync`, whose
 * one esbuild service (a worker thread over one esbuild process, esbuild's lib/main.js) serves every function.
 * The options are NodejsFunction's for our settings (its `buildEsbuildArgs`: bundle, platform node, target, format,
 * minify, externals, log level, run from the project root), so a bundle's bytes, and with them the asset hash (the
 * hash of the bundled output, as NodejsFunction's default `AssetHashType.OUTPUT`), do not depend on which of the two
 * made it. When CDK skips bundling (`aws:cdk:bundling-stacks`, or `cdk ls`), esbuild does not run at all.
 */
import { join } from 'node:path';
import { AssetHashType, DockerImage, type BundlingOptions, type ILocalBundling } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { buildSync, type BuildOptions } from 'esbuild';

/** The file esbuild writes in the asset directory. */
export const BUNDLE_FILE = 'index.js';
/** The Lambda handler setting of a bundle: the `handler` export of {@link BUNDLE_FILE}. */
export const BUNDLE_HANDLER = 'index.handler';

/**
 * The esbuild options of one function's bundle: minified CommonJS for Node.js 22+, without the AWS SDK v3,
 * which the Lambda Node.js runtime ships (bundling it would triple each bundle for no call the runtime's SDK lacks).
 */
export const bundleOptions = (projectRoot: string, entry: string, outfile: string): BuildOptions & { write: true } => ({
  absWorkingDir: projectRoot,
  entryPoints: [entry],
  outfile,
  write: true,
  bundle: true,
  platform: 'node',
  target: 'node22',
  format: 'cjs',
  minify: true,
  sourcemap: false,
  external: ['@aws-sdk/*'],
  logLevel: 'error',
});

/**
 * Bundles in-process. Its `entry` field is part of CDK's asset cache key (core/lib/asset-staging.ts
 * `calculateCacheKey` serializes the bundling options), so two functions never share a cached bundle.
 */
class InProcessEsbuild implements ILocalBundling {
  constructor(
    readonly projectRoot: string,
    readonly entry: string,
  ) {}

  /** Always bundles or throws (esbuild's error names the file and line): it never falls back to Docker. */
  tryBundle(outputDir: string, _options: BundlingOptions): boolean {
    buildSync(bundleOptions(this.projectRoot, this.entry, join(outputDir, BUNDLE_FILE)));
    return true;
  }
}

/**
 * The Lambda code of the handler `entry` (a path under `projectRoot`), bundled at synth by esbuild in this process.
 *
 * @example new lambda.Function(this, 'Fn', { code: bundledCode(root, join(root, 'functions/stop-instance.ts')), handler: 'index.handler', ... })
 */
export const bundledCode = (projectRoot: string, entry: string): lambda.Code =>
  lambda.Code.fromAsset(projectRoot, {
    assetHashType: AssetHashType.OUTPUT,
    bundling: {
      // Required by CDK's type, never pulled or run: InProcessEsbuild.tryBundle never returns false.
      image: DockerImage.fromRegistry('in-process-esbuild-no-docker'),
      local: new InProcessEsbuild(projectRoot, entry),
    },
  });
