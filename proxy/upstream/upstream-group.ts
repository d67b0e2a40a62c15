// An upstream group: its servers and the balancer that picks one per request attempt.
// The balancer is nginx's smooth weighted round robin (ngx_http_upstream_round_robin.c):
// every pick adds each server's weight to its current score, takes the highest, and subtracts
// the total from the winner — weights are honoured and picks are interleaved, not bunched.
import type { UpstreamConfig } from '../config/types';
import { UpstreamServer } from './upstream-server';

const NOTHING_TRIED: ReadonlySet<UpstreamServer> = new Set();

export class UpstreamGroup {
  readonly name: string;
  readonly servers: readonly UpstreamServer[];
  private readonly current: number[];

  constructor(config: UpstreamConfig) {
    this.name = config.name;
    this.servers = config.servers.map((s) => new UpstreamServer(s, config.keepalive));
    this.current = this.servers.map(() => 0);
    // Every worker runs its own balancer from the same starting state; without an offset, workers
    // taking turns would each send their next request to the same server (runs of N per backend).
    const totalWeight = this.servers.reduce((sum, s) => sum + s.weight, 0);
    for (let i = process.pid % totalWeight; i > 0; i--) this.pickAmong(NOTHING_TRIED, () => true);
  }

  /**
   * Picks the next server, skipping those in `tried` and those marked down. When every
   * untried server is down, nginx tries them anyway rather than fail outright: so do we.
   */
  pick(tried: ReadonlySet<UpstreamServer>, now = Date.now()): UpstreamServer | null {
    const server = this.pickAmong(tried, (s) => s.health.isAvailable(now)) ?? this.pickAmong(tried, () => true);
    if (server) server.requests++;
    return server;
  }

  private pickAmong(tried: ReadonlySet<UpstreamServer>, eligible: (s: UpstreamServer) => boolean): UpstreamServer | null {
    let best = -1;
    let total = 0;
    for (let i = 0; i < this.servers.length; i++) {
      const server = this.servers[i];
      if (tried.has(server) || !eligible(server)) continue;
      this.current[i] += server.weight;
      total += server.weight;
      if (best === -1 || this.current[i] > this.current[best]) best = i;
    }
    if (best === -1) return null;
    this.current[best] -= total;
    return this.servers[best];
  }

  close(): void {
    for (const server of this.servers) server.close();
  }
}
