/**
 * `npm run bench pulls`: the combined layout's pull phase against its largest single-platform pull, measured by
 * running the generated pull script (functions/lib/pull-script.ts) against a real containerd and a real registry
 * on loopback (test/support/), and the pull command's size against SSM's budget (functions/lib/pull-command.ts).
 *
 * Pull phase: from the first `ctr images pull` to the end of the last, as the stand-in apiclient records them.
 * Each layout (amd64 only, arm64 only, both) runs the same images in a fresh script run (the script empties the
 * image store first). The ratio is combined ÷ the slower single-platform run: 1.0 means the second platform costs
 * nothing, 2.0 means the platforms were pulled one after the other.
 *
 * Needs root and scripts/test-tools.sh's tools; without them it prints why and measures only the command size.
 * Prints figures; never fails on a threshold.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseImageReference } from '../functions/lib/image-reference';
import { MAX_COMMANDS_BYTES, pullCommandOf } from '../functions/lib/pull-command';
import { generatePullScript, parsePullReport, pullCommands, reportPlanOf } from '../functions/lib/pull-script';
import type { PushedImage } from '../test/support/registry';

const run = promisify(execFile);
const MiB = 1024 ** 2;
const BOTH = ['linux/amd64', 'linux/arm64'];
const IMAGES = Number(process.env.BENCH_PULL_IMAGES ?? 2);
const LAYER_MIB = Number(process.env.BENCH_PULL_LAYER_MIB ?? 48);
const CONCURRENCY = Number(process.env.BENCH_PULL_CONCURRENCY ?? 4);
const ROUNDS = Number(process.env.BENCH_PULL_ROUNDS ?? 2);

const commandSize = (): void => {
  // The largest documented build: 100 images x 2 platforms, references of a realistic private-ECR length.
  const images = Array.from({ length: 100 }, (_, i) => ({
    reference: `123456789012.dkr.ecr.eu-west-1.amazonaws.com/team-${i}/service-image-name:v1.2.${i}`,
    digest: `sha256:${String(i).padStart(64, '0')}`,
  }));
  const { bytes } = pullCommandOf({ images, platforms: BOTH, concurrency: 8 });
  const small = pullCommandOf({ images: images.slice(0, 1), platforms: BOTH, concurrency: 8 }).bytes;
  console.log(`pull command size: ${small} bytes for 1 image, ${bytes} bytes for 100 images x 2 platforms (budget ${MAX_COMMANDS_BYTES})`);
};

const measure = async (): Promise<void> => {
  const { startContainerd } = await import('../test/support/containerd');
  const { startRegistry } = await import('../test/support/registry');
  const [registry, host] = await Promise.all([startRegistry(), startContainerd()]);
  try {
    const pushed: PushedImage[] = [];
    for (let i = 0; i < IMAGES; i++) pushed.push(await registry.pushImage(`bench/image-${i}`, 'v1', { platforms: BOTH, layerBytes: LAYER_MIB * MiB }));
    const images = pushed.map((image) => parseImageReference(image.reference));
    const phase = async (platforms: string[]): Promise<number> => {
      const before = (await host.pullIntervals()).length;
      const commands = pullCommands(
        generatePullScript(
          { images, expectedDigests: pushed.map((image) => image.digest), platforms, concurrency: CONCURRENCY },
          { containerdAddress: host.address, containerdRoot: host.root, hostContainersDir: host.hostContainersDir, plainHttp: true, minFreeBytes: 2 * MiB },
        ),
      );
      const dir = await mkdtemp(join(tmpdir(), 'bench-pulls-'));
      try {
        await writeFile(join(dir, '_script.sh'), commands.join('\n') + '\n');
        const { stdout } = await run('/bin/sh', [join(dir, '_script.sh')], { env: host.env, maxBuffer: 16 * MiB });
        const report = parsePullReport(stdout, reportPlanOf({ images, platforms, expectedDigests: pushed.map((image) => image.digest), concurrency: 1 }));
        if (report.summary?.ok !== images.length * platforms.length) throw new Error(`bench pull run failed: ${stdout}`);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
      const intervals = (await host.pullIntervals()).slice(before);
      return Math.max(...intervals.map(([, end]) => end)) - Math.min(...intervals.map(([start]) => start));
    };
    const rows: Array<{ amd64: number; arm64: number; both: number }> = [];
    for (let round = 0; round < ROUNDS; round++) rows.push({ amd64: await phase(['linux/amd64']), arm64: await phase(['linux/arm64']), both: await phase(BOTH) });
    console.log(`pull phase, ${IMAGES} images x ${LAYER_MIB} MiB layer, concurrency ${CONCURRENCY}, real containerd + registry on loopback:`);
    for (const [round, row] of rows.entries()) {
      const ratio = row.both / Math.max(row.amd64, row.arm64);
      console.log(`  round ${round + 1}: amd64 ${row.amd64} ms, arm64 ${row.arm64} ms, combined ${row.both} ms: combined / largest single = ${ratio.toFixed(2)}x`);
    }
    const ratios = rows.map((row) => row.both / Math.max(row.amd64, row.arm64)).sort((a, b) => a - b);
    console.log(`  median combined / largest single pull: ${ratios[Math.floor(ratios.length / 2)]!.toFixed(2)}x`);
  } finally {
    await Promise.all([registry.stop(), host.stop()]);
  }
};

commandSize();
try {
  const { requireContainerdTools } = await import('../test/support/containerd');
  const { requireRegistryTools } = await import('../test/support/registry');
  requireContainerdTools();
  requireRegistryTools();
} catch (error) {
  console.log(`pull phase: skipped, ${(error as Error).message}`);
  process.exit(0);
}
await measure();
