import { describe, expect, it } from 'vitest';
import { diagramBlock, documentedBlock, toMermaid } from '../../simulation/asl-diagram';
import { allStates, loadDefinition } from '../../simulation/run-state-machine';

describe('docs/architecture.md', () => {
  it('shows the diagram generated from the current ASL file', () => {
    expect(documentedBlock(), 'run: npx tsx simulation/asl-diagram.ts --write').toBe(diagramBlock());
  });

  it('draws every state of the definition and every Catch', () => {
    const definition = loadDefinition();
    const diagram = toMermaid(definition);
    for (const [name, state] of allStates(definition)) {
      expect(diagram).toMatch(new RegExp(`\\b${name}\\b`));
      for (const catcher of state.Catch ?? []) expect(diagram).toContain(`${name} -.->|"${catcher.ErrorEquals.join(', ')}"| ${catcher.Next}`);
    }
  });
});
