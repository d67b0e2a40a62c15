// nginx's smooth weighted round robin (ngx_http_upstream_round_robin.c): every pick adds each
// eligible server's weight to its score, takes the highest, and subtracts the total from the
// winner. Weights are honoured exactly over a cycle, and picks are interleaved, not bunched.
import type { UpstreamServer } from '../upstream-server';
import type { Balancer, Eligible } from './balancer';

const EVERY: Eligible = () => true;

export class SmoothWeightedRoundRobin implements Balancer {
  private readonly scores: number[];

  constructor(private readonly servers: readonly UpstreamServer[]) {
    this.scores = servers.map(() => 0);
    // Every worker runs its own balancer from the same starting state; without an offset, workers
    // taking turns would each send their next request to the same server (runs of N per backend).
    const totalWeight = servers.reduce((sum, s) => sum + s.weight, 0);
    for (let i = process.pid % totalWeight; i > 0; i--) this.pick(EVERY);
  }

  pick(eligible: Eligible): UpstreamServer | null {
    const { servers, scores } = this;
    let best = -1;
    let total = 0;
    for (let i = 0; i < servers.length; i++) {
      const server = servers[i]!;
      if (!eligible(server)) continue;
      scores[i]! += server.weight;
      total += server.weight;
      if (best === -1 || scores[i]! > scores[best]!) best = i;
    }
    if (best === -1) return null;
    scores[best]! -= total;
    return servers[best]!;
  }
}
