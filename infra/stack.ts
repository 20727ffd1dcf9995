/**
 * The project's own stack: one {@link SnapshotFactory}, its outputs, and the cdk-nag AwsSolutions checks.
 */
import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { SnapshotFactory, type SnapshotFactoryProps } from './snapshot-factory';

export interface SnapshotFactoryStackProps extends StackProps {
  /** Settings of the factory (validated by the construct). @default - every setting's default */
  readonly factory?: SnapshotFactoryProps;
}

export class SnapshotFactoryStack extends Stack {
  readonly factory: SnapshotFactory;

  constructor(scope: Construct, id: string, props: SnapshotFactoryStackProps = {}) {
    super(scope, id, props);
    this.factory = new SnapshotFactory(this, 'Factory', props.factory);
    const arn = this.factory.stateMachine.stateMachineArn;
    new CfnOutput(this, 'StateMachineArn', { value: arn, description: 'ARN of the snapshot factory state machine' });
    new CfnOutput(this, 'StartBuildCommand', {
      value: `aws stepfunctions start-execution --state-machine-arn ${arn} --input '{"images":["public.ecr.aws/docker/library/busybox:latest"]}'`,
      description: 'Starts a build (replace the image list with yours)',
    });
  }
}
