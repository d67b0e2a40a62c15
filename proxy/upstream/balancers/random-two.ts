// nginx's `random two least_conn` (the power of two choices): draw two servers at random, each
// with a chance proportional to its weight, and send the request to the less loaded of them.
// It spreads load almost as evenly as least-conn while needing no global ordering, which is why
// it suits many independent balancers (here: one per worker) that cannot see each other's counts.
import type { UpstreamServer } from '../upstream-server';
import { type Balancer, type Eligible, lessLoaded } from './balancer';

export class RandomTwoChoices implements Balancer {
  constructor(
    private readonly servers: readonly UpstreamServer[],
    private readonly random: () => number = Math.random,
  ) {}

  pick(eligible: Eligible): UpstreamServer | null {
    const first = this.draw(eligible, null);
    if (first === null) return null;
    const second = this.draw(eligible, first);
    if (second === null) return first;
    return lessLoaded(second, first) ? second : first;
  }

  /** A weighted draw among the eligible servers other than `except`. */
  private draw(eligible: Eligible, except: UpstreamServer | null): UpstreamServer | null {
    let total = 0;
    for (const server of this.servers) if (server !== except && eligible(server)) total += server.weight;
    if (total === 0) return null;
    let point = this.random() * total;
    for (const server of this.servers) {
      if (server === except || !eligible(server)) continue;
      point -= server.weight;
      if (point < 0) return server;
    }
    // Rounding can leave `point` at exactly 0 after the last server: that server it is.
    for (let i = this.servers.length - 1; i >= 0; i--) {
      const server = this.servers[i]!;
      if (server !== except && eligible(server)) return server;
    }
    return null;
  }
}
