/**
 * Static checks of statemachine/snapshot-factory.asl.json, read as the CDK stack and the simulation read it.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import aslValidator from 'asl-validator';
import { describe, expect, it } from 'vitest';
import * as errors from '../../functions/lib/errors';
import { RETRYABLE_ERROR_NAMES, TERMINAL_ERROR_NAMES } from '../../functions/lib/errors';
import * as schemas from '../../functions/lib/schemas';
import { ROOT, allStates, loadDefinition, taskBindings } from '../../simulation/run-state-machine';

const definition = loadDefinition();
const states = allStates(definition);
const tasks = states.filter(([, state]) => state.Type === 'Task');
const mapState = states.find(([, state]) => state.Type === 'Map')![1];
const iterationStates = Object.entries(mapState.ItemProcessor.States as Record<string, Record<string, unknown>>);
const LAMBDA_ERRORS = ['Lambda.ServiceException', 'Lambda.AWSLambdaException', 'Lambda.SdkClientException', 'Lambda.TooManyRequestsException'];
const exportedErrorNames = new Set(
  (Object.values(errors) as unknown[])
    .filter((value) => typeof value === 'function' && (value as { prototype?: unknown }).prototype instanceof Error)
    .map((ErrorClass) => new (ErrorClass as new (message: string) => Error)('probe').name),
);

describe('statemachine/snapshot-factory.asl.json', () => {
  it('passes asl-validator with path and ARN checks, substitutions unfilled', () => {
    // Act
    const result = aslValidator(structuredClone(definition), { checkPaths: true, checkArn: true });

    // Assess
    expect(result.errorsText()).toBe('');
    expect(result.isValid).toBe(true);
  });

  it('binds every substitution to a functions/<kebab-name>.ts that exports handler', async () => {
    const bindings = taskBindings(definition);
    expect(bindings.length).toBeGreaterThanOrEqual(12);
    for (const binding of bindings) {
      const file = join(ROOT, 'functions', `${binding.functionName}.ts`);
      expect(existsSync(file), `${binding.state} -> ${file}`).toBe(true);
      const module = (await import(file)) as { handler?: unknown };
      expect(typeof module.handler, binding.state).toBe('function');
    }
    const substitutions = new Set(JSON.stringify(definition).match(/\$\{\w+\}/g));
    expect([...substitutions].every((name) => /^\$\{\w+FunctionArn\}$/.test(name))).toBe(true);
  });

  it('invokes every stage function of the convention', () => {
    const invoked = new Set(taskBindings(definition).map((binding) => binding.functionName));
    for (const stage of ['prepare-build', 'launch-instance', 'check-ssm-agent', 'send-pull-command', 'check-pull-command', 'stop-instance', 'check-instance-stopped', 'create-snapshot', 'check-snapshot', 'terminate-instance', 'cleanup-build', 'publish-snapshot']) {
      expect(invoked, stage).toContain(stage);
    }
  });

  it('matches only States.*, Lambda.* or error names exported by functions/lib/errors.ts', () => {
    const matchers = tasks.flatMap(([, state]) => [...(state.Retry ?? []), ...(state.Catch ?? [])]);
    for (const name of matchers.flatMap((matcher: { ErrorEquals: string[] }) => matcher.ErrorEquals)) {
      const known = name.startsWith('States.') || LAMBDA_ERRORS.includes(name) || exportedErrorNames.has(name);
      expect(known, name).toBe(true);
    }
  });

  it('never retries a terminal error', () => {
    for (const [name, state] of tasks) {
      for (const retrier of (state.Retry ?? []) as { ErrorEquals: string[] }[]) {
        for (const error of retrier.ErrorEquals) expect(TERMINAL_ERROR_NAMES as readonly string[], `${name} retries ${error}`).not.toContain(error);
        expect(retrier.ErrorEquals, name).not.toContain('States.ALL');
      }
    }
  });

  it('retries Lambda service errors and every retryable name with backoff and full jitter on every Task', () => {
    for (const [name, state] of tasks) {
      const retriers = state.Retry as { ErrorEquals: string[]; BackoffRate: number; JitterStrategy: string; MaxDelaySeconds: number; MaxAttempts: number }[];
      expect(retriers[0]!.ErrorEquals, name).toEqual(LAMBDA_ERRORS);
      const retried = new Set(retriers.flatMap((retrier) => retrier.ErrorEquals));
      for (const retryable of RETRYABLE_ERROR_NAMES) expect(retried, `${name} retries ${retryable}`).toContain(retryable);
      for (const retrier of retriers) {
        expect(retrier.JitterStrategy, name).toBe('FULL');
        expect(retrier.BackoffRate, name).toBeGreaterThan(1);
        expect(retrier.MaxDelaySeconds, name).toBeGreaterThan(0);
        expect(retrier.MaxAttempts, name).toBeGreaterThan(0);
      }
    }
  });

  it('catches States.ALL on every Task of an iteration, launch included, into cleanup', () => {
    const iterationTasks = iterationStates.filter(([name, state]) => state.Type === 'Task' && !name.startsWith('Cleanup'));
    expect(iterationTasks.map(([name]) => name)).toContain('LaunchInstance');
    for (const [name, state] of iterationTasks) {
      const catchers = state.Catch as { ErrorEquals: string[]; ResultPath: string; Next: string }[] | undefined;
      expect(catchers, name).toEqual([{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'CleanupAfterFailure' }]);
    }
    expect(mapState.Catch).toEqual([{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'CleanupExecution' }]);
  });

  it('ends every failure path in a Fail state that keeps the original error name', () => {
    const fails = states.filter(([, state]) => state.Type === 'Fail');
    expect(fails.length).toBeGreaterThanOrEqual(2);
    for (const [name, state] of fails) {
      expect(state.ErrorPath, name).toMatch(/^\$\.(cleanup\.error|error\.Error)$/);
      expect(state.CausePath, name).toMatch(/^\$\.(cleanup\.cause|error\.Cause)$/);
    }
  });

  it('loops every wait as Task -> Choice -> Wait -> the same Task', () => {
    const byName = Object.fromEntries(iterationStates);
    const waits = iterationStates.filter(([, state]) => state.Type === 'Wait');
    expect(waits.map(([name]) => name)).toEqual(['WaitForSsmAgent', 'WaitForPull', 'WaitForStop', 'WaitForSnapshot', 'WaitForFastSnapshotRestore', 'WaitForSnapshotCopies']);
    for (const [name, wait] of waits) {
      const check = byName[wait.Next as string]!;
      expect(check.Type, name).toBe('Task');
      const choice = byName[check.Next as string]!;
      expect(choice.Type, name).toBe('Choice');
      expect(choice.Default, name).toBe(name);
      // The check says how long to wait: the Wait reads it where the check's ResultPath stored it.
      expect(wait.Seconds, name).toBeUndefined();
      expect(wait.SecondsPath, name).toBe(`${check.ResultPath as string}.nextCheckSeconds`);
      expect(Object.keys(check.ResultSelector as object), name).toContain('nextCheckSeconds.$');
      // Every loop checks first: the state that enters the loop leads to the check, not to the Wait.
      const entering = iterationStates.filter(([other, state]) => state.Next === wait.Next && other !== name);
      expect(entering.length, name).toBe(1);
      expect(entering[0]![1].Type, name).toBe('Task');
    }
  });

  it('keeps every field of each stage output schema in its ResultSelector', () => {
    const outputSchemaOf: Record<string, { shape: Record<string, unknown> }> = {
      LaunchInstance: schemas.instanceSchema,
      CheckSsmAgent: schemas.ssmAgentStatusSchema,
      SendPullCommand: schemas.pullCommandSchema,
      CheckPullCommand: schemas.pullStatusSchema,
      StopInstance: schemas.stopRequestSchema,
      CheckInstanceStopped: schemas.stopStatusSchema,
      CreateSnapshot: schemas.snapshotSchema,
      CheckSnapshot: schemas.snapshotStatusSchema,
      EnableFastSnapshotRestore: schemas.fastSnapshotRestoreStatusSchema,
      CheckFastSnapshotRestore: schemas.fastSnapshotRestoreStatusSchema,
    };
    const byName = Object.fromEntries(iterationStates);
    for (const [name, schema] of Object.entries(outputSchemaOf)) {
      const selected = Object.keys(byName[name]!.ResultSelector as object).map((key) => key.replace(/\.\$$/, ''));
      expect(selected.sort(), name).toEqual(Object.keys(schema.shape).sort());
    }
  });

  it('sets an execution time limit longer than the default stage limits together', () => {
    expect(definition.TimeoutSeconds).toBeGreaterThanOrEqual(600 + 3900 + 900 + 7200);
  });
});
