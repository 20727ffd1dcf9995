/**
 * The checks' inner poll (functions/lib/poll-inside.ts) in whole simulated runs: a check that polls inside its
 * Lambda ends its loop on the event with fewer iterations, and the Lambda's remaining time (the deployed Timeout, on
 * the virtual clock: simulation/lambda-runtime.ts) ends an inner poll before the window does.
 */
import { describe, expect, it } from 'vitest';
import { INNER_POLL, TIMEOUT_MARGIN_MS } from '../../functions/lib/poll-inside';
import { runSimulation, type SimulationReport } from '../../simulation/run-state-machine';

const NGINX = 'public.ecr.aws/docker/library/nginx:1.27';

const entries = (report: SimulationReport, state: string) => report.events.filter((e) => e.type === 'StateEntered' && e.state === state);
/** When the builder really reached `stopped`: the successful StopInstances plus the simulated stopping time. */
const stoppedAt = (report: SimulationReport) =>
  report.account.core.callsOf('ec2', 'StopInstances').find((call) => !call.error)!.at + report.account.ec2.options.stoppingMs;

describe('checks polling inside their Lambda', () => {
  it('ends the stop loop on the event, in fewer loop iterations than one look per invocation', async () => {
    // Act
    const inside = await runSimulation({ input: { images: [NGINX] } });
    const once = await runSimulation({ input: { images: [NGINX] }, lambdaContext: false });
    // Assess: both build; polling inside needs fewer Wait -> Check -> Choice iterations and notices the stop within
    // one inner interval (plus the return and the next Task's start).
    expect(inside.status, inside.cause).toBe('SUCCEEDED');
    expect(once.status, once.cause).toBe('SUCCEEDED');
    expect(entries(inside, 'WaitForStop').length).toBeLessThan(entries(once, 'WaitForStop').length);
    expect(inside.stateTransitions).toBeLessThan(once.stateTransitions);
    const lastCheck = inside.lambdaCharges.filter((c) => c.state === 'CheckInstanceStopped').at(-1)!;
    expect(lastCheck.handlerMs).toBeGreaterThan(INNER_POLL.stop.intervalSeconds * 1000); // it polled, it did not look once
    const noticedMs = entries(inside, 'CreateSnapshot')[0]!.at - stoppedAt(inside);
    expect(noticedMs).toBeGreaterThanOrEqual(0);
    expect(noticedMs).toBeLessThanOrEqual(INNER_POLL.stop.intervalSeconds * 1000 + 2000);
  });

  it('ends an inner poll at the margin of the Lambda\'s remaining time, before its window', async () => {
    // Prepare: the stop check deployed with a 20 s Timeout, shorter than its 60 s window.
    const timeoutSeconds = 20;
    // Act
    const report = await runSimulation({
      input: { images: [NGINX], limits: { stopSeconds: 300 } },
      faults: ['never-finish:stop'],
      transformDeployment: (deployment) => {
        deployment.functions['check-instance-stopped']!.timeoutSeconds = timeoutSeconds;
        return deployment;
      },
    });
    // Assess: the loop still ends at its limit, named (never Sandbox.Timedout); every invocation returned before its
    // Timeout with the margin, and those that polled ran past half of it (the margin, not the window, ended them).
    expect(report.status).toBe('FAILED');
    expect(report.error).toBe('StopTimeoutError');
    const checks = report.lambdaCharges.filter((c) => c.state === 'CheckInstanceStopped');
    for (const check of checks) expect(check.handlerMs).toBeLessThanOrEqual(timeoutSeconds * 1000 - TIMEOUT_MARGIN_MS + 1000);
    const polled = checks.filter((c) => c.handlerMs > (timeoutSeconds * 1000) / 2);
    expect(polled.length).toBeGreaterThan(3);
    expect(Math.max(...checks.map((c) => c.handlerMs))).toBeLessThan(INNER_POLL.stop.windowSeconds * 1000);
  });
});
