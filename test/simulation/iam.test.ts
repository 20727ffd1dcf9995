import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { handler as reap } from '../../functions/reap-builders';
import { handler as startBuild } from '../../functions/start-build';
import { FUNCTION_ACTIONS, IMPLICIT_ACTIONS, type FunctionName } from '../../infra/permissions';
import { createSimulatedAccount, type SimulatedAccount } from '../../simulation/aws/account';
import { installSimulatedAws } from '../../simulation/aws/install';
import { defaultDeployment, type Deployment } from '../../simulation/deploy/deployment';
import { runAsFunction } from '../../simulation/iam/caller';
import { installSimulatedIam } from '../../simulation/iam/install';
import { runSimulation, type SimulationReport } from '../../simulation/run-state-machine';

const NGINX = 'public.ecr.aws/docker/library/nginx:1.27';
type Statement = { Action?: string | string[]; Condition?: Record<string, Record<string, unknown>>; Resource?: unknown };

const statementsOf = (deployment: Deployment, fn: string): Statement[] =>
  deployment.functions[fn]!.role.policies.flatMap((policy) => [policy.document.Statement].flat() as Statement[]);
const actionsOf = (statement: Statement) => [statement.Action ?? []].flat();

/** The actions a function's code may cause: its own calls and what they imply. */
const allowedFor = (fn: FunctionName) => new Set(FUNCTION_ACTIONS[fn].flatMap((action) => [action, ...(IMPLICIT_ACTIONS[action] ?? [])]));

describe('simulated IAM in a build', () => {
  let report: SimulationReport;
  beforeAll(async () => {
    report = await runSimulation({ input: { images: [NGINX] } });
  });

  it('evaluates every request of a default build and denies none', () => {
    // Assess
    expect(report.status).toBe('SUCCEEDED');
    expect(report.iam.evaluated).toBeGreaterThan(30);
    expect(report.iam.denied).toBe(0);
    for (const action of ['ec2:RunInstances', 'iam:PassRole', 'ec2:CreateTags', 'ssm:SendCommand', 'ec2:CreateSnapshot', 'ssm:PutParameter', 'events:PutEvents']) {
      expect(report.iam.byAction[action]?.evaluated, action).toBeGreaterThan(0);
    }
    // Every request the account answered was signed, and every one was authorized.
    const signed = report.account.core.calls.filter((call) => call.principal);
    expect(signed.length).toBe(report.account.core.calls.length);
  });

  it('signs each request as the function whose code sent it, with that function\'s deployed role', () => {
    // Prepare
    const deployment = defaultDeployment();
    // Assess
    const builderRole = deployment.instanceProfiles[0]!.role;
    const [instanceId] = [...report.account.ec2.instances.keys()];
    for (const evaluation of report.iam.evaluations) {
      if (evaluation.principal.kind === 'instance') {
        // The builder itself: host-container pulls at boot, as its instance profile's role (simulation/aws/bottlerocket-host.ts).
        expect(evaluation.principal.instanceId).toBe(instanceId);
        expect(['ecr:GetAuthorizationToken', 'ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer']).toContain(evaluation.action);
        expect(evaluation.principalArn).toBe(`arn:aws:sts::111122223333:assumed-role/${builderRole.name}/${instanceId}`);
        continue;
      }
      expect(evaluation.principal.kind).toBe('function');
      const name = (evaluation.principal as { name: FunctionName }).name;
      expect(allowedFor(name).has(evaluation.action), `${name} sent ${evaluation.action}`).toBe(true);
      const fn = deployment.functions[name]!;
      expect(evaluation.principalArn).toBe(`arn:aws:sts::111122223333:assumed-role/${fn.role.name}/${fn.functionName}`);
    }
    const launches = report.iam.evaluations.filter((e) => e.action === 'ec2:RunInstances');
    expect(new Set(launches.map((e) => (e.principal as { name: string }).name))).toEqual(new Set(['launch-instance']));
  });

  it('launches the builder with the deployed instance profile, subnet and security group', () => {
    // Prepare
    const deployment = defaultDeployment();
    // Assess
    const [instance] = [...report.account.ec2.instances.values()];
    expect(instance?.IamInstanceProfile?.Name).toBe(deployment.instanceProfiles[0]!.name);
    expect(instance?.SubnetId).toBe(deployment.subnetIds[0]);
    expect(instance?.SecurityGroupIds).toEqual(deployment.securityGroupIds);
  });
});

describe('simulated IAM denials', () => {
  const planted = (fn: string, change: (statement: Statement) => void) => (deployment: Deployment) => {
    for (const statement of statementsOf(deployment, fn)) change(statement);
    return deployment;
  };

  it('fails the build with UnauthorizedOperation when RunInstances requires another tag value', async () => {
    // Prepare
    const transformDeployment = planted('launch-instance', (s) => {
      const equals = s.Condition?.StringEquals;
      if (actionsOf(s).includes('ec2:RunInstances') && equals?.['aws:RequestTag/snapshot-factory:managed']) equals['aws:RequestTag/snapshot-factory:managed'] = 'false';
    });
    // Act
    const report = await runSimulation({ input: { images: [NGINX] }, transformDeployment });
    // Assess
    expect(report.status).toBe('FAILED');
    expect(report.error).toBe('AccessDeniedError');
    expect(report.cause).toMatch(/UnauthorizedOperation: You are not authorized to perform this operation\. User: arn:aws:sts::111122223333:assumed-role\/SnapshotFactory-FactoryLaunchInstanceRole[^/]+\/\S+ is not authorized to perform: ec2:RunInstances on resource: arn:aws:ec2:us-west-2:111122223333:instance\/\* because no identity-based policy allows the ec2:RunInstances action/);
    expect(report.cause).toContain('StringEquals aws:RequestTag/snapshot-factory:managed "false" (the request has "true")');
    expect(report.iam.denied).toBeGreaterThan(0);
    expect(report.leftovers.instances).toEqual([]);
  });

  it('fails the build when tagging on launch is allowed only for another create action', async () => {
    // Prepare
    const transformDeployment = planted('launch-instance', (s) => {
      if (s.Condition?.StringEquals?.['ec2:CreateAction'] === 'RunInstances') s.Condition.StringEquals['ec2:CreateAction'] = 'CreateVolume';
    });
    // Act
    const report = await runSimulation({ input: { images: [NGINX] }, transformDeployment });
    // Assess
    expect(report.status).toBe('FAILED');
    expect(report.cause).toMatch(/UnauthorizedOperation.*is not authorized to perform: ec2:CreateTags on resource: arn:aws:ec2:us-west-2:111122223333:(instance|volume|network-interface)\/\*/);
    expect(report.cause).toContain('ec2:CreateAction "CreateVolume" (the request has "RunInstances")');
  });

  it('denies an action missing from the role, naming it and the resource', async () => {
    // Prepare
    const transformDeployment = (deployment: Deployment) => {
      for (const policy of deployment.functions['stop-instance']!.role.policies) {
        const statements = [policy.document.Statement].flat() as Statement[];
        policy.document.Statement = statements.filter((s) => !actionsOf(s).includes('ec2:StopInstances'));
      }
      return deployment;
    };
    // Act
    const report = await runSimulation({ input: { images: [NGINX] }, transformDeployment });
    // Assess
    expect(report.status).toBe('FAILED');
    expect(report.cause).toMatch(/UnauthorizedOperation.*not authorized to perform: ec2:StopInstances on resource: arn:aws:ec2:us-west-2:111122223333:instance\/i-[0-9a-f]+ .*no statement of role \S+ allows ec2:StopInstances at all/);
    expect(report.iam.byAction['ec2:StopInstances']).toEqual({ evaluated: 1, denied: 1 });
    // The cleanup path (its own role) still terminates the builder.
    expect(report.leftovers.instances).toEqual([]);
  });

  it('answers a JSON service\'s denial with AccessDeniedException', async () => {
    // Prepare
    const transformDeployment = (deployment: Deployment) => {
      for (const policy of deployment.functions['publish-snapshot']!.role.policies) {
        policy.document.Statement = ([policy.document.Statement].flat() as Statement[]).filter((s) => !actionsOf(s).includes('ssm:PutParameter'));
      }
      return deployment;
    };
    // Act
    const report = await runSimulation({ input: { images: [NGINX] }, transformDeployment });
    // Assess
    expect(report.status).toBe('FAILED');
    expect(report.cause).toMatch(/AccessDeniedException: User: arn:aws:sts::111122223333:assumed-role\/\S+ is not authorized to perform: ssm:PutParameter on resource: arn:aws:ssm:us-west-2:111122223333:parameter\/snapshot-factory\/\S+ because no identity-based policy allows the ssm:PutParameter action/);
  });
});

describe('running code as a function outside the state machine', () => {
  let account: SimulatedAccount;
  let undo: (() => void)[] = [];
  const setUp = () => {
    vi.useFakeTimers({ now: new Date('2026-11-24T12:00:00Z') });
    account = createSimulatedAccount();
    const uninstallAws = installSimulatedAws(account.core);
    const { uninstall } = installSimulatedIam(account);
    vi.stubEnv('STATE_MACHINE_ARN', defaultDeployment().stateMachine!.arn);
    undo = [uninstall, uninstallAws, () => vi.unstubAllEnvs(), () => vi.useRealTimers()];
  };
  afterEach(() => undo.forEach((fn) => fn()));

  it('runs reap-builders as its own role', async () => {
    // Prepare
    setUp();
    // Act
    const out = await runAsFunction('reap-builders', () => reap({}));
    // Assess
    expect(out.terminatedInstanceIds).toEqual([]);
    expect(account.core.calls.map((call) => `${call.service}:${call.operation}`)).toEqual(['ec2:DescribeInstances', 'ec2:DescribeSnapshots']);
    expect(new Set(account.core.calls.map((call) => JSON.stringify(call.principal)))).toEqual(new Set([JSON.stringify({ kind: 'function', name: 'reap-builders' })]));
  });

  it('runs start-build as its own role: digests from the account\'s ECR, StartExecution on the deployed state machine', async () => {
    // Prepare
    setUp();
    account.ecr.pushImage('team/model', 'v1');
    vi.stubEnv('RECIPES', JSON.stringify([{ name: 'ml', images: ['111122223333.dkr.ecr.us-west-2.amazonaws.com/team/model:v1'] }]));
    // Act
    const out = (await runAsFunction('start-build', () => startBuild({ source: 'schedule', recipe: 'ml' }))) as { started: unknown[] };
    // Assess
    expect(out.started).toHaveLength(1);
    // Attempt 1 of the digest set is probed first (unknown: ExecutionDoesNotExist), then started.
    expect(account.core.calls.map((call) => `${call.service}:${call.operation}`)).toEqual(['ecr:BatchGetImage', 'sfn:DescribeExecution', 'sfn:StartExecution']);
    expect(account.core.calls.map((call) => call.error)).toEqual([undefined, 'ExecutionDoesNotExist', undefined]);
  });

  it('fails when start-build is pointed at a state machine its role is not scoped to', async () => {
    // Prepare
    setUp();
    account.ecr.pushImage('team/model', 'v1');
    vi.stubEnv('RECIPES', JSON.stringify([{ name: 'ml', images: ['111122223333.dkr.ecr.us-west-2.amazonaws.com/team/model:v1'] }]));
    vi.stubEnv('STATE_MACHINE_ARN', 'arn:aws:states:us-west-2:111122223333:stateMachine:someone-else');
    // Act
    const attempt = runAsFunction('start-build', () => startBuild({ source: 'schedule', recipe: 'ml' }));
    // Assess
    await expect(attempt).rejects.toMatchObject({
      name: 'AccessDeniedError',
      message: expect.stringMatching(/AccessDeniedException: User: \S+ is not authorized to perform: states:DescribeExecution on resource: arn:aws:states:us-west-2:111122223333:execution:someone-else:ml-[0-9a-f]{16}-1/),
    });
  });

  it('fails when the same code runs as a function whose role lacks its calls', async () => {
    // Prepare
    setUp();
    // Act
    const attempt = runAsFunction('check-snapshot', () => reap({}));
    // Assess
    await expect(attempt).rejects.toMatchObject({ name: 'AccessDeniedError', message: expect.stringMatching(/not authorized to perform: ec2:DescribeInstances on resource: \*/) });
  });

  it('fails when a request is sent outside any principal while IAM is on', async () => {
    // Prepare
    setUp();
    // Act
    const attempt = reap({});
    // Assess
    await expect(attempt).rejects.toThrow(/outside any principal while IAM is on: run the code with runAsFunction/);
  });
});

describe('builder instance principal', () => {
  let report: SimulationReport;
  beforeAll(async () => {
    report = await runSimulation({ input: { images: [NGINX] } });
  });
  const authorize = (instanceId: string, action: string, arn: string) => {
    const { uninstall } = installSimulatedIam(report.account);
    try {
      return report.account.core.authorize({ kind: 'instance', instanceId }, { action, resources: [{ arn }] });
    } finally {
      uninstall();
    }
  };
  const builder = () => [...report.account.ec2.instances.keys()][0]!;

  it('allows the builder role\'s ECR pulls', () => {
    // Prepare
    const repository = 'arn:aws:ecr:us-west-2:111122223333:repository/team/app';
    // Act
    const decisions = ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer'].map((action) => authorize(builder(), action, repository));
    const token = authorize(builder(), 'ecr:GetAuthorizationToken', '*');
    // Assess
    expect(decisions.map((d) => d.allowed)).toEqual([true, true]);
    expect(token.allowed).toBe(true);
    expect(token.principalArn).toBe(`arn:aws:sts::111122223333:assumed-role/${defaultDeployment().instanceProfiles[0]!.role.name}/${builder()}`);
  });

  it('allows the SSM agent\'s calls from the AWS managed policy AmazonSSMManagedInstanceCore', () => {
    // Act
    const decision = authorize(builder(), 'ssmmessages:CreateControlChannel', '*');
    // Assess
    expect(decision.allowed).toBe(true);
  });

  it('denies what the builder role does not grant, explaining why', () => {
    // Act
    const push = authorize(builder(), 'ecr:PutImage', 'arn:aws:ecr:us-west-2:111122223333:repository/team/app');
    const terminate = authorize(builder(), 'ec2:TerminateInstances', `arn:aws:ec2:us-west-2:111122223333:instance/${builder()}`);
    // Assess
    expect(push).toMatchObject({ allowed: false, action: 'ecr:PutImage', explanation: expect.stringMatching(/no statement of role \S+ allows ecr:PutImage at all/) });
    expect(push.message).toMatch(/^User: arn:aws:sts::111122223333:assumed-role\/\S+\/i-[0-9a-f]+ is not authorized to perform: ecr:PutImage on resource: arn:aws:ecr:/);
    expect(terminate.allowed).toBe(false);
  });

  it('denies an instance that has no instance profile', () => {
    // Prepare
    const instance = report.account.ec2.instances.get(builder())!;
    const profile = instance.IamInstanceProfile;
    instance.IamInstanceProfile = undefined;
    try {
      // Act
      const decision = authorize(builder(), 'ecr:GetAuthorizationToken', '*');
      // Assess
      expect(decision).toMatchObject({ allowed: false, explanation: expect.stringContaining('has no instance profile') });
    } finally {
      instance.IamInstanceProfile = profile;
    }
  });
});
