/**
 * The factory's synthesized CloudFormation template, as `cdk deploy` would deploy it with cdk.json's settings.
 *
 * Synthesis costs seconds (about 8 s cold on the 2-core machine: tsx start, aws-cdk-lib load, cdk-nag), so the
 * template is memoized per process and cached under `.tmp/simulation-deploy/<hash>.json`, keyed by a SHA-256 of
 * everything synthesis reads: infra/, functions/ (infra imports functions/lib), statemachine/, cdk.json and
 * package-lock.json (the aws-cdk-lib version). A cache hit costs a JSON read (a few ms).
 */
import { createHash } from 'node:crypto';
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const INPUTS = ['infra', 'functions', 'statemachine', 'cdk.json', 'package-lock.json'];
const CACHE_DIR = join(ROOT, '.tmp', 'simulation-deploy');

/** A synthesized stack: its name and its template (intrinsics unresolved). */
export interface SynthesizedStack {
  stackName: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  template: { Resources: Record<string, { Type: string; Properties?: any }>; Mappings?: any; Parameters?: any };
}

const filesUnder = (path: string): string[] => {
  if (!existsSync(path)) return [];
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path)
    .sort()
    .flatMap((entry) => filesUnder(join(path, entry)));
};

/** SHA-256 over the paths and contents of every input of synthesis. */
export const synthesisInputsHash = (root = ROOT): string => {
  const hash = createHash('sha256');
  for (const file of INPUTS.flatMap((input) => filesUnder(join(root, input)))) {
    hash.update(relative(root, file)).update('\0').update(readFileSync(file)).update('\0');
  }
  return hash.digest('hex').slice(0, 32);
};

let inputsHash: string | undefined;
let memo: { key: string; stack: SynthesizedStack; synthesizedMs?: number } | undefined;

/** How the last {@link synthesizedTemplate} call was served, for the report and docs/simulation.md. */
export const lastSynthesis = (): { cached: boolean; synthesizedMs?: number } | undefined =>
  memo ? { cached: memo.synthesizedMs === undefined, synthesizedMs: memo.synthesizedMs } : undefined;

const LOCK_STALE_MS = 180_000;
const sleep = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/**
 * Synthesizes into `cached` unless another process (a parallel test worker) is already doing it: the first takes
 * `<cached>.lock` (exclusive create), the others wait for the file, so a cold cache costs one synthesis, not one
 * per worker. Returns the milliseconds this process spent synthesizing, or undefined when it only waited.
 */
const synthesizeOnce = (cached: string): number | undefined => {
  const lock = `${cached}.lock`;
  for (;;) {
    if (existsSync(cached)) return undefined;
    try {
      closeSync(openSync(lock, 'wx'));
      break;
    } catch {
      // Held by another process; a lock older than any synthesis is a crashed one's.
      if (existsSync(lock) && Date.now() - statSync(lock).mtimeMs > LOCK_STALE_MS) rmSync(lock, { force: true });
      sleep(200);
    }
  }
  const started = Date.now();
  try {
    execFileSync(process.execPath, synthesisArguments(cached), { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'], env: synthesisEnvironment() });
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString() ?? '';
    throw new Error(`Synthesizing the factory for the simulation failed (infra/app.ts with cdk.json's context):\n${stderr || (error as Error).message}`);
  } finally {
    rmSync(lock, { force: true });
  }
  return Date.now() - started;
};

const synthesisArguments = (cached: string): string[] => ['--import', 'tsx', join(ROOT, 'simulation', 'deploy', 'synthesize-app.ts'), cached, join(ROOT, 'cdk.json')];
const synthesisEnvironment = (): NodeJS.ProcessEnv => ({ ...process.env, CDK_DISABLE_VERSION_CHECK: '1' });

const cacheFileOfSources = (): string => {
  inputsHash ??= synthesisInputsHash();
  return join(CACHE_DIR, `${inputsHash}.json`);
};

/**
 * Starts the synthesis {@link synthesizedTemplate} would wait for, without waiting: for vitest's global setup, so the
 * test workers start at once and only those that need the template wait for it (on the lock, as for a synthesis
 * another worker started). Resolves when the child process ends; undefined when the cache is warm or another
 * process holds the lock. A failed synthesis leaves no file and no lock, so the first caller of
 * {@link synthesizedTemplate} synthesizes again and throws with the child's stderr.
 */
export const startSynthesis = (): Promise<void> | undefined => {
  const cached = cacheFileOfSources();
  if (existsSync(cached)) return undefined;
  mkdirSync(CACHE_DIR, { recursive: true });
  const lock = `${cached}.lock`;
  try {
    closeSync(openSync(lock, 'wx'));
  } catch {
    return undefined;
  }
  const child = spawn(process.execPath, synthesisArguments(cached), { cwd: ROOT, stdio: 'ignore', env: synthesisEnvironment() });
  return new Promise((resolve) => {
    const done = () => {
      rmSync(lock, { force: true });
      resolve();
    };
    child.once('exit', done);
    child.once('error', done);
  });
};

/**
 * The default deployment's template: memoized, else read from the cache, else synthesized in a child process.
 *
 * @example synthesizedTemplate().template.Resources // { FactoryLaunchInstanceRole...: { Type: 'AWS::IAM::Role', ... }, ... }
 */
export const synthesizedTemplate = (): SynthesizedStack => {
  // Hashed once per process (20 ms): the sources do not change under a running simulation.
  const cached = cacheFileOfSources();
  const key = inputsHash!;
  if (memo?.key === key) return memo.stack;
  let synthesizedMs: number | undefined;
  if (!existsSync(cached)) {
    mkdirSync(CACHE_DIR, { recursive: true });
    synthesizedMs = synthesizeOnce(cached);
  }
  const stack = JSON.parse(readFileSync(cached, 'utf8')) as SynthesizedStack;
  memo = { key, stack, synthesizedMs };
  return stack;
};
