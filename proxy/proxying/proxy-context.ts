// What every part of the proxy reads of the config, given once to the front and passed down.
import type { TimeoutsConfig } from '../config/types';
import type { Logger } from '../observability/logger';
import type { RealIp } from './real-ip';

export interface ProxyContext {
  readonly timeouts: TimeoutsConfig;
  /** client_max_body_size in bytes; 0 = unlimited. */
  readonly maxBodySize: number;
  /** Upgrade protocols tunnelled (config.upgrades); any other makes a plain request. */
  readonly upgrades: readonly string[];
  /** Trusted proxies' client-address header (config.realIp); null: the client is the TCP peer. */
  readonly realIp: RealIp | null;
  readonly log: Logger;
  /** The worker's header line (config.workerHeader, "X-Handoff-Worker: w2\r\n"), or ''. */
  readonly workerLine: () => string;
}

/**
 * How long a client that had its connection's last answer may take to close its side before the
 * proxy cuts it off (at most timeouts.keepAlive): a lingering close, as nginx's.
 */
export function closeLingerMs(ctx: ProxyContext): number {
  return Math.min(5_000, ctx.timeouts.keepAlive);
}
