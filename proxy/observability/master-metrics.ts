// What the master knows, as counters and a snapshot: the connections it accepted and where they
// went, each worker's identity and load as the worker last reported it (ACK, REJECT and STATUS
// messages carry its open connections and requests served), what happened lately, and the
// upstreams as configured. Every per-worker row and series is keyed by the worker's id, never its
// pid: workers in other containers may share pids.
import type { TimelineEntry } from './event-timeline';
import type { WorkerIdentity } from './worker-identity';

export type { WorkerIdentity, WorkerOrigin } from './worker-identity';

/**
 * serving: may get connections (or, with reuseport, accepts them itself); idle: registered but
 * cannot serve under this transport (idleReason says why); draining: an older generation, or told
 * to quit, finishing its requests; stalled: has left a connection unacknowledged past
 * handoff.ackTimeout (stopped, hung, a long pause), so it gets none until it acknowledges again.
 */
export type WorkerState = 'serving' | 'idle' | 'draining' | 'stalled';
export const WORKER_STATES: readonly WorkerState[] = ['serving', 'idle', 'draining', 'stalled'];

export interface WorkerSnapshot extends WorkerIdentity {
  readonly state: WorkerState;
  readonly idleReason: string | null;
  readonly activeConnections: number;
  readonly inFlight: number;
  readonly requestsServed: number;
  /** Connections the master handed to it (acknowledged or not). */
  readonly handoffsSent: number;
}

export interface MasterSnapshot {
  readonly pid: number;
  readonly host: string;
  readonly transport: string;
  readonly policy: string;
  readonly generation: number;
  readonly uptimeSeconds: number;
  readonly listeners: readonly string[];
  readonly acceptPaused: boolean;
  /** Accepted connections waiting for a worker with room. */
  readonly waiting: number;
}

/**
 * The upstream servers as the config names them, with what the current generation's workers
 * report of each (UPSTREAM messages), summed; null where none reported it.
 */
export interface UpstreamSnapshot {
  readonly name: string;
  readonly servers: readonly UpstreamServerSnapshot[];
}

export interface UpstreamServerSnapshot {
  readonly address: string;
  readonly weight: number;
  /** Request attempts sent to it (a retry counts on the server it went to). */
  readonly requests: number | null;
  /** Attempts that failed (connect errors, timeouts, broken responses: passive health). */
  readonly failures: number | null;
  /** Date.now() until which some worker skips it after a failure; 0 or past: up. */
  readonly downUntil: number | null;
  /**
   * What the active health checks say (null: the upstream has none): since when (Date.now()),
   * and why ("status 503", "connection refused"; after coming back, the passing status).
   */
  readonly health: { readonly state: 'up' | 'down'; readonly since: number; readonly reason: string } | null;
}

export interface StatusSnapshot {
  readonly master: MasterSnapshot;
  readonly counters: Readonly<MasterCounters>;
  readonly workers: readonly WorkerSnapshot[];
  readonly upstreams: readonly UpstreamSnapshot[];
  readonly events: readonly TimelineEntry[];
}

export interface MasterCounters {
  /** Client connections accepted by the master. */
  accepted: number;
  /** Handed to a worker and acknowledged (or, with ipc, sent). */
  handedOff: number;
  /** Sent again because a worker was lost or rejected them before acknowledging. */
  resent: number;
  /** Given up on after too many attempts (the client saw a reset). */
  dropped: number;
  /** Times accepting was paused because every worker was full. */
  acceptPauses: number;
  /** Successful reloads. */
  reloads: number;
}

export function newCounters(): MasterCounters {
  return { accepted: 0, handedOff: 0, resent: 0, dropped: 0, acceptPauses: 0, reloads: 0 };
}

/** A label value in the exposition format: backslash, double quote and newline escaped. */
function labelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function labels(pairs: Record<string, string | number>): string {
  return `{${Object.entries(pairs).map(([k, v]) => `${k}="${labelValue(String(v))}"`).join(',')}}`;
}

/** The labels of every per-worker series: the id keeps them apart, the rest says who it is. */
export function workerLabels(w: WorkerIdentity): Record<string, string | number> {
  return { worker: w.id, pid: w.pid, host: w.host ?? '', origin: w.origin, generation: w.generation };
}

/** Prometheus text exposition format (version 0.0.4). */
export function prometheusText(s: StatusSnapshot): string {
  const lines: string[] = [];
  const metric = (name: string, type: 'counter' | 'gauge', help: string, samples: [string, number][]) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labelText, value] of samples) lines.push(`${name}${labelText} ${value}`);
  };
  const c = s.counters;
  metric('handoff_connections_accepted_total', 'counter', 'Client connections accepted by the master.', [['', c.accepted]]);
  metric('handoff_connections_handed_off_total', 'counter', 'Connections a worker acknowledged.', [['', c.handedOff]]);
  metric('handoff_connections_resent_total', 'counter', 'Connections re-sent after a worker was lost or rejected them.', [['', c.resent]]);
  metric('handoff_connections_dropped_total', 'counter', 'Connections no worker could take.', [['', c.dropped]]);
  metric('handoff_accept_pauses_total', 'counter', 'Times accepting paused because every worker was full.', [['', c.acceptPauses]]);
  metric('handoff_reloads_total', 'counter', 'Successful configuration reloads.', [['', c.reloads]]);
  metric('handoff_generation', 'gauge', 'The configuration generation: 1 at start, one more per successful reload.', [['', s.master.generation]]);
  metric('handoff_connections_waiting', 'gauge', 'Accepted connections waiting for a worker with room.', [['', s.master.waiting]]);
  metric('handoff_workers', 'gauge', 'Registered workers by state.',
    WORKER_STATES.map((state) => [labels({ state }), s.workers.filter((w) => w.state === state).length]));
  const perWorker = (pick: (w: WorkerSnapshot) => number): [string, number][] => s.workers.map((w) => [labels(workerLabels(w)), pick(w)]);
  metric('handoff_worker_connections', 'gauge', 'Open client connections per worker, as last reported.', perWorker((w) => w.activeConnections));
  metric('handoff_worker_in_flight', 'gauge', 'Connections sent to a worker and not yet acknowledged.', perWorker((w) => w.inFlight));
  metric('handoff_worker_requests_total', 'counter', 'Requests served per worker, as last reported.', perWorker((w) => w.requestsServed));
  metric('handoff_worker_handoffs_total', 'counter', 'Connections the master handed to each worker.', perWorker((w) => w.handoffsSent));
  const perServer = (pick: (s: UpstreamServerSnapshot) => number | null): [string, number][] => s.upstreams.flatMap((u) =>
    u.servers.filter((server) => pick(server) !== null).map((server): [string, number] => [labels({ upstream: u.name, server: server.address }), pick(server)!]));
  const now = Date.now();
  metric('handoff_upstream_requests_total', 'counter', 'Request attempts per upstream server, summed over the current generation\'s workers.', perServer((server) => server.requests));
  metric('handoff_upstream_failures_total', 'counter', 'Failed attempts per upstream server, summed over the current generation\'s workers.', perServer((server) => server.failures));
  metric('handoff_upstream_down', 'gauge', '1 while some worker skips the server after a failure.', perServer((server) => server.downUntil === null ? null : server.downUntil > now ? 1 : 0));
  metric('handoff_upstream_check_up', 'gauge', 'Active health checks: 1 while the server passes them, 0 while it is out (only upstreams with healthCheck).', perServer((server) => server.health === null ? null : server.health.state === 'up' ? 1 : 0));
  metric('handoff_upstream_check_change_seconds', 'gauge', 'Active health checks: when the server last went down or came back, Unix time.', perServer((server) => server.health === null ? null : server.health.since / 1000));
  metric('handoff_worker_state', 'gauge', '1 for the state each worker is in, 0 for the others.',
    s.workers.flatMap((w) => WORKER_STATES.map((state): [string, number] => [labels({ ...workerLabels(w), state }), w.state === state ? 1 : 0])));
  return `${lines.join('\n')}\n`;
}
