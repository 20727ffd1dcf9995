/**
 * Runs once before the test workers start: starts the synthesis of the simulated deploy's template
 * (simulation/deploy/template.ts `startSynthesis`) on a fresh clone (CI), so it costs one synthesis outside any test's
 * time limit instead of one in whichever worker first runs a simulation. It does not wait for it: the workers start
 * at once, and those that need the template wait on the synthesis's lock. The teardown waits for the child process,
 * so none outlives the run. On an unsupported Node.js it says so once (cli/node-support.ts), and the workers and the
 * processes they start inherit the SDK's switch instead of printing its warning each time.
 */
import '../cli/unsupported-node-warning';
import { startSynthesis } from '../simulation/deploy/template';

export default function setup(): () => Promise<void> {
  const synthesis = startSynthesis();
  return async () => {
    await synthesis;
  };
}
