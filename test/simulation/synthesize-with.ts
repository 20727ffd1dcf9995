/** Shared by the lifecycle scenarios that deploy with settings of their own. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SynthesizedStack } from '../../simulation/deploy/template';
import { ROOT } from '../../simulation/run-state-machine';

/**
 * The app synthesized as `cdk deploy` would with `settings` added to cdk.json's, in a child process (see
 * simulation/deploy/synthesize-app.ts).
 */
export const synthesizeWith = (settings: Record<string, unknown>): SynthesizedStack => {
  const dir = mkdtempSync(join(tmpdir(), 'synthesize-with-'));
  const cdkJson = JSON.parse(readFileSync(join(ROOT, 'cdk.json'), 'utf8')) as { context: { snapshotFactory: Record<string, unknown> } };
  cdkJson.context.snapshotFactory = { ...cdkJson.context.snapshotFactory, ...settings };
  writeFileSync(join(dir, 'cdk.json'), JSON.stringify(cdkJson));
  execFileSync(process.execPath, ['--import', 'tsx', join(ROOT, 'simulation', 'deploy', 'synthesize-app.ts'), join(dir, 'template.json'), join(dir, 'cdk.json')], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, CDK_DISABLE_VERSION_CHECK: '1' },
  });
  return JSON.parse(readFileSync(join(dir, 'template.json'), 'utf8')) as SynthesizedStack;
};
