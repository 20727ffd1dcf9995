/**
 * Triggers that keep each recipe's snapshot fresh without anyone asking: a nightly EventBridge Scheduler
 * schedule per recipe, and an EventBridge rule per recipe on successful ECR pushes to the repositories it
 * watches. Both invoke the start-build function (functions/start-build.ts) with `{ source, recipe }`; it
 * resolves digests and starts the state machine under a name derived from the digest set.
 */
import { ArnFormat, Duration, Stack } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as eventsTargets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Schedule, ScheduleExpression, ScheduleTargetInput } from 'aws-cdk-lib/aws-scheduler';
import { LambdaInvoke, type ScheduleTargetBaseProps } from 'aws-cdk-lib/aws-scheduler-targets';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { TimeZone } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { recipesSchema, type Recipe, type RecipeSettings } from '../functions/lib/recipes';

/** Longest input a Scheduler or EventBridge rule target accepts, in characters. */
export const TARGET_INPUT_LIMIT = 8192;

export interface RecipeTriggersProps {
  /** The recipes from the settings (parsed again here, so defaults apply: schedule on at 03:00 UTC). */
  readonly recipes: readonly RecipeSettings[];
  /** The start-build function; the triggers invoke it. */
  readonly startBuildFunction: IFunction;
  /**
   * The snapshot factory's state machine; start-build is granted `states:StartExecution` and `states:ListExecutions`
   * on it and `states:DescribeExecution` on its executions (it probes earlier attempts of a digest set).
   */
  readonly stateMachine: IStateMachine;
  /**
   * Whether to grant start-build its Step Functions permissions (above) here.
   * @default true
   */
  readonly grantStartExecution?: boolean;
}

/**
 * LambdaInvoke, granting the schedule role `lambda:InvokeFunction` on the unqualified function ARN only.
 * Scheduler invokes exactly the target ARN it is given (here the unqualified one), so the `<arn>:*` (every
 * version and alias) that LambdaInvoke's `grantInvoke` adds is never used: left out, no wildcard remains.
 */
class InvokeUnqualifiedFunction extends LambdaInvoke {
  constructor(
    private readonly target: IFunction,
    props: ScheduleTargetBaseProps,
  ) {
    super(target, props);
  }

  protected override addTargetActionToRole(role: iam.IRole): void {
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [this.target.functionArn] }));
  }
}

/** One Scheduler schedule per recipe and one ECR push rule per recipe that watches repositories. */
export class RecipeTriggers extends Construct {
  /** Schedules by recipe name. */
  readonly schedules: Record<string, Schedule> = {};
  /** ECR push rules by recipe name (recipes that watch no repository have none). */
  readonly pushRules: Record<string, events.Rule> = {};
  readonly recipes: Recipe[];
  /** The role the schedules invoke start-build with (created with the first recipe). */
  readonly schedulerRole?: iam.Role;

  constructor(scope: Construct, id: string, props: RecipeTriggersProps) {
    super(scope, id);
    const parsed = recipesSchema.safeParse(props.recipes);
    if (!parsed.success) {
      const issues = parsed.error.issues.map((i) => `recipes.${i.path.join('.')}: ${i.message}`).join('; ');
      throw new Error(`RecipeTriggers: invalid recipes (${issues}). Fix the recipe settings.`);
    }
    this.recipes = parsed.data;

    // The schedules' own role, inside this construct: without one, LambdaInvoke would create a stack-level
    // singleton (SchedulerRoleForTarget-<hash>) outside the factory, shared with any other schedule of the
    // same target in the stack, where the factory's cdk-nag acknowledgements and readers do not look.
    // Trust as in AWS's Scheduler execution-role guide (docs.aws.amazon.com/scheduler/latest/UserGuide/
    // setting-up.html#setting-up-execution-role): only Scheduler, for this account's default schedule group.
    const stack = Stack.of(this);
    const schedulerRole =
      this.recipes.length === 0
        ? undefined
        : new iam.Role(this, 'SchedulerRole', {
            description: 'snapshot-factory recipe schedules: invoke the start-build function only',
            assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
              conditions: {
                StringEquals: {
                  'aws:SourceAccount': stack.account,
                  'aws:SourceArn': stack.formatArn({ service: 'scheduler', resource: 'schedule-group', resourceName: 'default', arnFormat: ArnFormat.SLASH_RESOURCE_NAME }),
                },
              },
            }),
          });
    if (schedulerRole) this.schedulerRole = schedulerRole;

    for (const recipe of this.recipes) {
      // The recipe travels in the trigger input when it fits (Scheduler and rule inputs are capped at 8 KB), so
      // start-build does not depend on its RECIPES variable, which Lambda caps at 4 KB for all variables together.
      const withDefinition = (input: Record<string, unknown>) =>
        JSON.stringify({ ...input, definition: recipe }).length <= TARGET_INPUT_LIMIT ? { ...input, definition: recipe } : input;
      this.schedules[recipe.name] = new Schedule(this, `Schedule-${recipe.name}`, {
        description: `Nightly freshness check of snapshot recipe ${recipe.name}`,
        schedule: ScheduleExpression.expression(recipe.schedule.cron, TimeZone.of(recipe.schedule.timezone)),
        enabled: recipe.schedule.enabled,
        target: new InvokeUnqualifiedFunction(props.startBuildFunction, {
          role: schedulerRole!,
          input: ScheduleTargetInput.fromObject(withDefinition({ source: 'schedule', recipe: recipe.name })),
          retryAttempts: 3,
          maxEventAge: Duration.hours(1),
        }),
      });

      if (recipe.watchRepositories.length === 0) continue;
      const rule = new events.Rule(this, `EcrPush-${recipe.name}`, {
        description: `Rebuilds snapshot recipe ${recipe.name} on pushes to ${recipe.watchRepositories.join(', ')}`.slice(0, 512),
        eventPattern: {
          source: ['aws.ecr'],
          detailType: ['ECR Image Action'],
          detail: { 'action-type': ['PUSH'], result: ['SUCCESS'], 'repository-name': recipe.watchRepositories },
        },
      });
      // The function's resource policy admits this rule only (SourceArn); the input carries no event data
      // besides the repository, so a burst of pushes of the same image sends identical invocations.
      rule.addTarget(
        new eventsTargets.LambdaFunction(props.startBuildFunction, {
          event: events.RuleTargetInput.fromObject({
            ...withDefinition({ source: 'ecr-push', recipe: recipe.name, repositoryName: 'x'.repeat(256) }),
            repositoryName: events.EventField.fromPath('$.detail.repository-name'),
          }),
          retryAttempts: 3,
          maxEventAge: Duration.hours(1),
        }),
      );
      this.pushRules[recipe.name] = rule;
    }

    if (props.grantStartExecution ?? true) {
      props.stateMachine.grantStartExecution(props.startBuildFunction);
      props.stateMachine.grant(props.startBuildFunction, 'states:ListExecutions');
      props.stateMachine.grantExecution(props.startBuildFunction, 'states:DescribeExecution');
    }
  }
}
