// nginx's least_conn: the server with the fewest requests in flight for its weight; among servers
// equally loaded, smooth weighted round robin, so an idle group still honours the weights.
// "In flight" is what this worker has sent there: workers balance on their own, as nginx's do
// unless its upstream has a shared zone, so each spreads its own load and the sum follows.
import type { UpstreamServer } from '../upstream-server';
import { type Balancer, type Eligible, lessLoaded } from './balancer';
import { SmoothWeightedRoundRobin } from './round-robin';

export class LeastConnections implements Balancer {
  private readonly tieBreak: SmoothWeightedRoundRobin;

  constructor(private readonly servers: readonly UpstreamServer[]) {
    this.tieBreak = new SmoothWeightedRoundRobin(servers);
  }

  pick(eligible: Eligible): UpstreamServer | null {
    let least: UpstreamServer | null = null;
    for (const server of this.servers) {
      if (eligible(server) && (least === null || lessLoaded(server, least))) least = server;
    }
    if (least === null) return null;
    const best = least;
    return this.tieBreak.pick((s) => eligible(s) && !lessLoaded(best, s));
  }
}
