/**
 * Imported first by the CLI's entry points (cli/snapshot-factory.ts, cli/simulate.ts), before any AWS SDK client
 * exists: on an unsupported Node.js, one line saying what to do instead of the SDK's multi-line warning.
 */
import { warnOnUnsupportedNode } from './node-support';

warnOnUnsupportedNode(process.versions.node, process.env, (line) => console.error(line));
