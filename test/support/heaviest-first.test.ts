import { describe, expect, it } from 'vitest';
import { HEAVIEST_FIRST, inRunOrder } from './heaviest-first';

const file = (path: string, project: string) => ({ moduleId: `/repo/${path}`, project: { name: project } });

describe('the order vitest runs the test files in', () => {
  it('puts the long files first, then each project\'s files together, heavier ones first, every file once', () => {
    // Prepare: vitest's own order, projects interleaved.
    const files = [
      file('test/functions/errors.test.ts', 'functions'),
      file('test/simulation/iam.test.ts', 'simulation'),
      file('test/infra/config.test.ts', 'infra'),
      file('test/cli/build-command.test.ts', 'isolated'),
      file('test/statemachine/scenarios.test.ts', 'simulation'),
      file('test/local/local-endpoint.test.ts', 'isolated'),
      file('test/functions/digests.test.ts', 'functions'),
      file('test/infra/stack.test.ts', 'infra'),
      file('test/cli/installed-bin.test.ts', 'isolated'),
      file('test/simulation/deploy.test.ts', 'simulation'),
      file('test/unknown/new.test.ts', 'another'),
    ];
    // Act
    const ordered = inRunOrder(files).map((f) => f.moduleId.replace('/repo/', ''));
    // Assess
    expect(ordered).toEqual([
      'test/cli/installed-bin.test.ts',
      'test/local/local-endpoint.test.ts',
      'test/statemachine/scenarios.test.ts',
      'test/simulation/iam.test.ts',
      'test/simulation/deploy.test.ts',
      'test/infra/stack.test.ts',
      'test/infra/config.test.ts',
      'test/functions/digests.test.ts',
      'test/functions/errors.test.ts',
      'test/cli/build-command.test.ts',
      'test/unknown/new.test.ts',
    ]);
    expect(HEAVIEST_FIRST.indexOf('test/cli/installed-bin.test.ts')).toBeLessThan(HEAVIEST_FIRST.indexOf('test/local/local-endpoint.test.ts'));
  });
});
