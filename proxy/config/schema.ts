// What a config file may contain, as the validator knows it: the keys of each kind of object, the
// values of each enum, the worker cap and the timeout defaults. config/handoff.schema.json
// describes the same format for editors; a unit test keeps the key lists in sync.

import { deepFreeze } from './deep-freeze';
import type { AccessLogTarget, BalancePolicy, HandoffTransport, TimeoutsConfig } from './types';

export const TRANSPORTS: readonly HandoffTransport[] = Object.freeze(['seqpacket', 'ipc', 'reuseport']);
export const POLICIES: readonly BalancePolicy[] = Object.freeze(['least-conn', 'round-robin']);
export const MAX_WORKERS = 256;
/**
 * The Upgrade protocols tunnelled unless the config says otherwise. nginx tunnels none unless told
 * to; WebSocket is why a user turns it on. Others, h2c above all, would let a client speak a
 * protocol past this proxy's routing (h2c smuggling), so they are plain requests by default.
 */
export const DEFAULT_UPGRADES: readonly string[] = Object.freeze(['websocket']);
export const ACCESS_LOG_TARGETS: readonly AccessLogTarget[] = Object.freeze(['off', 'stdout']);

/** nginx's defaults for the matching directives. */
export const DEFAULT_TIMEOUTS: TimeoutsConfig = Object.freeze({
  connect: 60_000, read: 60_000, send: 60_000, clientHeader: 60_000, clientBody: 60_000, keepAlive: 75_000, clientSend: 60_000,
});

/** Every key the validator accepts, per object kind; names match the `$defs` of handoff.schema.json. */
export const KNOWN_KEYS = deepFreeze({
  root: ['$schema', 'workers', 'workerPriority', 'handoff', 'listeners', 'upstreams', 'routes', 'timeouts', 'limits', 'accessLog', 'status', 'upgrades'],
  handoff: ['dir', 'transport', 'policy', 'maxInFlightPerWorker'],
  listener: ['host', 'port', 'backlog'],
  upstream: ['servers', 'keepalive'],
  server: ['address', 'weight'],
  route: ['host', 'pathPrefix', 'upstream'],
  timeouts: Object.keys(DEFAULT_TIMEOUTS) as (keyof TimeoutsConfig)[],
  limits: ['maxConnectionsPerWorker', 'maxBodySize'],
} satisfies Record<string, readonly string[]>);
