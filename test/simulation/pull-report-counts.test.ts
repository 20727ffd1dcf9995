/**
 * Issue 9, item 8: SSM keeps only 24,000 characters of a command's stdout (GetCommandInvocation). The pull report
 * is compact enough that the largest build loses no line, and every count consumers see (the execution output, the
 * "Snapshot Ready" event's `imageCount`, the snapshot's image-count tag) is the verified one.
 */
import { NO_LEFTOVERS } from '../../simulation/after-execution';
import { describe, expect, it } from 'vitest';
import { SSM_STDOUT_LIMIT } from '../../functions/lib/pull-script';
import { MAX_IMAGES } from '../../functions/lib/schemas';
import { maximumInput } from '../../simulation/max-input';
import { runSimulation } from '../../simulation/run-state-machine';

describe('pull report at the largest input', () => {
  it.each(['per-architecture', 'combined'] as const)('reports every image of the maximum list in the %s layout, counts exact, no truncation', async (layout) => {
    // Prepare: 100 of the longest tag references, both architectures.
    const input = maximumInput(layout, { pinned: false });
    // Act
    const report = await runSimulation({ input });
    // Assess
    expect(report.status, report.cause).toBe('SUCCEEDED');
    const commands = [...report.account.ssmCommands.commands.values()];
    expect(commands).toHaveLength(layout === 'combined' ? 1 : 2);
    for (const command of commands) {
      // Whole, with room to spare, and ending with the end marker: SSM cut nothing.
      expect(command.stdout.length).toBeLessThan(SSM_STDOUT_LIMIT / 2);
      expect(command.stdout.trimEnd().split('\n').at(-1)).toBe('SNAPSHOT_FACTORY_END');
      expect(command.stdout.split('\n').filter((line) => line.startsWith('SNAPSHOT_FACTORY_IMAGE\t'))).toHaveLength(
        MAX_IMAGES * (layout === 'combined' ? 2 : 1),
      );
    }
    const output = report.output as { snapshots: { snapshotId: string; images: unknown[] }[] };
    expect(output.snapshots.reduce((n, s) => n + s.images.length, 0)).toBe(MAX_IMAGES * 2);
    for (const snapshot of output.snapshots) {
      const tags = report.account.ec2.snapshots.get(snapshot.snapshotId)!.Tags ?? [];
      expect(tags).toContainEqual({ Key: 'snapshot-factory:image-count', Value: String(MAX_IMAGES) });
    }
    const ready = report.account.events.ofType('Snapshot Ready').map((event) => event.detail as { imageCount: number });
    expect(ready.reduce((n, detail) => n + detail.imageCount, 0)).toBe(MAX_IMAGES * 2);
    expect(report.leftovers).toEqual(NO_LEFTOVERS);
  });
});
