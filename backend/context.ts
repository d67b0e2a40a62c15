// Shared, mutable state of one running backend instance. The id is mutable because the default
// id includes the port, which is only known after listen() when --port 0 is used.

export interface BackendStats {
  /** HTTP requests received (upgrades excluded). */
  requests: number;
  /** TCP connections currently open (keep-alive and upgraded ones included). */
  connectionsOpen: number;
  /** TCP connections accepted since start; lets tests check that the proxy reuses connections. */
  connectionsTotal: number;
  /** /delay timers currently armed; drops when a client goes away early. */
  pendingDelays: number;
  /** WebSocket sessions currently open. */
  websocketsOpen: number;
}

export interface BackendContext {
  id: string;
  /** Set once shutdown starts: responses carry `Connection: close`, upgrades are refused. */
  shuttingDown: boolean;
  readonly stats: BackendStats;
}

export function createContext(id: string): BackendContext {
  return {
    id,
    shuttingDown: false,
    stats: { requests: 0, connectionsOpen: 0, connectionsTotal: 0, pendingDelays: 0, websocketsOpen: 0 },
  };
}
