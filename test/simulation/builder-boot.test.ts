/**
 * The builder's boot under the deployed builder role: the whole flow (real ASL, real handlers, simulated AWS with IAM
 * evaluated) depends on the role letting host-ctr pull Bottlerocket's host containers from Bottlerocket's own ECR
 * account (infra/bottlerocket-registries.ts; docs/builder-host.md). Without that statement the SSM agent never
 * starts, as on AWS.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { NO_LEFTOVERS } from '../../simulation/after-execution';
import type { Deployment } from '../../simulation/deploy/deployment';
import { runSimulation, type SimulationReport } from '../../simulation/run-state-machine';

const NGINX = 'public.ecr.aws/docker/library/nginx:1.27';
/** us-west-2, the simulated account's region, is served by Bottlerocket's default registry account. */
const CONTROL = 'arn:aws:ecr:us-west-2:328549459982:repository/bottlerocket-control';
const ADMIN = 'arn:aws:ecr:us-west-2:328549459982:repository/bottlerocket-admin';

type Statement = { Sid?: string };

/** The deployment without the builder role's statement for Bottlerocket's host-container repositories. */
const withoutHostContainerStatement = (deployment: Deployment): Deployment => {
  const role = deployment.instanceProfiles[0]!.role;
  let removed = 0;
  for (const policy of role.policies) {
    const statements = [policy.document.Statement].flat() as Statement[];
    const kept = statements.filter((statement) => statement.Sid !== 'BottlerocketHostContainers');
    removed += statements.length - kept.length;
    policy.document.Statement = kept as Record<string, unknown>[];
  }
  // The fixture must remove exactly the statement this test is about; a renamed Sid would make it prove nothing.
  expect(removed).toBe(1);
  return deployment;
};

describe('the builder boot under the deployed builder role', () => {
  let report: SimulationReport;
  beforeAll(async () => {
    report = await runSimulation({ input: { images: [NGINX] } });
  });

  it('pulls the control and admin host containers from Bottlerocket\'s account as the builder, allowed', () => {
    // Assess
    expect(report.status).toBe('SUCCEEDED');
    const builderPulls = report.iam.evaluations.filter((e) => e.principal.kind === 'instance');
    expect(builderPulls.map((e) => [e.action, e.resource, e.allowed])).toEqual([
      ['ecr:BatchGetImage', CONTROL, true],
      ['ecr:GetDownloadUrlForLayer', CONTROL, true],
      ['ecr:BatchGetImage', ADMIN, true],
      ['ecr:GetDownloadUrlForLayer', ADMIN, true],
    ]);
  });

  it('fails with SsmAgentTimeoutError, the pull denied and the builder cleaned up, when the role lacks the host-container statement', async () => {
    // Act
    const denied = await runSimulation({ input: { images: [NGINX] }, transformDeployment: withoutHostContainerStatement });
    // Assess
    expect(denied.status).toBe('FAILED');
    expect(denied.error).toBe('SsmAgentTimeoutError');
    expect(denied.cause).toMatch(/Bottlerocket/);
    const refused = denied.iam.evaluations.filter((e) => e.principal.kind === 'instance' && !e.allowed);
    expect(refused.map((e) => [e.action, e.resource])).toContainEqual(['ecr:BatchGetImage', CONTROL]);
    expect(refused[0]!.explanation).toMatch(/allowing ecr:BatchGetImage cover other resources: "arn:aws:ecr:\*:111122223333:repository\/\*"/);
    const [instanceId] = [...denied.account.ec2.instances.keys()];
    expect(denied.account.bottlerocket.bootsOf(instanceId!).flatMap((boot) => boot.journal).join('\n')).toMatch(/host-containers@control: failed to pull image/);
    expect(denied.account.core.callsOf('ssm', 'SendCommand')).toEqual([]);
    expect(denied.leftovers).toEqual(NO_LEFTOVERS);
  });
});
