/**
 * One synthesized default app per test file (module-level memo): bundling the 17 functions is the slow part,
 * so every assertion on the default deployment shares it. Settings come from cdk.json, as `cdk synth` reads them.
 */
import { readFileSync } from 'node:fs';
import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { createApp } from '../../infra/app';
import type { SnapshotFactoryStack } from '../../infra/stack';

export const cdkJsonContext = (): Record<string, unknown> =>
  (JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as { context: Record<string, unknown> }).context;

let memo: { stack: SnapshotFactoryStack; template: Template } | undefined;

/** The default app (cdk.json context), synthesized once: `app.synth()` runs cdk-nag and throws on findings. */
export const defaultDeployment = (): { stack: SnapshotFactoryStack; template: Template } => {
  if (!memo) {
    const { app, stack } = createApp(cdkJsonContext());
    app.synth();
    memo = { stack, template: Template.fromStack(stack) };
  }
  return memo;
};

/** An app with other settings, without bundling (fast): for assertions on IAM, network and validation. */
export const deploymentWith = (settings: Record<string, unknown>): { stack: SnapshotFactoryStack; template: Template } => {
  const { stack } = createApp({ snapshotFactory: settings, 'aws:cdk:bundling-stacks': [] });
  return { stack, template: Template.fromStack(stack) };
};

type Statement = { Effect: string; Action: string | string[]; Resource: unknown; Condition?: Record<string, Record<string, unknown>> };

const asArray = <T>(value: T | T[] | undefined): T[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

/** Every Allow statement of the policies attached to `role` (its inline/default policies). */
export const statementsOfRole = (stack: Stack, template: Template, roleConstruct: { node: { defaultChild?: unknown } }): Statement[] => {
  const roleId = stack.getLogicalId(roleConstruct.node.defaultChild as never);
  const policies = template.findResources('AWS::IAM::Policy');
  return Object.values(policies)
    .filter((policy) => asArray(policy.Properties.Roles).some((ref: unknown) => (ref as { Ref?: string }).Ref === roleId))
    .flatMap((policy) => policy.Properties.PolicyDocument.Statement as Statement[])
    .filter((statement) => statement.Effect === 'Allow');
};

export const actionsOf = (statements: Statement[]): string[] => [...new Set(statements.flatMap((s) => asArray(s.Action)))].sort();

/** Statements that allow `action`. */
export const allowing = (statements: Statement[], action: string): Statement[] =>
  statements.filter((statement) => asArray(statement.Action).includes(action));

export { asArray };
