/**
 * Runs once before the test workers start: warms the simulated deploy's cache (simulation/deploy/template.ts), so
 * on a fresh clone (CI) the one synthesis it costs happens here, outside any test's time limit, instead of in
 * whichever worker first runs a simulation. On an unsupported Node.js it says so once (cli/node-support.ts), and the
 * workers and the processes they start inherit the SDK's switch instead of printing its warning each time.
 */
import '../cli/unsupported-node-warning';
import { defaultDeployment } from '../simulation/deploy/deployment';

export default function setup(): void {
  defaultDeployment();
}
