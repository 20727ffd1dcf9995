/**
 * `npm run bench`: runs every `bench/*.bench.ts` in turn and prints their figures.
 * Benchmarks measure and print; they never fail on a wall-clock threshold (shared, noisy machines).
 */
// First: on an unsupported Node.js one line, and the benches' child processes inherit the SDK's switch.
import '../cli/unsupported-node-warning';
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const only = process.argv.slice(2);
const benches = readdirSync(here)
  .filter((file) => file.endsWith('.bench.ts'))
  .filter((file) => only.length === 0 || only.some((name) => file.includes(name)))
  .sort();

for (const file of benches) {
  console.log(`\n=== ${file} ===`);
  execFileSync(process.execPath, ['--import', 'tsx', join(here, file)], { stdio: 'inherit' });
}
