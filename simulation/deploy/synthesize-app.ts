/**
 * Child-process entry of {@link synthesizedTemplate} (simulation/deploy/template.ts): synthesizes the app as
 * `cdk deploy` would (infra/app.ts with cdk.json's context, cdk-nag included) but without esbuild bundling
 * (`aws:cdk:bundling-stacks: []`, as test/infra/synthesized.ts `deploymentWith` does), and writes the stack's
 * template as JSON to the path given as the first argument.
 *
 * A separate process, so that aws-cdk-lib and cdk-nag are not loaded into each process that runs the simulation:
 * once the template is cached (simulation/deploy/template.ts), a run reads it and never loads them.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createApp } from '../../infra/app';

const [out, cdkJson] = process.argv.slice(2);
if (!out || !cdkJson) throw new Error('usage: synthesize-app.ts <output.json> <cdk.json>');
const context = (JSON.parse(readFileSync(cdkJson, 'utf8')) as { context?: Record<string, unknown> }).context ?? {};
const { app, stack } = createApp({ ...context, 'aws:cdk:bundling-stacks': [] });
const template = app.synth().getStackByName(stack.stackName).template as unknown;
// Write then rename: parallel test workers may synthesize at once; none reads a half-written file.
const partial = `${out}.${process.pid}.partial`;
writeFileSync(partial, JSON.stringify({ stackName: stack.stackName, template }));
renameSync(partial, out);
