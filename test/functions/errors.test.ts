import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as errors from '../../functions/lib/errors';
import { AwsServiceError } from '../../simulation/aws/core';

type ErrorClass = (new (message: string) => errors.FactoryError) & { name: string };

const errorClasses = (Object.values(errors) as unknown[]).filter(
  (value): value is ErrorClass => typeof value === 'function' && value.prototype instanceof errors.FactoryError,
);

describe('error names', () => {
  it('gives every error class a literal name equal to its class name and lists it exactly once', () => {
    const listed = [...errors.RETRYABLE_ERROR_NAMES, ...errors.TERMINAL_ERROR_NAMES] as string[];
    expect(new Set(listed).size).toBe(listed.length);
    const names = errorClasses.map((ErrorClass) => new ErrorClass('x').name);
    for (const ErrorClass of errorClasses) expect(new ErrorClass('x').name).toBe(ErrorClass.name);
    expect([...names].sort()).toEqual([...listed].sort());
  });

  it('documents every error name in docs/errors.md', () => {
    const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
    for (const ErrorClass of errorClasses) expect(doc).toContain(`\`${new ErrorClass('x').name}\``);
  });
});

describe('toFactoryError', () => {
  it.each([
    ['RequestLimitExceeded', 400, 'TransientAwsError'],
    ['ThrottlingException', 400, 'TransientAwsError'],
    ['InternalError', 500, 'TransientAwsError'],
    ['ServiceUnavailable', 503, 'TransientAwsError'],
    ['UnauthorizedOperation', 403, 'AccessDeniedError'],
    ['AccessDeniedException', 400, 'AccessDeniedError'],
    ['InvalidParameterValue', 400, 'AwsRequestError'],
    ['InvalidInstanceID.NotFound', 400, 'AwsRequestError'],
  ])('translates %s (%i) into %s and keeps the cause', (code, status, expected) => {
    const original = new AwsServiceError(code, 'boom', status);
    const translated = errors.toFactoryError(original, 'ec2:DoThing i-1');
    expect(translated.name).toBe(expected);
    expect(translated.message).toBe(`ec2:DoThing i-1 failed: ${code}: boom`);
    expect(translated.cause).toBe(original);
  });

  it('translates network failures into the retryable error', () => {
    const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    expect(errors.toFactoryError(reset, 'ssm:GetCommandInvocation').name).toBe('TransientAwsError');
  });

  it('passes the factory own errors through unchanged', () => {
    const own = new errors.PullFailedError('pull failed');
    expect(errors.toFactoryError(own, 'x')).toBe(own);
  });
});
