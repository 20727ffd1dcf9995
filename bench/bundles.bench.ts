/**
 * `npm run bench bundles`: how long `npx cdk synth` takes here (empty environment, no credentials, bundling
 * all functions with the local esbuild, cdk-nag on), each function's minified bundle size as deployed, and each
 * bundle's init time: the deployed `index.js` loaded in a fresh node process (what Lambda's init phase does
 * before the first invocation: load the module, run its top-level code), the median of several processes.
 * Prints figures only; never fails on a threshold.
 *
 * Init time is measured with the project's own `@aws-sdk/*` packages standing in for the copy the Lambda Node.js
 * runtime ships (the bundles leave the SDK out), on this machine's CPU, not Lambda's: compare the figures with each
 * other and with earlier runs here, not with a Lambda `Init Duration`. `BENCH_INIT_RUNS` sets the processes per
 * function (default 11).
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deploy } from '../simulation/deploy/deployment';
import type { SynthesizedStack } from '../simulation/deploy/template';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const scratch = mkdtempSync(join(tmpdir(), 'bench-bundles-'));
const out = join(scratch, 'cdk.out');
const runs = Number(process.env.BENCH_INIT_RUNS ?? 11);
if (!Number.isInteger(runs) || runs < 1) throw new Error(`BENCH_INIT_RUNS=${process.env.BENCH_INIT_RUNS}: expected a positive integer`);

const started = process.hrtime.bigint();
execFileSync('npx', ['cdk', 'synth', '--quiet', '--output', out], {
  cwd: root,
  env: { PATH: process.env.PATH, HOME: join(scratch, 'home') },
  stdio: ['ignore', 'ignore', 'pipe'],
  maxBuffer: 64 * 1024 * 1024,
});
const seconds = Number(process.hrtime.bigint() - started) / 1e9;

type Resource = { Type: string; Properties: { Description?: string; Code?: { S3Key?: string } } };
const template = JSON.parse(readFileSync(join(out, 'SnapshotFactory.template.json'), 'utf8')) as { Resources: Record<string, Resource> };
// The environment each function is deployed with (prepare-build, for one, parses FACTORY_DEFAULTS at load).
const deployed = deploy({ stackName: 'SnapshotFactory', template } as unknown as SynthesizedStack);

// Inside the project, so a bundle's `require('@aws-sdk/...')` resolves to node_modules as the runtime's copy would.
const loadDir = join(root, '.tmp', 'bench-bundles');
rmSync(loadDir, { recursive: true, force: true });

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

/**
 * Milliseconds to `require` the bundle in a fresh node process, once per process: wall clock and CPU time
 * (user + system; steadier than wall clock on a machine others share), each the median of `runs` processes.
 */
const initTime = (bundle: string, environment: Record<string, string>): { wallMs: number; cpuMs: number } => {
  const probe = [
    'const t=process.hrtime.bigint(),c=process.cpuUsage();',
    `require(${JSON.stringify(bundle)});`,
    'const u=process.cpuUsage(c);',
    'process.stdout.write(JSON.stringify([Number(process.hrtime.bigint()-t)/1e6,(u.user+u.system)/1e3]))',
  ].join('');
  // The SDK's own switch (cli/node-support.ts): on Node 20 its warning would print and be timed in every probe, and
  // Lambda's runtime (Node 22) never shows it.
  const env = {
    PATH: process.env.PATH,
    AWS_REGION: 'us-west-2',
    AWS_LAMBDA_FUNCTION_NAME: 'bench',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '256',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    ...environment,
  };
  const samples = Array.from({ length: runs }, () => JSON.parse(execFileSync(process.execPath, ['-e', probe], { env, cwd: dirname(bundle), encoding: 'utf8' })) as [number, number]);
  return { wallMs: median(samples.map(([wall]) => wall)), cpuMs: median(samples.map(([, cpu]) => cpu)) };
};

const rows = Object.values(template.Resources)
  .filter((r) => r.Type === 'AWS::Lambda::Function' && r.Properties.Description?.startsWith('snapshot-factory: functions/'))
  .map((r) => {
    const name = r.Properties.Description!.replace('snapshot-factory: functions/', '').replace(/\.ts$/, '');
    const hash = r.Properties.Code!.S3Key!.replace(/\.zip$/, '');
    const bundle = join(loadDir, name, 'index.js');
    mkdirSync(dirname(bundle), { recursive: true });
    copyFileSync(join(out, `asset.${hash}`, 'index.js'), bundle);
    return { name, bytes: statSync(bundle).size, ...initTime(bundle, deployed.functions[name]?.environment ?? {}) };
  })
  .sort((a, b) => a.name.localeCompare(b.name));

console.log(`cdk synth (${rows.length} functions bundled, cdk-nag on, no credentials): ${seconds.toFixed(1)} s`);
console.log(`function bundle (minified, CommonJS, AWS SDK v3 from the Lambda runtime, not bundled) and init time (require in a fresh node, median of ${runs}):`);
const ms = (value: number) => `${value.toFixed(1).padStart(7)} ms`;
for (const { name, bytes, wallMs, cpuMs } of rows) {
  console.log(`  ${name.padEnd(24)} ${String(bytes).padStart(8)} bytes (${(bytes / 1024).toFixed(1).padStart(6)} KiB)  init wall ${ms(wallMs)}  cpu ${ms(cpuMs)}`);
}
const total = rows.reduce((sum, row) => sum + row.bytes, 0);
console.log(
  `  ${'total'.padEnd(24)} ${String(total).padStart(8)} bytes (${(total / 1024 / 1024).toFixed(2)} MiB)  median wall ${ms(median(rows.map((row) => row.wallMs)))}  cpu ${ms(median(rows.map((row) => row.cpuMs)))}`,
);
rmSync(scratch, { recursive: true, force: true });
rmSync(loadDir, { recursive: true, force: true });
