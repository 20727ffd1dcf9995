/** Shared by the fixtures that run real daemons (containerd, the registry) for the tests. */
import type { ChildProcess } from 'node:child_process';

/** Stops a daemon: SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
export const stopProcess = async (child: ChildProcess, graceMs = 5000): Promise<void> => {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, graceMs))]);
  if (child.exitCode === null) child.kill('SIGKILL');
};
