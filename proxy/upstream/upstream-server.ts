// One server of an upstream group, as seen by one worker: its keep-alive pool and its
// passive health (nginx's max_fails=1 fail_timeout=10s).
import type { UpstreamServerConfig } from '../config/types';
import { UpstreamPool } from './upstream-pool';

/** How long a server that failed is skipped by the balancer (nginx's fail_timeout default). */
const FAIL_TIMEOUT_MS = 10_000;

export class UpstreamServer {
  readonly host: string;
  readonly port: number;
  readonly weight: number;
  readonly label: string;
  /** Idle keep-alive connections to this server (raw sockets + llhttp). */
  readonly pool: UpstreamPool;
  /** Request attempts sent here (a retry counts on the server it went to), for the master's figures. */
  requests = 0;
  /** Attempts that failed, as passive health counts them (markFailed). */
  failures = 0;
  /** Date.now() until which the balancer skips it; 0 or past: up. */
  private downUntilMs = 0;

  constructor(config: UpstreamServerConfig, keepalive: number) {
    this.host = config.host;
    this.port = config.port;
    this.weight = config.weight;
    this.label = config.host.includes(':') ? `[${config.host}]:${config.port}` : `${config.host}:${config.port}`;
    this.pool = new UpstreamPool(config.host, config.port, keepalive);
  }

  isAvailable(now: number): boolean {
    return now >= this.downUntilMs;
  }

  get downUntil(): number {
    return this.downUntilMs;
  }

  markFailed(now: number): void {
    this.failures++;
    this.downUntilMs = now + FAIL_TIMEOUT_MS;
  }

  markHealthy(): void {
    this.downUntilMs = 0;
  }

  close(): void {
    this.pool.close();
  }
}
