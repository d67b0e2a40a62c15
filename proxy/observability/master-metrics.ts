// What the master knows, as counters and a snapshot: the connections it accepted and where they
// went, and each worker's load as the worker last reported it (ACK, REJECT and STATUS messages
// carry its open connections and requests served).

export interface WorkerSnapshot {
  readonly pid: number;
  /** 'current' takes new connections; 'retiring' is finishing its requests after a reload. */
  readonly generation: 'current' | 'retiring';
  readonly activeConnections: number;
  readonly inFlight: number;
  readonly requestsServed: number;
}

export interface StatusSnapshot {
  readonly pid: number;
  readonly uptimeSeconds: number;
  readonly transport: string;
  readonly listeners: readonly string[];
  readonly acceptPaused: boolean;
  readonly waiting: number;
  readonly counters: Readonly<MasterCounters>;
  readonly workers: readonly WorkerSnapshot[];
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

/** Prometheus text exposition format (version 0.0.4). */
export function prometheusText(s: StatusSnapshot): string {
  const lines: string[] = [];
  const metric = (name: string, type: 'counter' | 'gauge', help: string, samples: [string, number][]) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of samples) lines.push(`${name}${labels} ${value}`);
  };
  const c = s.counters;
  metric('handoff_connections_accepted_total', 'counter', 'Client connections accepted by the master.', [['', c.accepted]]);
  metric('handoff_connections_handed_off_total', 'counter', 'Connections a worker acknowledged.', [['', c.handedOff]]);
  metric('handoff_connections_resent_total', 'counter', 'Connections re-sent after a worker was lost or rejected them.', [['', c.resent]]);
  metric('handoff_connections_dropped_total', 'counter', 'Connections no worker could take.', [['', c.dropped]]);
  metric('handoff_accept_pauses_total', 'counter', 'Times accepting paused because every worker was full.', [['', c.acceptPauses]]);
  metric('handoff_reloads_total', 'counter', 'Successful configuration reloads.', [['', c.reloads]]);
  metric('handoff_connections_waiting', 'gauge', 'Accepted connections waiting for a worker with room.', [['', s.waiting]]);
  metric('handoff_workers', 'gauge', 'Registered workers by generation.', [
    ['{generation="current"}', s.workers.filter((w) => w.generation === 'current').length],
    ['{generation="retiring"}', s.workers.filter((w) => w.generation === 'retiring').length],
  ]);
  const perWorker = (pick: (w: WorkerSnapshot) => number): [string, number][] => s.workers.map((w) => [`{pid="${w.pid}"}`, pick(w)]);
  metric('handoff_worker_connections', 'gauge', 'Open client connections per worker, as last reported.', perWorker((w) => w.activeConnections));
  metric('handoff_worker_in_flight', 'gauge', 'Connections sent to a worker and not yet acknowledged.', perWorker((w) => w.inFlight));
  metric('handoff_worker_requests_total', 'counter', 'Requests served per worker, as last reported.', perWorker((w) => w.requestsServed));
  return `${lines.join('\n')}\n`;
}
