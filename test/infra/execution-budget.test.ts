/**
 * functions/lib/execution-budget.ts counts each Task at most its function's timeout; prepare-build learns the
 * execution's time limit from FACTORY_DEFAULTS. Both against the synthesized stack.
 */
import { describe, expect, it } from 'vitest';
import { BUILD_TASK_SECONDS, CHECK_TASK_SECONDS, EXECUTION_TASK_SECONDS, LIFECYCLE_TASK_SECONDS } from '../../functions/lib/execution-budget';
import { deploymentWith } from './synthesized';

describe('the execution budget and the stack', () => {
  it("counts no Task longer than its function's timeout, and passes the deployed execution limit to prepare-build", () => {
    // Prepare
    const { template } = deploymentWith({ limits: { executionSeconds: 20000 } });
    const functions = Object.values(template.findResources('AWS::Lambda::Function')) as { Properties: { Timeout: number; Description?: string; Environment?: { Variables?: Record<string, unknown> } } }[];
    const byStage = new Map(functions.map((f) => [/functions\/([a-z-]+)\.ts/.exec(f.Properties.Description ?? '')?.[1], f.Properties]));
    // Act
    const buildStages = ['launch-instance', 'send-pull-command', 'stop-instance', 'create-snapshot', 'terminate-instance'];
    const checkStages = ['check-ssm-agent', 'check-pull-command', 'check-instance-stopped', 'check-snapshot'];
    // Assess
    for (const stage of buildStages) expect(byStage.get(stage)?.Timeout, stage).toBeLessThanOrEqual(BUILD_TASK_SECONDS);
    for (const stage of checkStages) expect(byStage.get(stage)?.Timeout, stage).toBe(CHECK_TASK_SECONDS);
    for (const stage of ['prepare-build', 'publish-snapshot']) expect(byStage.get(stage)?.Timeout, stage).toBeLessThanOrEqual(EXECUTION_TASK_SECONDS);
    expect((byStage.get('share-snapshots')?.Timeout ?? 0) + (byStage.get('apply-retention')?.Timeout ?? 0)).toBe(LIFECYCLE_TASK_SECONDS);
    const defaults = JSON.stringify(byStage.get('prepare-build')?.Environment?.Variables?.FACTORY_DEFAULTS);
    expect(defaults).toContain('executionSeconds');
    expect(defaults).toContain('20000');
  });

});
