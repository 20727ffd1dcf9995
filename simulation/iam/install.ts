/**
 * Puts IAM in the loop of a simulated account: the deployed template's roles decide every request
 * (simulation/iam/evaluator.ts), each operation mapped to the requests AWS evaluates (simulation/iam/requests.ts),
 * and EC2 knows the deployed subnets and security groups.
 */
import type { SimulatedAccount } from '../aws/account';
import { defaultDeployment, type Deployment } from '../deploy/deployment';
import { SimulatedIam } from './evaluator';
import { iamRequestsFor } from './requests';

/**
 * Installs IAM on `account`; returns the evaluator (its figures and evaluations) and a function that removes it.
 *
 * @param deployment defaults to the default deployment (cdk.json) in the account's account ID and region.
 * @example
 * const { iam, uninstall } = installSimulatedIam(account);
 * await runAsFunction('reap-builders', () => handler({}));
 * iam.figures().denied; // 0
 */
export const installSimulatedIam = (account: SimulatedAccount, deployment?: Deployment): { iam: SimulatedIam; uninstall: () => void } => {
  const deployed = deployment ?? defaultDeployment({ accountId: account.core.accountId, region: account.core.region });
  const iam = new SimulatedIam(deployed, account);
  account.ec2.registerNetwork({ subnetIds: deployed.subnetIds, securityGroupIds: deployed.securityGroupIds });
  account.core.setAuthorizer(iam.authorize);
  account.core.setRequestMapper((service, operation, input) => iamRequestsFor({ account, deployment: deployed }, service, operation, input));
  return {
    iam,
    uninstall: () => {
      account.core.setAuthorizer(undefined);
      account.core.setRequestMapper(undefined);
    },
  };
};

/**
 * Sets the deployed environment variables the handlers read once at cold start: prepare-build's
 * `FACTORY_DEFAULTS` (instance profile, subnet, security groups as deployed). A value already set wins (a test's
 * own defaults). Must run before functions/prepare-build.ts is first imported, as Lambda sets it before its
 * cold start.
 */
export const useDeployedEnvironment = (deployment: Deployment): void => {
  const defaults = deployment.functions['prepare-build']?.environment.FACTORY_DEFAULTS;
  if (defaults !== undefined) process.env.FACTORY_DEFAULTS ??= defaults;
};
