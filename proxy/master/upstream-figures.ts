// The upstream servers as the workers see them, summed. Each worker balances and tracks passive
// health on its own (UPSTREAM messages carry its figures); the master adds up its current
// generation's workers: older ones may run another upstream list, which numbers servers otherwise.
// A worker that leaves takes its counts with it, so the sums can go down: a counter reset, to
// Prometheus.
import { formatAddress } from '../config/addresses';
import type { Config } from '../config/types';
import type { UpstreamReport } from '../handoff/protocol';
import type { UpstreamSnapshot } from '../observability/master-metrics';

/** One worker's last word on one server. */
export interface ServerFigures {
  readonly requests: number;
  readonly failures: number;
  /** Date.now() until which that worker skips it; 0: up. */
  readonly downUntil: number;
}

/** More servers than any config would list: a bound on what one worker's reports may hold. */
const MAX_SERVERS = 10_000;

/** A worker's figures by server number (its place in the config's upstream servers). */
export class WorkerUpstreamFigures {
  private readonly byServer = new Map<number, ServerFigures>();

  record(report: UpstreamReport, now = Date.now()): void {
    if (report.server >= MAX_SERVERS) return;
    this.byServer.set(report.server, { requests: report.requests, failures: report.failures, downUntil: report.downForMs > 0 ? now + report.downForMs : 0 });
  }

  of(server: number): ServerFigures | undefined {
    return this.byServer.get(server);
  }
}

/**
 * The configured upstreams with, per server, the sum of the workers' requests and failures and
 * the latest time any of them skips it until; null where no worker reported it (workers older
 * than protocol 4, or none yet).
 */
export function upstreamSnapshots(upstreams: Config['upstreams'], workers: readonly WorkerUpstreamFigures[]): UpstreamSnapshot[] {
  let server = 0;
  return Object.entries(upstreams).map(([name, u]) => ({
    name,
    servers: u.servers.map((s) => {
      const reports = workers.map((w) => w.of(server)).filter((f): f is ServerFigures => f !== undefined);
      server++;
      const sum = (pick: (f: ServerFigures) => number) => (reports.length === 0 ? null : reports.reduce((total, f) => total + pick(f), 0));
      return {
        address: formatAddress(s.host, s.port),
        weight: s.weight,
        requests: sum((f) => f.requests),
        failures: sum((f) => f.failures),
        downUntil: reports.length === 0 ? null : Math.max(...reports.map((f) => f.downUntil)),
      };
    }),
  }));
}
