// The client-facing side of a worker, as the Worker sees it, and the choice of engine:
//  - 'fast' (the default): FastFront, raw sockets + Node's llhttp on both sides (fast-front.ts);
//  - 'node': HttpFront, node:http's Server + http.request (http-front.ts), the original engine.
// HANDOFF_ENGINE=node selects the second; so does a Node that no longer exposes llhttp.
import type net from 'node:net';
import type { Config } from '../config/types';
import type { Logger } from '../observability/logger';
import type { UpstreamServer } from '../upstream/upstream-server';
import { FastFront } from './fast-front';
import { HttpFront } from './http-front';
import { loadHttpParser } from './llhttp';

export interface Front {
  /** Requests taken so far (reported to the master for its metrics and dashboard). */
  readonly requestsServed: number;
  /** Every upstream server, in the config's order, with its requests, failures and down time. */
  readonly upstreamServers: readonly UpstreamServer[];
  /** Serves one client connection; the socket closes when the client or HTTP says so. */
  serve(socket: net.Socket): void;
  /**
   * Opens a socket on an accepted TCP fd and serves it; `onClose` runs once it has closed. Throws
   * if the fd cannot be opened; the caller still owns the fd then. `handedOff`: the master passed
   * it, and may still hold its own copy (so closing sends the FIN first: ClientSocket.closeAfterFin).
   */
  serveFd(fd: number, onClose: () => void, handedOff: boolean): void;
  /** Reload or graceful stop: from now on every response closes its connection. */
  drain(): void;
  /** Closes connections between requests; a worker shutting down calls it until none are left. */
  closeIdle(graceMs: number): void;
  closeAllConnections(): void;
  closeUpstreams(): void;
}

export type EngineName = 'fast' | 'node';

export function engineName(env: NodeJS.ProcessEnv = process.env): EngineName {
  if (env.HANDOFF_ENGINE === 'node') return 'node';
  return loadHttpParser() === null ? 'node' : 'fast';
}

export function createFront(config: Config, log: Logger): Front {
  if (engineName() === 'node') return new HttpFront(config, log);
  return new FastFront(config, log);
}
