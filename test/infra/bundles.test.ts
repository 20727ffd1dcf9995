/**
 * What each function's bundle holds, built with the very esbuild options the stack deploys (infra/bundling.ts):
 * only the SDK clients of the services the function calls (its IAM actions, infra/permissions.ts), zod/mini and not
 * classic zod (functions/lib/zod-mini.ts), of zod's locales only the English one its messages use, and at most
 * {@link MAX_BUNDLE_BYTES} in all (issue 12's goal).
 * The sizes themselves are figures for `npm run bench -- bundles`; only the bound is asserted.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { build, type Metafile } from 'esbuild';
import { beforeAll, describe, expect, it } from 'vitest';
import { bundleOptions } from '../../infra/bundling';
import { ALL_FUNCTIONS, FUNCTION_ACTIONS, type FunctionName } from '../../infra/permissions';

const root = join(import.meta.dirname, '..', '..');

/** The SDK v3 package of each IAM service prefix the functions call. */
const CLIENT_PACKAGE_OF_SERVICE: Record<string, string> = {
  ec2: '@aws-sdk/client-ec2',
  ssm: '@aws-sdk/client-ssm',
  ecr: '@aws-sdk/client-ecr',
  states: '@aws-sdk/client-sfn',
  events: '@aws-sdk/client-eventbridge',
};

/** Issue 12 ("Small Lambdas"): every function's bundle is at most 150 KiB. */
const MAX_BUNDLE_BYTES = 150 * 1024;

const metafiles = new Map<FunctionName, Metafile>();
/** Each function's bundle as esbuild wrote it in memory: the bytes the stack deploys as `index.js`. */
const bundles = new Map<FunctionName, Uint8Array>();

beforeAll(async () => {
  // One esbuild call for all functions, in memory (write: false); without code splitting each entry's output is
  // tree-shaken on its own, as its deployed bundle is.
  const deployed = bundleOptions(root, join(root, 'functions', `${ALL_FUNCTIONS[0]}.ts`), join(root, '.tmp', 'bundles-test', 'index.js'));
  const result = await build({
    ...deployed,
    entryPoints: Object.fromEntries(ALL_FUNCTIONS.map((name) => [name, join(root, 'functions', `${name}.ts`)])),
    outfile: undefined,
    outdir: join(root, '.tmp', 'bundles-test'),
    write: false,
    metafile: true,
  });
  for (const [output, meta] of Object.entries(result.metafile.outputs)) {
    const name = ALL_FUNCTIONS.find((candidate) => output.endsWith(`/${candidate}.js`));
    if (name) metafiles.set(name, { inputs: result.metafile.inputs, outputs: { [output]: meta } });
  }
  for (const file of result.outputFiles) {
    const name = ALL_FUNCTIONS.find((candidate) => file.path.endsWith(`/${candidate}.js`));
    if (name) bundles.set(name, file.contents);
  }
  expect([...metafiles.keys()].sort()).toEqual([...ALL_FUNCTIONS].sort());
  expect([...bundles.keys()].sort()).toEqual([...ALL_FUNCTIONS].sort());
});

/** The inputs that contribute bytes to the bundle (esbuild also lists the files it parsed and then shook out). */
const contributingInputs = (metafile: Metafile): string[] =>
  Object.values(metafile.outputs).flatMap((output) =>
    Object.entries(output.inputs)
      .filter(([, contribution]) => contribution.bytesInOutput > 0)
      .map(([input]) => input),
  );

/** The AWS SDK packages the bundle leaves to the runtime (node: built-ins are external too, and not counted). */
const sdkImports = (metafile: Metafile): string[] =>
  [...new Set(Object.values(metafile.outputs).flatMap((output) => output.imports.filter((entry) => entry.external && entry.path.startsWith('@aws-sdk/')).map((entry) => entry.path)))].sort();

describe('function bundles', () => {
  it.each(ALL_FUNCTIONS)('%s loads only the SDK clients of the services it calls', (name) => {
    // Prepare
    const services = [...new Set(FUNCTION_ACTIONS[name].map((action) => action.split(':')[0]!))];
    const expected = services.map((service) => CLIENT_PACKAGE_OF_SERVICE[service] ?? `(no client package known for service ${service})`).sort();
    // Act
    const imported = sdkImports(metafiles.get(name)!);
    // Assess
    expect(imported).toEqual(expected);
  });

  it.each(ALL_FUNCTIONS)('%s bundles no zod locale but English', (name) => {
    // Prepare
    const inputs = contributingInputs(metafiles.get(name)!);
    // Act
    const locales = inputs.filter((input) => /node_modules\/zod\/.*locales\//.test(input));
    // Assess
    expect(inputs.some((input) => input.includes('node_modules/zod/'))).toBe(true);
    expect(locales.map((input) => input.replace(/^.*locales\//, ''))).toEqual(['en.js']);
  });

  it.each(ALL_FUNCTIONS)('%s is at most 150 KiB', (name) => {
    // Act
    const bytes = bundles.get(name)!.byteLength;
    // Assess
    expect(bytes).toBeGreaterThan(0);
    expect(bytes, `${name}: ${(bytes / 1024).toFixed(1)} KiB`).toBeLessThanOrEqual(MAX_BUNDLE_BYTES);
  });

  it.each(ALL_FUNCTIONS)('%s loads zod/mini only, not classic zod', (name) => {
    // Act
    const zod = contributingInputs(metafiles.get(name)!).filter((input) => input.includes('node_modules/zod/'));
    // Assess
    expect(zod.some((input) => input.includes('/zod/v4/mini/'))).toBe(true);
    expect(zod.filter((input) => input.includes('/zod/v4/classic/'))).toEqual([]);
  });

  /**
   * A bad input per probed bundle and the messages it must bring back: prepare-build's execution input (its own
   * schemas) and send-pull-command's stage input (functions/lib/schemas.ts, the largest bundle).
   */
  const REFUSALS: { name: FunctionName; event: unknown; messages: string[] }[] = [
    {
      name: 'prepare-build',
      event: { executionName: 'exec-1', input: { images: [7], limits: { stopSeconds: 10 }, colour: 'red' } },
      messages: ['images.0: Invalid input: expected string, received number', 'limits.stopSeconds: Too small: expected number to be >=30', '(input): Unrecognized key: "colour"'],
    },
    {
      name: 'send-pull-command',
      event: {
        build: { recipe: '', architecture: 'sparc', platforms: ['linux/amd64'], images: [{ reference: 'nginx:1.27' }], pull: { concurrency: 1.5, commandTimeoutSeconds: 60 } },
        instance: { instanceId: 'x', instanceType: 'm7i.large', amiId: 'ami-1' },
      },
      messages: [
        'build.recipe: Too small: expected string to have >=1 characters',
        'build.architecture: Invalid option: expected one of "x86_64"|"arm64"',
        'build.pull.concurrency: Invalid input: expected int, received number',
        'instance.instanceId: Invalid string: must start with "i-"',
        'instance.launchedAt: Invalid input: expected string, received undefined',
      ],
    },
  ];

  it.each(REFUSALS)("$name's bundle, alone in a fresh node, refuses a bad input with zod's English messages", ({ name, event, messages }) => {
    // Prepare
    // A process of its own: zod keeps its locale on globalThis, so in this one the classic zod of the test's imports
    // would supply English messages that the bundle itself might lack. Inside the project, so `@aws-sdk/*` resolves;
    // `.cjs`: the project is `"type": "module"`, and Lambda, with no package.json beside the bundle, loads it as CommonJS.
    const file = join(root, '.tmp', 'bundles-test', `${name}-alone`, 'index.cjs');
    mkdirSync(join(file, '..'), { recursive: true });
    writeFileSync(file, bundles.get(name)!);
    const probe = [
      `require(${JSON.stringify(file)}).handler(${JSON.stringify(event)})`,
      '.then(() => process.stdout.write("accepted"), (error) => process.stdout.write(JSON.stringify({ name: error.name, message: error.message })));',
    ].join('');

    // Act
    const output = execFileSync(process.execPath, ['-e', probe], {
      cwd: root,
      env: { PATH: process.env.PATH, AWS_REGION: 'us-west-2', POWERTOOLS_LOG_LEVEL: 'SILENT' },
      stdio: ['ignore', 'pipe', 'pipe'],
      encoding: 'utf8',
    });

    // Assess
    const refusal = JSON.parse(output.slice(output.lastIndexOf('{"name"'))) as { name: string; message: string };
    expect(refusal.name).toBe('InvalidInputError');
    for (const message of messages) expect(refusal.message).toContain(message);
  });
});
