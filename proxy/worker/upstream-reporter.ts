// What this worker tells the master about its upstream servers: each one's requests, failures and
// how long it stays marked down (UPSTREAM messages, naming the server by its slot). Balancing and
// passive health are per worker; the master sums the figures for its dashboard and /metrics.
// Only what changed goes out.
import { encodeUpstream } from '../handoff/protocol';
import type { UpstreamServer } from '../upstream/upstream-server';

export class UpstreamReporter {
  /** What the master last heard of each server, by slot, as "requests failures downUntil". */
  private lastSent = new Map<number, string>();

  constructor(
    /** The current members of every group: servers join and leave as the master says. */
    private readonly servers: () => readonly UpstreamServer[],
    private readonly send: (message: Buffer) => void,
  ) {}

  /** One UPSTREAM per server whose figures changed since the last call (every server the first time). */
  reportChanges(now = Date.now()): void {
    const sent = new Map<number, string>();
    for (const server of this.servers()) {
      const figures = `${server.requests} ${server.health.failures} ${server.health.downUntil}`;
      sent.set(server.slot, figures);
      if (this.lastSent.get(server.slot) === figures) continue;
      this.send(encodeUpstream({ server: server.slot, requests: server.requests >>> 0, failures: server.health.failures >>> 0, downForMs: Math.max(0, server.health.downUntil - now) }));
    }
    this.lastSent = sent;
  }
}
