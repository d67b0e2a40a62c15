// What every balancer of an upstream group is: given which servers may take this request, pick
// one. The group decides eligibility (not yet tried for this request, not marked down) and does
// the bookkeeping; a balancer only chooses, so each one is a strategy behind this interface.
import type { UpstreamServer } from '../upstream-server';

export type Eligible = (server: UpstreamServer) => boolean;

export interface Balancer {
  /**
   * One of the servers `eligible` accepts, or null when it accepts none. `key` is the request's
   * hash key; only the hash balancer reads it.
   */
  pick(eligible: Eligible, key: string): UpstreamServer | null;
}

/**
 * Whether `a` is less loaded than `b` for its weight: a.active / a.weight < b.active / b.weight,
 * compared by cross-multiplying as nginx does, so no division and no rounding.
 */
export function lessLoaded(a: UpstreamServer, b: UpstreamServer): boolean {
  return a.active * b.weight < b.active * a.weight;
}
