/**
 * CDK app entry (`cdk.json` "app"): one stack, settings from the `snapshotFactory` context key,
 * cdk-nag's AwsSolutions pack on every synth. Environment-agnostic, so `cdk synth` needs no credentials.
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { CONTEXT_KEY, settingsFromContext } from './config';
import { SnapshotFactoryStack } from './stack';

/** Builds the app; tests call it with their own context. */
export const createApp = (context: Record<string, unknown> = {}): { app: App; stack: SnapshotFactoryStack } => {
  const app = new App({ context });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const stackName = (app.node.tryGetContext('stackName') as string | undefined) ?? 'SnapshotFactory';
  // cdk.json gives an object, `-c snapshotFactory='{...}'` a string: both become one settings object here.
  const { settings, source } = settingsFromContext(app.node.tryGetContext(CONTEXT_KEY), CONTEXT_KEY);
  const stack = new SnapshotFactoryStack(app, stackName, {
    description: 'Bottlerocket Snapshot Factory: builds EBS snapshots of Bottlerocket data volumes with container images pre-pulled',
    factory: { ...settings, settingsSource: source },
  });
  return { app, stack };
};

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  createApp().app.synth();
}
