/**
 * Runs `snapshot-factory` as a user would: installed globally from this checkout into a temporary prefix
 * (`npm install -g .` with `npm_config_prefix`), started as a child process, stdout and stderr kept apart.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const ROOT = join(new URL('.', import.meta.url).pathname, '..', '..');

export interface Installed {
  bin: string;
  prefix: string;
  remove: () => void;
}

/** Installs the checkout globally into a fresh prefix; returns the path of the installed command. */
export const installGlobally = (): Installed => {
  const prefix = mkdtempSync(join(tmpdir(), 'snapshot-factory-prefix-'));
  execFileSync('npm', ['install', '--global', '--no-audit', '--no-fund', '--ignore-scripts', ROOT], {
    env: { ...process.env, npm_config_prefix: prefix },
    stdio: 'pipe',
  });
  return { bin: join(prefix, 'bin', 'snapshot-factory'), prefix, remove: () => rmSync(prefix, { recursive: true, force: true }) };
};

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** An environment with no AWS settings of the caller's machine: no credentials, no region, no profile. */
export const cleanEnvironment = (home: string): NodeJS.ProcessEnv => ({
  PATH: process.env.PATH,
  HOME: home,
  AWS_CONFIG_FILE: join(home, 'no-aws-config'),
  AWS_SHARED_CREDENTIALS_FILE: join(home, 'no-aws-credentials'),
  AWS_EC2_METADATA_DISABLED: 'true',
});

/** The environment of a caller with credentials, every AWS endpoint pointed at the stub. */
export const stubEnvironment = (home: string, stubUrl: string): NodeJS.ProcessEnv => ({
  ...cleanEnvironment(home),
  AWS_ACCESS_KEY_ID: 'AKIAIOSFODNN7EXAMPLE',
  AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
  AWS_ENDPOINT_URL_SFN: stubUrl,
  AWS_ENDPOINT_URL_EC2: stubUrl,
  AWS_ENDPOINT_URL_SSM: stubUrl,
});

/** Runs the command to its end. */
export const run = (bin: string, args: string[], env: NodeJS.ProcessEnv): Promise<RunResult> =>
  new Promise((resolve) => {
    execFile(bin, args, { env, timeout: 120_000, maxBuffer: 10 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (typeof (error as { code?: unknown }).code === 'number' ? ((error as { code: number }).code) : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });

/** The package version, as `--version` must print it. */
export const packageVersion = (): string => (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

/** stderr without the one unsupported-Node line this machine's Node 20 gets (cli/node-support.ts). */
export const withoutNodeWarning = (stderr: string): string =>
  stderr
    .split('\n')
    .filter((line) => !/^snapshot-factory: Node\.js \S+ is not supported/.test(line))
    .join('\n');
