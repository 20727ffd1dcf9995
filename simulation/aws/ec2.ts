/**
 * Simulated EC2: instances, volumes and snapshots with realistic state progress over (virtual) time.
 * STUB — to be implemented (see issue 2 brief).
 */
import type { SimulatedAwsCore } from './core';

export class SimulatedEc2 {
  constructor(readonly core: SimulatedAwsCore) {}
}
