// An upstream group: its servers and the balancer that picks one per request attempt. The group
// decides which servers may be picked (not tried yet for this request, not marked down) and
// counts what was sent; the balancer (balancers/, as the config's `balancer` says) chooses.
import type { UpstreamConfig } from '../config/types';
import type { Balancer } from './balancers/balancer';
import { type KeyOf, keyReader } from './balancers/balance-key';
import { createBalancer } from './balancers/create-balancer';
import { UpstreamServer } from './upstream-server';

export class UpstreamGroup {
  readonly name: string;
  readonly servers: readonly UpstreamServer[];
  private readonly balancer: Balancer;
  private readonly keyOf: KeyOf;

  constructor(config: UpstreamConfig) {
    this.name = config.name;
    this.servers = config.servers.map((s) => new UpstreamServer(s, config.keepalive));
    // A master older than this worker publishes no balancer: nginx's default, as before.
    this.balancer = createBalancer(config.balancer ?? 'round-robin', this.servers);
    this.keyOf = keyReader(config.hashKey ?? null);
  }

  /** The request's hash key (the empty string unless the balancer is "hash"). */
  keyFor(clientAddress: string | undefined, url: string, rawHeaders: readonly string[]): string {
    return this.keyOf(clientAddress, url, rawHeaders);
  }

  /**
   * Picks the next server, skipping those in `tried` and those marked down. When every
   * untried server is down, nginx tries them anyway rather than fail outright: so do we.
   */
  pick(tried: ReadonlySet<UpstreamServer>, key = '', now = Date.now()): UpstreamServer | null {
    const server =
      this.balancer.pick((s) => !tried.has(s) && s.health.isAvailable(now), key) ??
      this.balancer.pick((s) => !tried.has(s), key);
    if (server) server.requests++;
    return server;
  }

  close(): void {
    for (const server of this.servers) server.close();
  }
}
