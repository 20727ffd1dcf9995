/**
 * What each function's bundle holds, built with the very esbuild options the stack deploys (infra/bundling.ts):
 * only the SDK clients of the services the function calls (its IAM actions, infra/permissions.ts), and of zod's
 * locales only the English one its messages use. Sizes are figures for `npm run bench -- bundles`, not asserted.
 */
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

const metafiles = new Map<FunctionName, Metafile>();

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
  expect([...metafiles.keys()].sort()).toEqual([...ALL_FUNCTIONS].sort());
});

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
    // The inputs that contribute bytes to the bundle (esbuild also lists the files it parsed and then shook out).
    const inputs = Object.values(metafiles.get(name)!.outputs).flatMap((output) =>
      Object.entries(output.inputs)
        .filter(([, contribution]) => contribution.bytesInOutput > 0)
        .map(([input]) => input),
    );
    // Act
    const locales = inputs.filter((input) => /node_modules\/zod\/.*locales\//.test(input));
    // Assess
    expect(inputs.some((input) => input.includes('node_modules/zod/'))).toBe(true);
    expect(locales.map((input) => input.replace(/^.*locales\//, ''))).toEqual(['en.js']);
  });
});
