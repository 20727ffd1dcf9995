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
 * The registry is reached through a proxy that gives each TCP connection at most BENCH_PULL_MIBPS MiB/s (default 4)
 * from the registry: a pull from a remote registry is bound by what one download stream gets (the layer
 * downloads of ECR come from S3, where AWS's guidance is to parallelize connections for throughput: "Performance
 * design patterns for Amazon S3", horizontal scaling), not by this machine's CPU, which loopback alone would
 * measure (2 shared cores: parallel pulls then only compete for it). The proxy models that one limit, nothing else
 * (no latency, no per-host cap).
 *
 * Needs root and scripts/test-tools.sh's tools; without them it prints why and measures only the command size.
 * Prints figures; never fails on a threshold.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
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
const LAYER_MIB = Number(process.env.BENCH_PULL_LAYER_MIB ?? 16);
const CONCURRENCY = Number(process.env.BENCH_PULL_CONCURRENCY ?? 4);
const ROUNDS = Number(process.env.BENCH_PULL_ROUNDS ?? 3);
const MIBPS = Number(process.env.BENCH_PULL_MIBPS ?? 4);

/** Forwards 127.0.0.1:<returned port> to `target`, each connection's download paced to `bytesPerSecond`. */
const throttlingProxy = async (target: number, bytesPerSecond: number): Promise<{ port: number; close(): void }> => {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(target, '127.0.0.1');
    sockets.add(client).add(upstream);
    client.pipe(upstream);
    const started = Date.now();
    let sent = 0;
    upstream.on('data', (chunk: Buffer) => {
      sent += chunk.length;
      client.write(chunk);
      const ahead = (sent / bytesPerSecond) * 1000 - (Date.now() - started);
      if (ahead > 0) {
        upstream.pause();
        setTimeout(() => upstream.resume(), ahead);
      }
    });
    upstream.on('end', () => client.end());
    for (const socket of [client, upstream]) socket.on('error', () => { client.destroy(); upstream.destroy(); });
    client.on('close', () => { upstream.destroy(); sockets.delete(client);
      sockets.delete(upstream); });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
};

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
  let proxy: { close(): void } | undefined;
  try {
    const pushed: PushedImage[] = [];
    for (let i = 0; i < IMAGES; i++) pushed.push(await registry.pushImage(`bench/image-${i}`, 'v1', { platforms: BOTH, layerBytes: LAYER_MIB * MiB }));
    const throttled = await throttlingProxy(registry.port, MIBPS * MiB);
    proxy = throttled;
    const viaProxy = `127.0.0.1:${throttled.port}`;
    const images = pushed.map((image) => parseImageReference(image.reference.replace(registry.host, viaProxy)));
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
      if (process.env.BENCH_PULL_DEBUG) console.log(platforms.join(","), intervals.map(([a, b]) => `${a % 100000}-${b % 100000}`).join(" "));
      return Math.max(...intervals.map(([, end]) => end)) - Math.min(...intervals.map(([start]) => start));
    };
    const rows: Array<{ amd64: number; arm64: number; both: number }> = [];
    for (let round = 0; round < ROUNDS; round++) rows.push({ amd64: await phase(['linux/amd64']), arm64: await phase(['linux/arm64']), both: await phase(BOTH) });
    console.log(`pull phase, ${IMAGES} images x ${LAYER_MIB} MiB layer, concurrency ${CONCURRENCY}, real containerd + registry, ${MIBPS} MiB/s per connection:`);
    for (const [round, row] of rows.entries()) {
      const ratio = row.both / Math.max(row.amd64, row.arm64);
      console.log(`  round ${round + 1}: amd64 ${row.amd64} ms, arm64 ${row.arm64} ms, combined ${row.both} ms: combined / largest single = ${ratio.toFixed(2)}x`);
    }
    const ratios = rows.map((row) => row.both / Math.max(row.amd64, row.arm64)).sort((a, b) => a - b);
    console.log(`  median combined / largest single pull: ${ratios[Math.floor(ratios.length / 2)]!.toFixed(2)}x`);
  } finally {
    proxy?.close();
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
