/** notify-build-failure's own rules: what it redacts from a cause and which events it accepts. */
import { describe, expect, it } from 'vitest';
import { consoleUrl, handler, redactSecrets } from '../../functions/notify-build-failure';

describe('redactSecrets', () => {
  it('replaces authorization headers, bearer tokens, password and token values and AWS access key IDs', () => {
    // Prepare
    const cause =
      'pull failed: Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig; retry with password=hunter2x and token="abc123def456"; key AKIAIOSFODNN7EXAMPLE used';
    // Act
    const redacted = redactSecrets(cause);
    // Assess
    expect(redacted).not.toMatch(/eyJhbGciOiJIUzI1NiJ9|hunter2x|abc123def456|AKIAIOSFODNN7EXAMPLE/);
    expect(redacted).toContain('pull failed:');
    expect(redacted.match(/\[redacted\]/g)?.length).toBeGreaterThanOrEqual(4);
  });

  it('leaves a cause without credentials as it is', () => {
    const cause = 'check-snapshot failed with SnapshotFailedError: snap-0123 went to state error';
    expect(redactSecrets(cause)).toBe(cause);
  });
});

describe('notify-build-failure input', () => {
  it('fails when the event is a status change of a succeeded execution', async () => {
    // Prepare
    const event = {
      source: 'aws.states',
      'detail-type': 'Step Functions Execution Status Change',
      region: 'us-west-2',
      detail: { executionArn: 'arn:aws:states:us-west-2:111122223333:execution:sm:x', stateMachineArn: 'arn:aws:states:us-west-2:111122223333:stateMachine:sm', name: 'x', status: 'SUCCEEDED' },
    };
    // Act + Assess
    await expect(handler(event)).rejects.toMatchObject({ name: 'InvalidInputError', message: expect.stringMatching(/detail\.status/) });
  });

  it('links the execution in the Step Functions console of its region', () => {
    const arn = 'arn:aws:states:eu-west-1:111122223333:execution:sm:run-1';
    expect(consoleUrl('eu-west-1', arn)).toBe('https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1#/v2/executions/details/arn%3Aaws%3Astates%3Aeu-west-1%3A111122223333%3Aexecution%3Asm%3Arun-1');
  });
});
