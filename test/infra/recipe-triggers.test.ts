import { App, CfnParameter, CfnRule, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { describe, expect, it } from 'vitest';
import type { RecipeSettings } from '../../functions/lib/recipes';
import { RecipeTriggers } from '../../infra/recipe-triggers';

const RECIPES: RecipeSettings[] = [
  { name: 'ml', images: ['public.ecr.aws/docker/library/python:3.12'], watchRepositories: ['team/model', 'team/trainer'] },
  { name: 'web', images: ['nginx:1.27'], schedule: { cron: 'cron(30 1 * * ? *)', timezone: 'Europe/Paris', enabled: false } },
];

const synth = (recipes: RecipeSettings[] = RECIPES) => {
  const stack = new Stack(new App(), 'Test');
  const startBuild = new lambda.Function(stack, 'StartBuild', {
    runtime: lambda.Runtime.NODEJS_22_X,
    handler: 'index.handler',
    code: lambda.Code.fromInline('exports.handler = async () => ({})'),
  });
  const stateMachine = new sfn.StateMachine(stack, 'Machine', { definitionBody: sfn.DefinitionBody.fromChainable(new sfn.Pass(stack, 'Pass')) });
  new RecipeTriggers(stack, 'Triggers', { recipes, startBuildFunction: startBuild, stateMachine });
  return { template: Template.fromStack(stack), stack };
};

describe('RecipeTriggers', () => {
  it('creates one schedule per recipe, on at 03:00 UTC by default, with the cron and time zone settable', () => {
    const { template } = synth();

    template.resourceCountIs('AWS::Scheduler::Schedule', 2);
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'cron(0 3 * * ? *)',
      ScheduleExpressionTimezone: 'UTC',
      State: 'ENABLED',
      Target: Match.objectLike({ Input: Match.serializedJson(Match.objectLike({ source: 'schedule', recipe: 'ml', definition: Match.objectLike({ name: 'ml', images: RECIPES[0]!.images }) })) }),
    });
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'cron(30 1 * * ? *)',
      ScheduleExpressionTimezone: 'Europe/Paris',
      State: 'DISABLED',
      Target: Match.objectLike({ Input: Match.serializedJson(Match.objectLike({ source: 'schedule', recipe: 'web' })) }),
    });
  });

  it('watches successful ECR pushes to the recipe repositories only, with one rule per watching recipe', () => {
    const { template } = synth();

    template.resourceCountIs('AWS::Events::Rule', 1);
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.ecr'],
        'detail-type': ['ECR Image Action'],
        detail: { 'action-type': ['PUSH'], result: ['SUCCESS'], 'repository-name': ['team/model', 'team/trainer'] },
      },
      Targets: [Match.objectLike({ InputTransformer: Match.objectLike({ InputPathsMap: { 'detail-repository-name': '$.detail.repository-name' } }) })],
    });
  });

  it('lets only the push rule invoke the function through its resource policy', () => {
    const { template } = synth();

    const permissions = template.findResources('AWS::Lambda::Permission');
    expect(Object.values(permissions)).toHaveLength(1);
    const [permission] = Object.values(permissions) as { Properties: Record<string, unknown> }[];
    expect(permission?.Properties).toMatchObject({ Action: 'lambda:InvokeFunction', Principal: 'events.amazonaws.com', SourceArn: { 'Fn::GetAtt': [expect.stringMatching(/^TriggersEcrPushml/), 'Arn'] } });
  });

  it('gives the schedules one role of its own that may invoke the unqualified start-build function and nothing else', () => {
    const { template, stack } = synth();

    const schedulerRoles = Object.entries(template.findResources('AWS::IAM::Role')).filter(([, role]) =>
      JSON.stringify(role.Properties.AssumeRolePolicyDocument).includes('scheduler.amazonaws.com'),
    );
    expect(schedulerRoles.map(([id]) => id)).toEqual([expect.stringMatching(/^TriggersSchedulerRole/)]);
    const [roleId, role] = schedulerRoles[0]!;
    expect(role.Properties.AssumeRolePolicyDocument.Statement).toEqual([
      expect.objectContaining({
        Principal: { Service: 'scheduler.amazonaws.com' },
        Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' }, 'aws:SourceArn': expect.anything() } },
      }),
    ]);
    expect(JSON.stringify(role.Properties.AssumeRolePolicyDocument)).toContain(':schedule-group/default');
    const startBuildId = stack.getLogicalId(stack.node.findChild('StartBuild').node.defaultChild as never);
    const statements = Object.values(template.findResources('AWS::IAM::Policy'))
      .filter((policy) => policy.Properties.Roles.some((r: { Ref: string }) => r.Ref === roleId))
      .flatMap((policy) => policy.Properties.PolicyDocument.Statement);
    expect(statements).toEqual([{ Effect: 'Allow', Action: 'lambda:InvokeFunction', Resource: { 'Fn::GetAtt': [startBuildId, 'Arn'] } }]);
    for (const schedule of Object.values(template.findResources('AWS::Scheduler::Schedule'))) {
      expect(schedule.Properties.Target.RoleArn).toEqual({ 'Fn::GetAtt': [roleId, 'Arn'] });
    }
  });

  it('creates nothing outside its own scope, so that it embeds in any stack', () => {
    const { stack } = synth();

    // The stack's own bootstrap-version parameter and rule aside, only what the test itself created.
    const outside = stack.node.children
      .filter((child) => !(child instanceof CfnParameter || child instanceof CfnRule))
      .map((child) => child.node.id)
      .filter((id) => !['StartBuild', 'Machine', 'Pass', 'Triggers'].includes(id));
    expect(outside).toEqual([]);
  });

  it('grants start-build states:StartExecution on the state machine only', () => {
    const { template } = synth();

    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Action: 'states:StartExecution', Resource: { Ref: Match.stringLikeRegexp('^Machine') } })]) },
      Roles: [{ Ref: Match.stringLikeRegexp('^StartBuildServiceRole') }],
    });
  });

  it('leaves the recipe out of a trigger input that would exceed the 8 KB target input limit', () => {
    const images = Array.from({ length: 100 }, (_, i) => `registry.example.com/a-team-with-a-long-name/an-image-with-a-long-name-${i}:v1.2.3`);
    const { template } = synth([{ name: 'big', images, watchRepositories: ['team/big'] }]);

    const schedule = Object.values(template.findResources('AWS::Scheduler::Schedule'))[0] as { Properties: { Target: { Input: string } } };
    expect(JSON.parse(schedule.Properties.Target.Input)).toEqual({ source: 'schedule', recipe: 'big' });
    const rule = Object.values(template.findResources('AWS::Events::Rule'))[0] as { Properties: { Targets: { InputTransformer: { InputTemplate: string } }[] } };
    expect(rule.Properties.Targets[0]!.InputTransformer.InputTemplate).not.toContain('definition');
  });

  it('fails when two recipes share a name', () => {
    expect(() => synth([RECIPES[0]!, { ...RECIPES[0]! }])).toThrow(/duplicate recipe name ml/);
  });

  it('fails when a recipe name cannot be used in parameter and execution names', () => {
    expect(() => synth([{ name: 'my recipe', images: ['nginx'] }])).toThrow(/recipes\.0\.name/);
  });
});
