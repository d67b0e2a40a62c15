// One server of an upstream group, as seen by one worker: who it is (host, port, weight, label),
// its health (server-health.ts) and its keep-alive pool, each on its own.
import type { UpstreamServerConfig } from '../config/types';
import { ServerHealth } from './server-health';
import { UpstreamPool } from './upstream-pool';

/** Who a server is: what the balancer weighs and the logs name. */
export interface ServerIdentity {
  readonly host: string;
  readonly port: number;
  readonly weight: number;
  /** host:port, with an IPv6 host in brackets. */
  readonly label: string;
}

export class UpstreamServer implements ServerIdentity {
  /** The master's number for it (upstream-membership.ts): how SERVER and UPSTREAM messages name it. */
  readonly slot: number;
  readonly host: string;
  readonly port: number;
  readonly weight: number;
  readonly label: string;
  /** Up, or down until a time: passive failures feed it. */
  readonly health: ServerHealth;
  /** Idle keep-alive connections to this server (raw sockets + llhttp). */
  readonly pool: UpstreamPool;
  /** Request attempts sent here (a retry counts on the server it went to), for the master's figures. */
  requests = 0;
  /**
   * Attempts (and tunnels) this worker has in flight here, for least-conn and random-two. Whoever
   * picked the server holds one unit from enter() until leave().
   */
  active = 0;

  /** `slot`: the config's, or, from a master that gives none, the server's place in its config. */
  constructor(config: UpstreamServerConfig, keepalive: number, slot: number) {
    this.slot = config.slot ?? slot;
    this.host = config.host;
    this.port = config.port;
    this.weight = config.weight;
    this.label = config.host.includes(':') ? `[${config.host}]:${config.port}` : `${config.host}:${config.port}`;
    // A master older than this worker publishes no passive-health settings: nginx's defaults.
    this.health = new ServerHealth(config.maxFails ?? 1, config.failTimeout ?? 10_000);
    this.pool = new UpstreamPool(config.host, config.port, keepalive);
  }

  enter(): void {
    this.active++;
  }

  leave(): void {
    this.active--;
  }

  close(): void {
    this.pool.close();
  }
}
