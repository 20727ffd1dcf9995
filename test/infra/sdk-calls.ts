/**
 * Reads a handler's source (and the functions/ modules it imports, transitively) and lists the IAM actions
 * of the AWS SDK commands it sends: `new RunInstancesCommand(` imported from `@aws-sdk/client-ec2` is
 * `ec2:RunInstances`, and so is `paginateRunInstances(` (the SDK paginator sends the same command per page).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/** IAM service prefix of each SDK client package. */
export const IAM_PREFIX: Record<string, string> = {
  ec2: 'ec2',
  ssm: 'ssm',
  ecr: 'ecr',
  sfn: 'states',
  eventbridge: 'events',
  iam: 'iam',
  kms: 'kms',
  sts: 'sts',
};

const resolveModule = (from: string, specifier: string): string | undefined => {
  const base = resolve(dirname(from), specifier);
  return [`${base}.ts`, join(base, 'index.ts')].find((candidate) => existsSync(candidate));
};

/** Every `.ts` file under functions/ that `entry` reaches through relative imports (including itself). */
export const reachableModules = (entry: string): string[] => {
  const seen = new Set<string>();
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    const source = readFileSync(file, 'utf8');
    for (const match of source.matchAll(/(?:import|export)[^'"]*?from\s+['"](\.{1,2}\/[^'"]+)['"]/g)) {
      const target = resolveModule(file, match[1]!);
      if (target) visit(target);
    }
  };
  visit(entry);
  return [...seen];
};

/** Source without comments (TSDoc examples mention commands that the code does not send). */
const stripComments = (source: string): string => source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');

/** The IAM actions of the SDK commands sent in `file` alone. */
export const actionsInFile = (file: string): string[] => {
  const source = stripComments(readFileSync(file, 'utf8'));
  const clientOf = new Map<string, string>();
  for (const match of source.matchAll(/import\s+(?:type\s+)?\{([^}]*)\}\s*from\s*['"]@aws-sdk\/client-([a-z0-9-]+)['"]/g)) {
    for (const name of match[1]!.split(',').map((part) => part.trim().replace(/^type\s+/, '').split(/\s+as\s+/)[0]!)) {
      if (name) clientOf.set(name, match[2]!);
    }
  }
  const actions = new Set<string>();
  // `new XxxCommand(` sends Xxx; the SDK's `paginateXxx(` sends Xxx page by page.
  for (const match of source.matchAll(/(?:new\s+([A-Za-z0-9]+)Command|\bpaginate([A-Z][A-Za-z0-9]+))\s*\(/g)) {
    const operation = (match[1] ?? match[2])!;
    const command = match[1] ? `${operation}Command` : `paginate${operation}`;
    const client = clientOf.get(command);
    if (!client) throw new Error(`${file}: ${command} is not imported from an @aws-sdk/client-* package`);
    const prefix = IAM_PREFIX[client];
    if (!prefix) throw new Error(`${file}: no IAM prefix known for @aws-sdk/client-${client}`);
    actions.add(`${prefix}:${operation}`);
  }
  return [...actions];
};

/** The IAM actions a handler's code calls. */
export const sdkActionsOf = (entry: string): string[] =>
  [...new Set(reachableModules(entry).flatMap(actionsInFile))].sort();
