/**
 * Trigger (outside the state machine): starts a recipe's build from its nightly schedule, an ECR push
 * to a repository it watches, or a direct invocation.
 *
 * Resolves the recipe's image digests, then StartExecution (`STATE_MACHINE_ARN`) named after the recipe, the
 * UTC date and the digest set (see `executionNameFor` in functions/lib/recipes.ts), so a burst of identical
 * triggers on one day starts exactly one execution: Step Functions answers the same name and input with the
 * existing execution, and `ExecutionAlreadyExists` (same digests already started that day) counts as started.
 * Each night therefore starts one execution (ending `UP_TO_DATE` when nothing changed) unless that image set was
 * already built that day; forced runs add the time, so a forced build is never deduplicated.
 *
 * Input, one of:
 * - `{ "source": "schedule" | "ecr-push" | "manual", "recipe": "<name>", "force"?: boolean }` (Scheduler and rule targets);
 * - an EventBridge ECR event (`detail-type` `ECR Image Action`): every recipe watching `detail.repository-name`.
 * The recipe comes from the input's `definition` (the triggers send it when it fits their 8 KB input limit) or from
 * the `RECIPES` environment variable (JSON; Lambda caps all variables at 4 KB together).
 *
 * Throws InvalidInputError (unknown recipe, bad RECIPES), InvalidImageReferenceError, ImageNotFoundError,
 * RegistryUnavailableError (retryable), TransientAwsError (retryable), AccessDeniedError, AwsRequestError.
 */
import { StartExecutionCommand } from '@aws-sdk/client-sfn';
import { z } from 'zod';
import { sfn } from './lib/clients';
import { digestSetHash, type PlatformDigest } from './lib/current-snapshot';
import { createDigestResolver } from './lib/digests';
import { InvalidInputError, awsErrorCode, toFactoryError } from './lib/errors';
import { logger } from './lib/logger';
import { executionNameFor, platformsOf, recipeSchema, recipesFromEnvironment, type Recipe } from './lib/recipes';
import { defineStage } from './lib/stage';

const triggerSchema = z.object({
  source: z.enum(['schedule', 'ecr-push', 'manual']),
  recipe: z.string().min(1),
  /** The recipe itself, sent by the RecipeTriggers targets when it fits their input limit; else looked up in RECIPES. */
  definition: recipeSchema.optional(),
  force: z.boolean().optional(),
  repositoryName: z.string().optional(),
});

const ecrEventSchema = z.object({
  'detail-type': z.literal('ECR Image Action'),
  source: z.literal('aws.ecr').optional(),
  detail: z
    .object({
      result: z.string(),
      'action-type': z.string(),
      'repository-name': z.string(),
      'image-tag': z.string().optional(),
      'image-digest': z.string().optional(),
    })
    .passthrough(),
});

const inputSchema = z.union([triggerSchema, ecrEventSchema]);
type Input = z.infer<typeof inputSchema>;

export interface StartedBuild {
  recipe: string;
  executionName: string;
  executionArn: string;
  /** True when an execution of that name already existed (an identical trigger started it). */
  alreadyStarted: boolean;
  digestSet: string;
}

export interface StartBuildOutput {
  started: StartedBuild[];
  /** Why nothing started, when nothing did. */
  ignored?: string;
}

const run = async (input: Input): Promise<StartBuildOutput> => {
  const recipes = recipesFromEnvironment();
  const stateMachineArn = process.env.STATE_MACHINE_ARN;
  if (!stateMachineArn) throw new InvalidInputError('STATE_MACHINE_ARN is not set; the stack sets it on the start-build function.');

  let targets: { recipe: Recipe; source: 'schedule' | 'ecr-push' | 'manual'; force: boolean }[];
  if ('detail-type' in input) {
    const { detail } = input;
    if (detail.result !== 'SUCCESS' || detail['action-type'] !== 'PUSH') return { started: [], ignored: `ECR ${detail['action-type']} ${detail.result} is not a successful push` };
    targets = recipes
      .filter((recipe) => recipe.watchRepositories.includes(detail['repository-name']))
      .map((recipe) => ({ recipe, source: 'ecr-push' as const, force: false }));
    if (targets.length === 0) return { started: [], ignored: `no recipe watches repository ${detail['repository-name']}` };
  } else {
    const recipe = input.definition?.name === input.recipe ? input.definition : recipes.find((r) => r.name === input.recipe);
    if (!recipe) throw new InvalidInputError(`recipe "${input.recipe}" is not configured (known: ${recipes.map((r) => r.name).join(', ') || 'none'}).`);
    if (input.source === 'ecr-push' && input.repositoryName && !recipe.watchRepositories.includes(input.repositoryName)) {
      return { started: [], ignored: `recipe ${recipe.name} does not watch repository ${input.repositoryName}` };
    }
    targets = [{ recipe, source: input.source, force: input.force ?? false }];
  }

  const started: StartedBuild[] = [];
  for (const target of targets) started.push(await startRecipe(stateMachineArn, target.recipe, target.source, target.force));
  return { started };
};

const startRecipe = async (stateMachineArn: string, recipe: Recipe, source: string, force: boolean): Promise<StartedBuild> => {
  const resolve = createDigestResolver();
  const platforms = platformsOf(recipe.architectures);
  const digests: PlatformDigest[] = [];
  for (const reference of recipe.images) {
    const resolved = await resolve(reference, platforms);
    for (const platform of platforms) digests.push({ reference, platform, digest: resolved.platforms[platform] as string });
  }
  const digestSet = digestSetHash(digests);
  const now = new Date(Date.now());
  // The date bounds deduplication to one day: a rollback to an image set built on an earlier day builds again.
  const executionName = executionNameFor(recipe.name, digestSet, force ? { forcedAt: now } : { day: now });
  // No timestamps or event details in the input: identical triggers must send identical input to stay idempotent.
  // prepare-build validates the input strictly, so the trigger's source shows only in the execution name.
  const executionInput = {
    ...recipe.overrides,
    recipe: recipe.name,
    images: recipe.images,
    architectures: recipe.architectures,
    layout: recipe.layout,
    force,
  };
  try {
    const output = await sfn.send(new StartExecutionCommand({ stateMachineArn, name: executionName, input: JSON.stringify(executionInput) }));
    logger.info('build started', { recipe: recipe.name, executionName, source });
    return { recipe: recipe.name, executionName, executionArn: output.executionArn as string, alreadyStarted: false, digestSet };
  } catch (error) {
    if (awsErrorCode(error) !== 'ExecutionAlreadyExists') throw toFactoryError(error, `states:StartExecution ${executionName}`);
    logger.info('build already started for this digest set', { recipe: recipe.name, executionName, source });
    const executionArn = `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${executionName}`;
    return { recipe: recipe.name, executionName, executionArn, alreadyStarted: true, digestSet };
  }
};

export const handler = defineStage('start-build', inputSchema, run);
