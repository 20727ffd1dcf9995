/**
 * The simulated IAM: decides each {@link IamRequest} against the deployed identity policies of the caller's
 * role with @cloud-copilot/iam-simulate (npm, AGPL-3.0-or-later, github.com/cloud-copilot/iam-simulate), an
 * independent, maintained implementation of AWS's policy evaluation logic (every condition operator,
 * wildcards, explicit deny). It is a devDependency used only here and by tests; test/simulation/iam-license.test.ts
 * fails if functions/ or infra/ import it, so it never ships in a Lambda bundle. No evaluation is written here.
 *
 * Principals: a function is its deployed role (session name = the function's name, as Lambda names it); a
 * builder instance is the role of the instance profile EC2 launched it with (session name = instance ID).
 * Decisions are memoized by role + request, so a build's few hundred checks cost a few milliseconds each once.
 *
 * Not modelled: SCPs and RCPs (an account outside Organizations), resource-based policies (key policies,
 * repository policies; same-account identity-policy grants suffice for every call the factory makes),
 * permission boundaries and session policies (the factory sets none), VPC endpoint policies.
 */
import { runUnsafeSimulation } from '@cloud-copilot/iam-simulate';
import type { IamDecision, IamPrincipal, IamRequest } from '../aws/core';
import type { SimulatedAccount } from '../aws/account';
import type { Deployment, DeployedRole } from '../deploy/deployment';

/** One authorization check: one action on one resource. */
export interface IamEvaluation {
  principal: IamPrincipal;
  /** `arn:aws:sts::<account>:assumed-role/<role>/<session>`. */
  principalArn: string;
  action: string;
  resource: string;
  /** The condition keys the check was evaluated with. */
  context?: Record<string, string | string[]>;
  allowed: boolean;
  explanation?: string;
}

/** The IAM figures of a run (SimulationReport.iam). */
export interface IamFigures {
  /** Authorization checks (one per action and resource). */
  evaluated: number;
  denied: number;
  byAction: Record<string, { evaluated: number; denied: number }>;
}

type Statement = { Effect?: string; Condition?: Record<string, Record<string, unknown>>; [key: string]: unknown };

const asArray = <T>(value: T | T[] | undefined): T[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

/** Condition-key aliases of a resource's tags, per the service's authorization reference page. */
const resourceTagKeys = (action: string, key: string): string[] => {
  const service = action.split(':')[0];
  if (service === 'ec2') return [`aws:ResourceTag/${key}`, `ec2:ResourceTag/${key}`];
  if (service === 'ssm') return [`aws:ResourceTag/${key}`, `ssm:resourceTag/${key}`];
  return [`aws:ResourceTag/${key}`];
};

type Decision = { allowed: boolean; explanation?: string };
/** Decisions per deployment, shared by every run of the process (the 78 scenarios make the same requests). */
const decisionsOf = new WeakMap<Deployment, Map<string, Decision>>();

export class SimulatedIam {
  readonly evaluations: IamEvaluation[] = [];
  private readonly decisions: Map<string, Decision>;

  constructor(
    readonly deployment: Deployment,
    private readonly account: SimulatedAccount,
  ) {
    const decisions = decisionsOf.get(deployment) ?? new Map<string, Decision>();
    decisionsOf.set(deployment, decisions);
    this.decisions = decisions;
  }

  /** The role and session of `principal`; throws for a function the template does not deploy. */
  identity(principal: IamPrincipal): { role: DeployedRole; session: string } | { error: string } {
    if (principal.kind === 'function') {
      const fn = this.deployment.functions[principal.name];
      if (!fn) throw new Error(`The deployed template has no function functions/${principal.name}.ts (known: ${Object.keys(this.deployment.functions).join(', ')})`);
      return { role: fn.role, session: fn.functionName };
    }
    const instance = this.account.ec2.instances.get(principal.instanceId);
    if (!instance) return { error: `instance ${principal.instanceId} does not exist` };
    const launched = instance.IamInstanceProfile;
    if (!launched) return { error: `instance ${principal.instanceId} has no instance profile, so no credentials` };
    const profile = this.deployment.instanceProfiles.find((p) => p.name === launched.Name || p.arn === launched.Arn);
    if (!profile) return { error: `instance ${principal.instanceId}'s instance profile ${launched.Name ?? launched.Arn} is not one the template deploys` };
    return { role: profile.role, session: principal.instanceId };
  }

  /** The Authorizer of simulation/aws/core.ts. */
  readonly authorize = (principal: IamPrincipal, request: IamRequest): IamDecision => {
    const identity = this.identity(principal);
    if ('error' in identity) {
      const resource = request.resources[0]?.arn ?? '*';
      this.record({ principal, principalArn: '(none)', action: request.action, resource, allowed: false, explanation: identity.error });
      return { allowed: false, action: request.action, resource, explanation: identity.error, message: `Unable to locate credentials: ${identity.error}` };
    }
    const principalArn = `arn:aws:sts::${this.deployment.accountId}:assumed-role/${identity.role.name}/${identity.session}`;
    for (const resource of request.resources) {
      const context: Record<string, string | string[]> = {
        'aws:PrincipalArn': identity.role.arn,
        'aws:PrincipalAccount': this.deployment.accountId,
        'aws:RequestedRegion': this.deployment.region,
        ...request.context,
        ...Object.fromEntries(Object.entries(resource.tags ?? {}).flatMap(([k, v]) => resourceTagKeys(request.action, k).map((key) => [key, v]))),
      };
      const decision = this.decide(identity.role, principalArn, request.action, resource.arn, context);
      this.record({ principal, principalArn, action: request.action, resource: resource.arn, context, ...decision });
      if (!decision.allowed) {
        return { allowed: false, principalArn, action: request.action, resource: resource.arn, explanation: decision.explanation, message: deniedMessage(principalArn, request.action, resource.arn, decision.explanation) };
      }
    }
    return { allowed: true, principalArn };
  };

  /** Checks, denials and per-action counts so far. */
  figures(): IamFigures {
    const byAction: IamFigures['byAction'] = {};
    for (const evaluation of this.evaluations) {
      const entry = (byAction[evaluation.action] ??= { evaluated: 0, denied: 0 });
      entry.evaluated += 1;
      if (!evaluation.allowed) entry.denied += 1;
    }
    return { evaluated: this.evaluations.length, denied: this.evaluations.filter((e) => !e.allowed).length, byAction };
  }

  private record(evaluation: IamEvaluation): void {
    this.evaluations.push(evaluation);
  }

  private decide(role: DeployedRole, principalArn: string, action: string, resource: string, context: Record<string, string | string[]>) {
    const key = JSON.stringify([role.arn, action, resource, Object.entries(context).sort(([a], [b]) => a.localeCompare(b))]);
    let decision = this.decisions.get(key);
    if (!decision) {
      const result = this.evaluate(role.policies.map((p) => ({ name: p.name, policy: p.document })), principalArn, action, resource, context);
      decision = result === 'Allowed' ? { allowed: true } : { allowed: false, explanation: this.explain(role, principalArn, action, resource, context, result) };
      this.decisions.set(key, decision);
    }
    return decision;
  }

  private evaluate(policies: { name: string; policy: unknown }[], principalArn: string, action: string, resource: string, context: Record<string, string | string[]>) {
    return runUnsafeSimulation(
      {
        request: { principal: principalArn, action, resource: { resource, accountId: this.deployment.accountId }, contextVariables: context },
        identityPolicies: policies,
        serviceControlPolicies: [],
        resourceControlPolicies: [],
      },
      {},
    );
  }

  /**
   * What did not match, found with the evaluator itself: each Allow statement is evaluated alone without its
   * conditions (does it cover the action and resource?), then with one condition at a time (which one fails?).
   */
  private explain(role: DeployedRole, principalArn: string, action: string, resource: string, context: Record<string, string | string[]>, result: string): string {
    if (result === 'ExplicitlyDenied') return `an explicit Deny statement of role ${role.name} matches`;
    const alone = (statement: Statement) => this.evaluate([{ name: 'one', policy: { Version: '2012-10-17', Statement: [statement] } }], principalArn, action, resource, context) === 'Allowed';
    const statements = role.policies.flatMap((policy) => asArray(policy.document.Statement as Statement | Statement[]).map((statement, i) => ({ policy: policy.name, i, statement })));
    const covering = statements.filter(({ statement }) => statement.Effect === 'Allow' && alone({ ...statement, Condition: undefined }));
    if (covering.length === 0) {
      const forAction = statements.filter(({ statement }) => statement.Effect === 'Allow' && this.evaluate([{ name: 'one', policy: { Version: '2012-10-17', Statement: [{ ...statement, Condition: undefined, Resource: '*', NotResource: undefined }] } }], principalArn, action, '*', context) === 'Allowed');
      if (forAction.length === 0) return `no statement of role ${role.name} allows ${action} at all`;
      return `the statements of role ${role.name} allowing ${action} cover other resources: ${forAction.map(({ statement }) => JSON.stringify(statement.Resource ?? statement.NotResource)).join('; ')}`;
    }
    const reasons = covering.map(({ policy, i, statement }) => {
      const failing: string[] = [];
      for (const [operator, keys] of Object.entries(statement.Condition ?? {})) {
        for (const [conditionKey, expected] of Object.entries(keys)) {
          if (!alone({ ...statement, Condition: { [operator]: { [conditionKey]: expected } } })) {
            failing.push(`${operator} ${conditionKey} ${JSON.stringify(expected)} (the request has ${context[conditionKey] === undefined ? 'no such key' : JSON.stringify(context[conditionKey])})`);
          }
        }
      }
      return `statement ${i + 1} of ${policy} covers it, but its condition ${failing.join(' and ') || '(combination)'} does not match`;
    });
    return reasons.join('; ');
  }
}

/**
 * AWS's access-denied message for an implicit deny ("Troubleshoot access denied error messages", IAM User
 * Guide, https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html): "User: <principal>
 * is not authorized to perform: <action> on resource: <resource> because no identity-based policy allows the
 * <action> action". Where EC2 appends its encoded authorization message, the simulation puts the decoded
 * explanation.
 */
const deniedMessage = (principalArn: string, action: string, resource: string, explanation: string | undefined): string =>
  `User: ${principalArn} is not authorized to perform: ${action} on resource: ${resource} because no identity-based policy allows the ${action} action` +
  (explanation ? ` [simulated IAM: ${explanation}]` : '');
