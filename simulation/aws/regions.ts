/**
 * The simulated account's other regions. AWS keeps EC2 snapshots, Parameter Store parameters and EventBridge buses
 * per region ("Regions and Zones", Amazon EC2 User Guide: "resources are tied to the Region"; a parameter and an
 * event bus live in one region), so a region other than the home one is a whole simulated region of the same
 * account: its own EC2, parameters, events and IAM evaluation, sharing only the account ID and the clock.
 * The single-region path never creates one.
 *
 * Left out: the regions a real account has enabled (any well-formed region name is accepted here), opt-in regions.
 */
import { createSimulatedAccount, type SimulatedAccount } from './account';

type RegionListener = (region: SimulatedAccount) => void;
const listeners = new WeakMap<SimulatedAccount, Set<RegionListener>>();

/** The simulated `region` of `account`'s account: the home one, an existing one, or a new one created now. */
export const regionOf = (account: SimulatedAccount, region: string): SimulatedAccount => {
  const home = account.home ?? account;
  if (region === home.core.region) return home;
  let regional = home.regions.get(region);
  if (!regional) {
    regional = createSimulatedAccount({ region, accountId: home.core.accountId, home });
    home.regions.set(region, regional);
    for (const listener of listeners.get(home) ?? []) listener(regional);
  }
  return regional;
};

/**
 * Calls `listener` for each other region of `account`, now and whenever one is created (the harness installs the
 * deployed IAM policies in each); returns a function that stops the calls.
 */
export const onRegion = (account: SimulatedAccount, listener: RegionListener): (() => void) => {
  const home = account.home ?? account;
  const set = listeners.get(home) ?? new Set<RegionListener>();
  listeners.set(home, set);
  set.add(listener);
  for (const regional of home.regions.values()) listener(regional);
  return () => set.delete(listener);
};
