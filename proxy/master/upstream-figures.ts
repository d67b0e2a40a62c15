// The upstream servers as the workers see them, summed. Each worker balances and tracks passive
// health on its own (UPSTREAM messages carry its figures, by slot); the master adds up its current
// generation's workers and lays the sums over the membership, with each server's active health.
// A worker that leaves takes its counts with it, so the sums can go down: a counter reset, to
// Prometheus.
import { ServerState, type UpstreamReport } from '../handoff/protocol';
import type { UpstreamSnapshot } from '../observability/master-metrics';
import type { Member } from './upstream-membership';

/** One worker's last word on one server. */
export interface ServerFigures {
  readonly requests: number;
  readonly failures: number;
  /** Date.now() until which that worker skips it; 0: up. */
  readonly downUntil: number;
}

/** More servers than any group would hold at once: a bound on what one worker's reports may hold. */
const MAX_SERVERS = 10_000;

/** A worker's figures by server slot (upstream-membership.ts). */
export class WorkerUpstreamFigures {
  private readonly byServer = new Map<number, ServerFigures>();

  record(report: UpstreamReport, now = Date.now()): void {
    if (this.byServer.size >= MAX_SERVERS && !this.byServer.has(report.server)) return;
    this.byServer.set(report.server, { requests: report.requests, failures: report.failures, downUntil: report.downForMs > 0 ? now + report.downForMs : 0 });
  }

  /** The server left its group: its figures go with it. */
  forget(server: number): void {
    this.byServer.delete(server);
  }

  of(server: number): ServerFigures | undefined {
    return this.byServer.get(server);
  }
}

/**
 * The members of each upstream, with, per server, its active health and the sum of the workers'
 * requests and failures and the latest time any of them skips it until; figures are null where
 * no worker reported the server (workers older than protocol 4, or none yet).
 */
export function upstreamSnapshots(members: readonly Member[], workers: readonly WorkerUpstreamFigures[]): UpstreamSnapshot[] {
  const byName = new Map<string, Member[]>();
  for (const member of members) byName.set(member.upstreamName, [...(byName.get(member.upstreamName) ?? []), member]);
  return [...byName].map(([name, group]) => ({
    name,
    servers: group.map((member) => {
      const reports = workers.map((w) => w.of(member.slot)).filter((f): f is ServerFigures => f !== undefined);
      const sum = (pick: (f: ServerFigures) => number) => (reports.length === 0 ? null : reports.reduce((total, f) => total + pick(f), 0));
      const { health } = member;
      return {
        address: member.label,
        weight: member.server.weight,
        requests: sum((f) => f.requests),
        failures: sum((f) => f.failures),
        downUntil: reports.length === 0 ? null : Math.max(...reports.map((f) => f.downUntil)),
        health: member.check === null
          ? null
          : { state: health.state === ServerState.UP ? 'up' as const : 'down' as const, since: health.since, reason: health.detail },
      };
    }),
  }));
}
