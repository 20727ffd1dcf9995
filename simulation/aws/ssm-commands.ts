/**
 * Simulated SSM agent registration and Run Command.
 * STUB — to be implemented (see issue 2 brief).
 */
import type { SimulatedAwsCore } from './core';
import type { SimulatedEc2 } from './ec2';

export class SimulatedSsmCommands {
  constructor(
    readonly core: SimulatedAwsCore,
    readonly ec2: SimulatedEc2,
  ) {}
}
