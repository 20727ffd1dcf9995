/**
 * The Node.js versions the factory supports, and the one warning an older Node gets.
 *
 * Supported: Node 22.12 and later (package.json `engines`). Node 20 reached end of life in April 2026; a
 * dependency (aws-local-stepfunctions 3) declares Node >= 22, and the AWS SDK for JavaScript v3 announces that its
 * releases after the first week of January 2027 require Node >= 22 (@aws-sdk/core, `emitWarningIfUnsupportedVersion`
 * in packages/core/src/submodules/client/emitWarningIfUnsupportedVersion.ts, which it prints as a multi-line
 * process warning unless `AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true`).
 */

/** The oldest supported Node.js version. */
export const MINIMUM_NODE = '22.12.0';

const newer = (version: string, minimum: string): boolean => {
  const [a = 0, b = 0, c = 0] = version.split('.').map(Number);
  const [x = 0, y = 0, z = 0] = minimum.split('.').map(Number);
  return a !== x ? a > x : b !== y ? b > y : c >= z;
};

/**
 * On an unsupported Node, prints one line saying what to do, and turns off the SDK's own multi-line warning
 * (its documented switch) so the same advice is not given twice on every run. Returns whether it warned.
 */
export const warnOnUnsupportedNode = (version: string, env: NodeJS.ProcessEnv, warn: (line: string) => void): boolean => {
  if (newer(version, MINIMUM_NODE)) return false;
  warn(`snapshot-factory: Node.js ${version} is not supported (end of life): install Node.js ${MINIMUM_NODE} or later (docs/cli.md, "Node.js versions")`);
  env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  return true;
};
