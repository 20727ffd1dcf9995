/**
 * The real `npx cdk synth`, as a fresh clone runs it: empty environment (no AWS credentials, no region,
 * no profile), a throw-away HOME, cdk.json's settings, cdk-nag on.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const scratch = mkdtempSync(join(tmpdir(), 'cdk-cli-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

it('synthesizes with `npx cdk synth` and no AWS credentials', async () => {
  const home = join(scratch, 'home');
  const out = join(scratch, 'cdk.out');
  const { stderr } = await promisify(execFile)('npx', ['cdk', 'synth', '--quiet', '--output', out], {
    cwd: root,
    env: { PATH: process.env.PATH, HOME: home },
    maxBuffer: 64 * 1024 * 1024,
    timeout: 180_000,
  });
  expect(stderr).not.toMatch(/AwsSolutions-/);
  const template = JSON.parse(readFileSync(join(out, 'SnapshotFactory.template.json'), 'utf8'));
  const types = Object.values(template.Resources as Record<string, { Type: string }>).map((r) => r.Type);
  expect(types.filter((t) => t === 'AWS::StepFunctions::StateMachine')).toHaveLength(1);
  expect(types.filter((t) => t === 'AWS::Lambda::Function')).toHaveLength(14);
  expect(Object.keys(template.Outputs)).toEqual(expect.arrayContaining(['StateMachineArn', 'StartBuildCommand']));
}, 200_000);
