// What this worker tells the master about its upstream servers: each one's requests, failures and
// how long it stays marked down (UPSTREAM messages). Balancing and passive health are per worker;
// the master sums the figures for its dashboard and /metrics. Only what changed goes out.
import { encodeUpstream } from '../handoff/protocol';
import type { UpstreamServer } from '../upstream/upstream-server';

export class UpstreamReporter {
  /** What the master last heard of each server, as "requests failures downUntil". */
  private readonly lastSent: string[] = [];

  constructor(
    /** In the published config's order: the master knows each by its place in that list. */
    private readonly servers: readonly UpstreamServer[],
    private readonly send: (message: Buffer) => void,
  ) {}

  /** One UPSTREAM per server whose figures changed since the last call (every server the first time). */
  reportChanges(now = Date.now()): void {
    this.servers.forEach((server, i) => {
      const figures = `${server.requests} ${server.health.failures} ${server.health.downUntil}`;
      if (this.lastSent[i] === figures) return;
      this.lastSent[i] = figures;
      this.send(encodeUpstream({ server: i, requests: server.requests >>> 0, failures: server.health.failures >>> 0, downForMs: Math.max(0, server.health.downUntil - now) }));
    });
  }
}
