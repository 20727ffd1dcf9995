/**
 * Trigger (outside the state machine): starts a recipe's build from its nightly schedule, an ECR push
 * to a repository it watches, or a direct invocation.
 *
 * Resolves the recipe's image digests, then starts exactly one build per digest set: executions are named
 * `<recipe>-<digest-set hash>-<attempt>` (`executionNameFor` in functions/lib/recipes.ts; no date, so triggers either
 * side of UTC midnight agree). Attempts 1, 2, ... are probed with DescribeExecution: one that is RUNNING, or that
 * SUCCEEDED and is still the recipe's latest successful triggered build (ListExecutions), answers "already started";
 * one that closed FAILED, TIMED_OUT or ABORTED is passed over, and the first attempt Step Functions does not know is
 * started. Step Functions answers the same name and input while RUNNING with the same execution (StartExecution,
 * AWS Step Functions API Reference), so identical triggers racing each other still start one. A rollback to a digest
 * set built before builds again once another set succeeded since. Forced runs are named with the time and never
 * deduplicated.
 *
 * Input, one of:
 * - `{ "source": "schedule" | "ecr-push" | "manual", "recipe": "<name>", "force"?: boolean }` (Scheduler and rule targets);
 * - an EventBridge ECR event (`detail-type` `ECR Image Action`): every recipe watching `detail.repository-name`.
 * The recipe comes from the input's `definition` (the triggers send it when it fits their 8 KB input limit) or from
 * the `RECIPES` environment variable (JSON; Lambda caps all variables at 4 KB together).
 *
 * Throws InvalidInputError (unknown recipe, bad RECIPES, 99 closed unsuccessful attempts of one digest set), InvalidImageReferenceError, ImageNotFoundError,
 * RegistryUnavailableError (retryable), TransientAwsError (retryable), AccessDeniedError, AwsRequestError.
 */
import { DescribeExecutionCommand, ListExecutionsCommand, StartExecutionCommand } from '@aws-sdk/client-sfn';
import * as z from './lib/zod-mini';
import { sfn } from './lib/clients/sfn';
import { digestSetHash, type PlatformDigest } from './lib/current-snapshot';
import { createDigestResolver } from './lib/digests';
import { InvalidInputError, awsErrorCode, toFactoryError } from './lib/errors';
import { logger } from './lib/logger';
import { MAX_BUILD_ATTEMPTS, executionNameFor, platformsOf, recipeSchema, recipesFromEnvironment, type Recipe } from './lib/recipes';
import { defineStage } from './lib/stage';

const triggerSchema = z.object({
  source: z.enum(['schedule', 'ecr-push', 'manual']),
  recipe: z.string().check(z.minLength(1)),
  /** The recipe itself, sent by the RecipeTriggers targets when it fits their input limit; else looked up in RECIPES. */
  definition: z.optional(recipeSchema),
  force: z.optional(z.boolean()),
  repositoryName: z.optional(z.string()),
});

const ecrEventSchema = z.object({
  'detail-type': z.literal('ECR Image Action'),
  source: z.optional(z.literal('aws.ecr')),
  detail: z.looseObject({
    result: z.string(),
    'action-type': z.string(),
    'repository-name': z.string(),
    'image-tag': z.optional(z.string()),
    'image-digest': z.optional(z.string()),
  }),
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

/** Statuses in which an execution of a digest set stands for it: no second build. PENDING_REDRIVE is being redriven. */
const STANDS = new Set(['RUNNING', 'PENDING_REDRIVE']);
/** ListExecutions page read to find the recipe's latest successful triggered build (most recent first). */
const LATEST_SUCCESS_PAGE = 100;

const executionArnOf = (stateMachineArn: string, name: string): string => `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;

/** The status of an execution, or undefined when Step Functions does not know it (never started, or closed over 90 days ago). */
const statusOf = async (executionArn: string): Promise<string | undefined> => {
  try {
    const out = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    return out.status ?? 'RUNNING';
  } catch (error) {
    if (awsErrorCode(error) === 'ExecutionDoesNotExist') return undefined;
    throw toFactoryError(error, `states:DescribeExecution ${executionArn}`);
  }
};

/**
 * Whether the recipe's most recent successful triggered build is of this digest set. When a later build of another
 * digest set succeeded since (the images rolled back), an earlier success no longer stands for the current snapshot.
 */
const isLatestSuccess = async (stateMachineArn: string, recipe: Recipe, digestSet: string): Promise<boolean> => {
  // Names carry only [A-Za-z0-9_-], so the recipe's part of a name is safe in a pattern as it is.
  const attemptOne = executionNameFor(recipe.name, digestSet, { attempt: 1 });
  const recipePart = attemptOne.slice(0, attemptOne.length - '-0123456789abcdef-1'.length);
  const ownName = new RegExp(`^${recipePart}-[0-9a-f]{16}-\\d+$`);
  const prefix = attemptOne.slice(0, -1);
  let out;
  try {
    out = await sfn.send(new ListExecutionsCommand({ stateMachineArn, statusFilter: 'SUCCEEDED', maxResults: LATEST_SUCCESS_PAGE }));
  } catch (error) {
    throw toFactoryError(error, `states:ListExecutions ${stateMachineArn}`);
  }
  const latest = (out.executions ?? []).find((execution) => ownName.test(execution.name ?? ''));
  return latest?.name?.startsWith(prefix) ?? false;
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
  // No timestamps or event details in the input: identical triggers must send identical input to stay idempotent.
  // prepare-build validates the input strictly, so the trigger's source shows only in the logs.
  const input = JSON.stringify({
    ...recipe.overrides,
    recipe: recipe.name,
    images: recipe.images,
    architectures: recipe.architectures,
    layout: recipe.layout,
    ...(recipe.fastSnapshotRestore ? { fastSnapshotRestore: recipe.fastSnapshotRestore } : {}),
    ...(recipe.copies ? { copies: recipe.copies } : {}),
    ...(recipe.retention ? { retention: recipe.retention } : {}),
    ...(recipe.sharing ? { sharing: recipe.sharing } : {}),
    force,
  });
  const result = (executionName: string, alreadyStarted: boolean, executionArn = executionArnOf(stateMachineArn, executionName)): StartedBuild => {
    logger.info(alreadyStarted ? 'build already started for this digest set' : 'build started', { recipe: recipe.name, executionName, source });
    return { recipe: recipe.name, executionName, executionArn, alreadyStarted, digestSet };
  };
  /** StartExecution; undefined when the name is taken (another trigger got there first, or it closed since). */
  const start = async (name: string): Promise<string | undefined> => {
    try {
      return (await sfn.send(new StartExecutionCommand({ stateMachineArn, name, input }))).executionArn as string;
    } catch (error) {
      if (awsErrorCode(error) === 'ExecutionAlreadyExists') return undefined;
      throw toFactoryError(error, `states:StartExecution ${name}`);
    }
  };

  if (force) {
    const name = executionNameFor(recipe.name, digestSet, { forcedAt: new Date(Date.now()) });
    const arn = await start(name);
    return result(name, arn === undefined, arn);
  }
  // Attempts of one digest set, probed in order: a RUNNING or (still current) SUCCEEDED one stands for the set; a
  // FAILED, TIMED_OUT or ABORTED one does not, so the next attempt starts. Step Functions answers the same name and
  // input while RUNNING with the same execution, so a burst of identical triggers starts one build.
  for (let attempt = 1; attempt <= MAX_BUILD_ATTEMPTS; attempt += 1) {
    const name = executionNameFor(recipe.name, digestSet, { attempt });
    let status = await statusOf(executionArnOf(stateMachineArn, name));
    if (status === undefined) {
      const arn = await start(name);
      if (arn) return result(name, false, arn);
      // Taken between the two calls by an identical trigger: look again at what it is now.
      status = (await statusOf(executionArnOf(stateMachineArn, name))) ?? 'RUNNING';
    }
    if (STANDS.has(status)) return result(name, true);
    if (status === 'SUCCEEDED' && (await isLatestSuccess(stateMachineArn, recipe, digestSet))) return result(name, true);
  }
  throw new InvalidInputError(
    `recipe ${recipe.name}: digest set ${digestSet} has ${MAX_BUILD_ATTEMPTS} builds that closed without standing for it in the last 90 days ` +
      `(${executionNameFor(recipe.name, digestSet, { attempt: 1 })} to -${MAX_BUILD_ATTEMPTS}); fix what fails them, or start a build with "force": true.`,
  );
};

export const handler = defineStage('start-build', inputSchema, run);
