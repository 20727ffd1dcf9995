/**
 * `npm run bench bundles`: how long `npx cdk synth` takes here (empty environment, no credentials, bundling
 * all functions with the local esbuild, cdk-nag on), and each function's minified bundle size as deployed.
 * Prints figures only; never fails on a threshold.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const scratch = mkdtempSync(join(tmpdir(), 'bench-bundles-'));
const out = join(scratch, 'cdk.out');

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
const rows = Object.values(template.Resources)
  .filter((r) => r.Type === 'AWS::Lambda::Function' && r.Properties.Description?.startsWith('snapshot-factory: functions/'))
  .map((r) => {
    const name = r.Properties.Description!.replace('snapshot-factory: functions/', '');
    const hash = r.Properties.Code!.S3Key!.replace(/\.zip$/, '');
    return { name, bytes: statSync(join(out, `asset.${hash}`, 'index.js')).size };
  })
  .sort((a, b) => a.name.localeCompare(b.name));

console.log(`cdk synth (14 functions bundled, cdk-nag on, no credentials): ${seconds.toFixed(1)} s`);
console.log('function bundle (minified, CommonJS, AWS SDK v3 from the Lambda runtime, not bundled; most of each is zod):');
for (const { name, bytes } of rows) console.log(`  ${name.padEnd(28)} ${String(bytes).padStart(9)} bytes  (${(bytes / 1024).toFixed(1)} KiB)`);
const total = rows.reduce((sum, row) => sum + row.bytes, 0);
console.log(`  ${'total'.padEnd(28)} ${String(total).padStart(9)} bytes  (${(total / 1024 / 1024).toFixed(2)} MiB)`);
rmSync(scratch, { recursive: true, force: true });
