/**
 * cfn-lint (aws-cloudformation/cfn-lint), the CloudFormation linter, run on synthesized templates; and the
 * findings that are the linter's own false positives, each with its rule, the resource it concerns and why.
 * Installed by scripts/test-tools.sh (pipx) when missing; never skipped.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

export interface CfnLintFinding {
  readonly Filename: string;
  readonly Level: string;
  readonly Message: string;
  readonly Rule: { readonly Id: string };
  readonly Location: { readonly Path: ReadonlyArray<string | number>; readonly Start: { readonly LineNumber: number } };
}

type Template = { Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }> };

/** A finding cfn-lint reports although the template is right. */
export interface FalsePositive {
  readonly rule: string;
  /** The resource(s) it concerns. */
  readonly resource: string;
  readonly reason: string;
  readonly matches: (finding: CfnLintFinding, template: Template) => boolean;
}

/** Type of the state named at `path` (a path inside a state machine definition: States/<name>/.../<field>). */
const stateTypeAt = (definition: unknown, path: ReadonlyArray<string | number>): string | undefined => {
  let node: unknown = definition;
  for (const key of path.slice(0, -1)) node = (node as Record<string | number, unknown> | undefined)?.[key];
  return (node as { Type?: string } | undefined)?.Type;
};

export const FALSE_POSITIVES: readonly FalsePositive[] = [
  {
    rule: 'E3601',
    resource: 'AWS::StepFunctions::StateMachine DefinitionString: a Succeed state with InputPath or OutputPath (AlreadyUpToDate)',
    reason:
      "cfn-lint's state machine schema (cfnlint/data/schemas/other/step_functions/statemachine.json, definition \"succeed\") allows a Succeed state only Type, Comment and Output; AWS's Succeed state page (docs.aws.amazon.com/step-functions/latest/dg/state-succeed.html) gives it the common state fields, which in JSONPath include InputPath and OutputPath, and Step Functions accepts them (as do the CDK's SucceedJsonPathProps).",
    matches: (finding, template) => {
      const [section, logicalId, properties, property, ...inDefinition] = finding.Location.Path;
      const resource = section === 'Resources' ? template.Resources[String(logicalId)] : undefined;
      if (finding.Rule.Id !== 'E3601' || resource?.Type !== 'AWS::StepFunctions::StateMachine') return false;
      if (properties !== 'Properties' || property !== 'DefinitionString') return false;
      const field = inDefinition.at(-1);
      if (field !== 'InputPath' && field !== 'OutputPath') return false;
      if (!finding.Message.startsWith(`Additional properties are not allowed ('${field}' was unexpected)`)) return false;
      const definitionString = resource.Properties?.DefinitionString;
      const text = typeof definitionString === 'string' ? definitionString : JSON.stringify(definitionString);
      // Only a real Succeed state: the same finding on another state type would be a real error.
      const definition = (() => {
        try {
          return JSON.parse(text) as unknown;
        } catch {
          return undefined;
        }
      })();
      return stateTypeAt(definition, inDefinition) === 'Succeed';
    },
  },
];

const INSTALL_HINT =
  'cfn-lint (the CloudFormation linter) is needed by this test and was not found on PATH. Install it: `bash scripts/test-tools.sh` (as root: installs pipx with apt and cfn-lint with pipx into /usr/local/bin), or `pipx install cfn-lint`, or `pip install cfn-lint` (https://github.com/aws-cloudformation/cfn-lint).';

let version: Promise<string> | undefined;

/**
 * `cfn-lint --version`, or a failure saying how to install it. Asked once per process: each answer starts Python and
 * imports cfn-lint (about 1 s of CPU), and the version cannot change under a run.
 */
export const cfnLintVersion = (): Promise<string> =>
  (version ??= promisify(execFile)('cfn-lint', ['--version']).then(
    ({ stdout }) => stdout.trim(),
    (error: unknown) => {
      version = undefined;
      throw new Error(`${INSTALL_HINT} (${(error as Error).message})`);
    },
  ));

/** Runs cfn-lint once over `files` and returns its findings (JSON output). */
export const cfnLint = async (files: string[]): Promise<CfnLintFinding[]> => {
  await cfnLintVersion();
  try {
    const { stdout } = await promisify(execFile)('cfn-lint', ['--format', 'json', '--', ...files], { maxBuffer: 64 * 1024 * 1024 });
    return JSON.parse(stdout || '[]') as CfnLintFinding[];
  } catch (error) {
    // Exit codes 2, 4, 8 (and sums) mean errors, warnings, informational findings: the JSON is on stdout.
    const { code, stdout, stderr } = error as { code?: number; stdout?: string; stderr?: string };
    if (typeof code === 'number' && code > 1 && stdout) return JSON.parse(stdout) as CfnLintFinding[];
    throw new Error(`cfn-lint failed to run (exit ${String(code)}): ${stderr ?? ''}`);
  }
};

const CACHE_DIR = join(import.meta.dirname, '..', '..', '.tmp', 'infra-templates');

/**
 * {@link cfnLint} over `files`, its findings cached across runs under `.tmp/infra-templates/cfn-lint-<key>.json`,
 * the key a SHA-256 of the cfn-lint version and every file's content: cfn-lint's findings depend on nothing else,
 * so a hit returns what a run would, without the run (tens of seconds on a loaded 2-core machine).
 */
export const cachedCfnLint = async (files: string[]): Promise<CfnLintFinding[]> => {
  const hash = createHash('sha256').update(await cfnLintVersion());
  for (const file of files) hash.update('\0').update(readFileSync(file));
  const cached = join(CACHE_DIR, `cfn-lint-${hash.digest('hex').slice(0, 32)}.json`);
  // Stored by each file's position, not its path (the files live in a fresh scratch directory each run).
  if (existsSync(cached)) {
    const stored = JSON.parse(readFileSync(cached, 'utf8')) as Array<Omit<CfnLintFinding, 'Filename'> & { file: number }>;
    return stored.map(({ file, ...finding }) => ({ ...finding, Filename: files[file]! }));
  }
  const findings = await cfnLint(files);
  mkdirSync(CACHE_DIR, { recursive: true });
  const partial = `${cached}.${process.pid}.partial`;
  writeFileSync(partial, JSON.stringify(findings.map(({ Filename, ...finding }) => ({ ...finding, file: files.indexOf(Filename) }))));
  renameSync(partial, cached);
  return findings;
};
