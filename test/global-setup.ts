/**
 * Runs once before the test workers start: warms the simulated deploy's cache (simulation/deploy/template.ts), so
 * on a fresh clone (CI) the one synthesis it costs happens here, outside any test's time limit, instead of in
 * whichever worker first runs a simulation.
 */
import { defaultDeployment } from '../simulation/deploy/deployment';

export default function setup(): void {
  defaultDeployment();
}
