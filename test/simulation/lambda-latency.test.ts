import { describe, expect, it } from 'vitest';
import { DEFAULT_LAMBDA_LATENCY, LambdaEnvironments, NO_LATENCY, transitionsChargedTo, varyLatency } from '../../simulation/lambda-latency';
import { runSimulation } from '../../simulation/run-state-machine';

const NGINX = 'public.ecr.aws/docker/library/nginx:1.27';

describe('the Lambda latency model', () => {
  it('starts cold without an idle environment, warm with one, and cold again once it idled past keepWarmMs', () => {
    // Prepare
    const lambdas = new LambdaEnvironments(DEFAULT_LAMBDA_LATENCY);
    // Act
    const first = lambdas.start('check-snapshot', 0);
    lambdas.finish('check-snapshot', first.environment, 1_000);
    const warm = lambdas.start('check-snapshot', 2_000);
    const concurrent = lambdas.start('check-snapshot', 2_000);
    lambdas.finish('check-snapshot', warm.environment, 3_000);
    lambdas.finish('check-snapshot', concurrent.environment, 3_000);
    const afterIdle = lambdas.start('check-snapshot', 3_000 + DEFAULT_LAMBDA_LATENCY.keepWarmMs);
    // Assess
    expect(first).toMatchObject({ coldStart: true, initMs: DEFAULT_LAMBDA_LATENCY.initMs['check-snapshot'] });
    expect(warm).toMatchObject({ coldStart: false, initMs: 0 });
    expect(concurrent.coldStart).toBe(true);
    expect(concurrent.environment).not.toBe(warm.environment);
    expect(afterIdle.coldStart).toBe(true);
  });

  it('charges a Task its own transition, the Choice it leads to and the Wait that leads to it', () => {
    // Prepare
    const states = { Check: { Type: 'Task', Next: 'Done' }, Done: { Type: 'Choice' }, WaitAgain: { Type: 'Wait', Next: 'Check' }, Launch: { Type: 'Task', Next: 'Check' } };
    // Act / Assess
    expect(transitionsChargedTo('Check', states)).toBe(3);
    expect(transitionsChargedTo('Launch', states)).toBe(1);
  });

  it('varies every figure within the spread, and keeps the warm life', () => {
    // Act
    const varied = varyLatency(DEFAULT_LAMBDA_LATENCY, () => 1, 0.25);
    // Assess
    expect(varied.transitionMs).toBe(Math.round(DEFAULT_LAMBDA_LATENCY.transitionMs * 1.25));
    expect(varied.initMs['check-ssm-agent']).toBe(Math.round(DEFAULT_LAMBDA_LATENCY.initMs['check-ssm-agent']! * 1.25));
    expect(varied.keepWarmMs).toBe(DEFAULT_LAMBDA_LATENCY.keepWarmMs);
  });

  it('makes a simulated build pay for its cold starts, invocations and transitions', async () => {
    // Act
    const charged = await runSimulation({ input: { images: [NGINX] } });
    const free = await runSimulation({ input: { images: [NGINX] }, lambdaLatency: NO_LATENCY });
    // Assess
    const checks = charged.lambdaCharges.filter((c) => c.functionName === 'check-ssm-agent');
    expect(checks[0]!.coldStart).toBe(true);
    expect(checks.slice(1).every((c) => !c.coldStart)).toBe(true);
    expect(new Set(charged.lambdaCharges.filter((c) => c.coldStart).map((c) => c.functionName)).size).toBe(charged.lambdaCharges.filter((c) => c.coldStart).length);
    expect(charged.durationMs).toBeGreaterThan(free.durationMs);
    expect(free.lambdaCharges.every((c) => c.beforeMs === 0 && c.afterMs === 0)).toBe(true);
  });
});
