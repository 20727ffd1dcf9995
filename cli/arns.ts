/**
 * Step Functions ARNs as the CLI receives them: the region they name is the region to call, so a user who gives
 * only `--state-machine-arn` needs no `--region`.
 *
 * Format: "Amazon Resource Names (ARNs)" in the IAM User Guide and the Step Functions API reference
 * (https://docs.aws.amazon.com/step-functions/latest/apireference/API_DescribeExecution.html):
 * `arn:<partition>:states:<region>:<account>:stateMachine:<name>` and `...:execution:<machine>:<execution>`.
 */

/** A state machine or execution ARN that is not one. */
export class InvalidArnError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidArnError';
  }
}

const STATES_ARN = /^arn:(aws|aws-cn|aws-us-gov|aws-iso(?:-[a-z])?):states:([a-z]{2}(?:-[a-z]+)+-\d):(\d{12}):(stateMachine|execution):([A-Za-z0-9_-]{1,80})(?::([A-Za-z0-9_-]{1,80}))?$/;

/** The parts of a Step Functions ARN the CLI uses. */
export interface StatesArn {
  region: string;
  account: string;
  kind: 'stateMachine' | 'execution';
  stateMachineName: string;
  executionName?: string;
}

/**
 * Parses a state machine ARN (`kind: 'stateMachine'`) or an execution ARN (`kind: 'execution'`).
 * @example parseStatesArn('arn:aws:states:us-west-2:111122223333:stateMachine:SnapshotFactory').region // 'us-west-2'
 */
export const parseStatesArn = (arn: string, expected: StatesArn['kind'], flag: string): StatesArn => {
  const match = STATES_ARN.exec(arn);
  const example =
    expected === 'stateMachine'
      ? 'arn:aws:states:<region>:<account>:stateMachine:<name>'
      : 'arn:aws:states:<region>:<account>:execution:<state machine>:<execution>';
  if (!match || match[4] !== expected || (expected === 'execution') !== (match[6] !== undefined)) {
    throw new InvalidArnError(`${flag} "${arn}" is not a Step Functions ${expected === 'stateMachine' ? 'state machine' : 'execution'} ARN: expected ${example}`);
  }
  return {
    region: match[2]!,
    account: match[3]!,
    kind: expected,
    stateMachineName: match[5]!,
    ...(match[6] ? { executionName: match[6] } : {}),
  };
};

/**
 * The region to call: `--region` wins; else the one the ARN names (an ARN is only valid in its own region);
 * a `--region` that contradicts the ARN is refused rather than sent to AWS to fail there.
 */
export const regionFor = (arn: StatesArn, regionFlag: string | undefined): string => {
  if (regionFlag && regionFlag !== arn.region) {
    throw new InvalidArnError(`--region ${regionFlag} does not match the ARN's region ${arn.region}: omit --region, or give an ARN of ${regionFlag}`);
  }
  return arn.region;
};
