/**
 * `SnapshotLifecycle`: what the factory does around a build's end, outside the state machine:
 * - the rule `ExecutionEndedNotify`: Step Functions' own "Step Functions Execution Status Change" events of the
 *   factory's state machine with status FAILED, TIMED_OUT or ABORTED (sent to the default bus, "EventBridge for
 *   Step Functions execution status changes", https://docs.aws.amazon.com/step-functions/latest/dg/cw-events.html)
 *   invoke functions/notify-build-failure.ts, which puts one `Snapshot Build Failed` event per execution;
 * - with `emailAddresses`: an SNS topic with those email subscriptions and the rule `BuildFailedToEmail` that sends
 *   it every `Snapshot Build Failed` event. The topic is encrypted with its own customer managed key (EventBridge
 *   cannot use the AWS managed aws/sns key: its key policy does not let events.amazonaws.com use it, "Amazon SNS
 *   permissions", EventBridge User Guide, https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html#eb-sns-permissions),
 *   accepts only TLS, and its policy lets only EventBridge publish, only for that rule of this account
 *   (`aws:SourceArn`, `aws:SourceAccount`).
 *
 * A second rule rather than a second target of `ExecutionEndedCleanup`: the two targets keep their own retry
 * settings and can be switched off independently, and the pattern is the same either way.
 */
import { Duration, Stack } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { FAILED_STATUSES, FAILURE_EVENT_DETAIL_TYPE, FAILURE_EVENT_SOURCE } from '../functions/lib/failure-event';

export interface SnapshotLifecycleProps {
  /** The factory's state machine: only its executions' status changes are notified. */
  readonly stateMachine: sfn.IStateMachine;
  /** functions/notify-build-failure.ts. */
  readonly notifyFunction: lambda.IFunction;
  /** Email addresses subscribed to the failure topic (each must confirm its subscription). @default [] - no topic */
  readonly emailAddresses?: readonly string[];
}

export class SnapshotLifecycle extends Construct {
  /** The failure topic, when `emailAddresses` are given. */
  readonly failureTopic?: sns.Topic;

  constructor(scope: Construct, id: string, props: SnapshotLifecycleProps) {
    super(scope, id);
    new events.Rule(this, 'ExecutionEndedNotify', {
      description: 'snapshot-factory: announce a failed, timed-out or aborted execution as a Snapshot Build Failed event',
      eventPattern: {
        source: ['aws.states'],
        detailType: ['Step Functions Execution Status Change'],
        detail: { status: [...FAILED_STATUSES], stateMachineArn: [props.stateMachine.stateMachineArn] },
      },
      targets: [new targets.LambdaFunction(props.notifyFunction, { retryAttempts: 2, maxEventAge: Duration.hours(1) })],
    });

    const emails = props.emailAddresses ?? [];
    if (emails.length === 0) return;
    const stack = Stack.of(this);
    const key = new kms.Key(this, 'FailureTopicKey', {
      description: 'snapshot-factory: encrypts the build failure topic',
      enableKeyRotation: true,
    });
    const topic = new sns.Topic(this, 'FailureTopic', {
      displayName: 'Snapshot factory build failures',
      masterKey: key,
      enforceSSL: true,
    });
    for (const address of emails) topic.addSubscription(new subscriptions.EmailSubscription(address));
    const rule = new events.Rule(this, 'BuildFailedToEmail', {
      description: 'snapshot-factory: mail every Snapshot Build Failed event to the subscribed addresses',
      eventPattern: { source: [FAILURE_EVENT_SOURCE], detailType: [FAILURE_EVENT_DETAIL_TYPE] },
    });
    // Not targets.SnsTopic: it grants events.amazonaws.com sns:Publish on the topic with no condition, so any rule of
    // any account could publish to it. This target is bound with the policy below instead.
    rule.addTarget({ bind: () => ({ arn: topic.topicArn }) });
    const fromThisRule = { ArnEquals: { 'aws:SourceArn': rule.ruleArn }, StringEquals: { 'aws:SourceAccount': stack.account } };
    topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'EventBridgeOfThisRuleOnly',
        principals: [new iam.ServicePrincipal('events.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [topic.topicArn],
        conditions: fromThisRule,
      }),
    );
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'EventBridgePublishesToTheEncryptedTopic',
        principals: [new iam.ServicePrincipal('events.amazonaws.com')],
        actions: ['kms:GenerateDataKey*', 'kms:Decrypt'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:SourceAccount': stack.account } },
      }),
    );
    this.failureTopic = topic;
  }
}
