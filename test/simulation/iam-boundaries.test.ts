import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const sources = (dir: string): string[] =>
  readdirSync(join(ROOT, dir)).flatMap((entry) => {
    const path = join(dir, entry);
    return statSync(join(ROOT, path)).isDirectory() ? sources(path) : /\.(ts|js|mjs|cjs|json)$/.test(entry) ? [path] : [];
  });

/**
 * @cloud-copilot/iam-simulate is AGPL-3.0-or-later: acceptable as a development tool of the simulation, never
 * in what the factory deploys. Lambda bundles are built from functions/ (esbuild, from each handler's imports)
 * and the stack from infra/, so neither may import it, nor the simulation's IAM modules that do.
 */
describe('license boundary of the IAM evaluator', () => {
  it('keeps @cloud-copilot/* and simulation/ out of functions/ and infra/', () => {
    // Prepare
    const files = [...sources('functions'), ...sources('infra')];
    // Act
    const offending = files.filter((file) => /from\s+['"](@cloud-copilot\/|[./]*simulation\/)|import\(\s*['"](@cloud-copilot\/|[./]*simulation\/)|require\(\s*['"]@cloud-copilot\//.test(readFileSync(join(ROOT, file), 'utf8')));
    // Assess
    expect(files.length).toBeGreaterThan(20);
    expect(offending).toEqual([]);
  });

  it('lists the evaluator as a devDependency only, with its license', () => {
    // Prepare
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };
    const evaluator = JSON.parse(readFileSync(join(ROOT, 'node_modules', '@cloud-copilot', 'iam-simulate', 'package.json'), 'utf8')) as { license: string };
    // Assess
    expect(Object.keys(pkg.dependencies).filter((name) => name.startsWith('@cloud-copilot/'))).toEqual([]);
    expect(pkg.devDependencies['@cloud-copilot/iam-simulate']).toBeDefined();
    expect(evaluator.license).toBe('AGPL-3.0-or-later');
  });
});
