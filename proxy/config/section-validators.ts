// One validator per section of the config file. Each reads its raw JSON, reports every problem
// into the Checker at the field's path, and returns the section's value with defaults filled in
// (or a fallback after a problem, which never escapes: validateConfig then throws a ConfigError).

import * as os from 'os';
import * as path from 'path';
import { type PlacedAddress, comparableHost, describeOverlap, firstBindConflict, formatAddress } from './addresses';
import { Checker, closestMatch, describeValue } from './errors';
import { ACCESS_LOG_TARGETS, DEFAULT_TIMEOUTS, DEFAULT_UPGRADES, KNOWN_KEYS, MAX_WORKERS, POLICIES, TRANSPORTS } from './schema';
import type {
  AccessLogTarget, Config, HandoffConfig, LimitsConfig, ListenerConfig, RouteConfig, TimeoutsConfig, UpstreamConfig,
  UpstreamServerConfig, WorkerPriority,
} from './types';
import {
  NO_ADDRESS, parseDuration, parseHost, parseListenAddress, parsePathPrefix, parseRouteHost, parseServerAddress, parseSize,
} from './value-parsers';

export function validateWorkers(check: Checker, value: unknown): number {
  // nginx's built-in worker_processes default is 1; "auto" must be asked for.
  if (value === undefined) return 1;
  if (value === 'auto') {
    const cpus = os.availableParallelism?.() ?? os.cpus().length;
    return Math.min(MAX_WORKERS, Math.max(1, cpus));
  }
  if (typeof value === 'string') {
    check.report('workers', `expected a number from 1 to ${MAX_WORKERS} or "auto", got ${describeValue(value)}`);
    return 1;
  }
  return check.integer(value, 'workers', 1, MAX_WORKERS, 1);
}

/**
 * `workerPriority`: a nice value as nginx's worker_priority, or "auto" (the default): 5 below the
 * nice each worker starts with. The master hands every new connection to a worker; when the CPU
 * is short, workers that outrank it let connections gather in the backlog and the master takes
 * them in batches, rather than waking for each one and pre-empting the workers (bench/README.md).
 */
export function validateWorkerPriority(check: Checker, value: unknown): WorkerPriority {
  if (value === undefined || value === 'auto') return 'auto';
  if (typeof value === 'string') {
    check.report('workerPriority', `expected a nice value from -20 to 19 or "auto", got ${describeValue(value)}`);
    return 'auto';
  }
  return check.integer(value, 'workerPriority', -20, 19, 0);
}

// sun_path holds 108 bytes including the NUL; leave room for "/" plus a socket file name of up
// to 24 bytes. bind() would fail later with an opaque ENAMETOOLONG/EINVAL; say it now instead.
const MAX_HANDOFF_DIR_BYTES = 107 - 1 - 24;

export function validateHandoff(check: Checker, value: unknown, file: string | null): HandoffConfig {
  const obj = check.optionalObject(value, 'handoff');
  check.knownKeys(obj, KNOWN_KEYS.handoff, 'handoff');
  let dir = path.join(os.tmpdir(), 'handoff');
  if (obj.dir !== undefined) {
    const given = check.nonEmptyString(obj.dir, 'handoff.dir');
    // Relative to the config file, not the cwd: the same file works wherever handoff is started from.
    if (given !== null) dir = path.resolve(file === null ? process.cwd() : path.dirname(file), given);
  }
  if (Buffer.byteLength(dir) > MAX_HANDOFF_DIR_BYTES) {
    check.report('handoff.dir', `"${dir}" is too long for Unix socket paths (at most ${MAX_HANDOFF_DIR_BYTES} bytes)`);
  }
  return {
    dir,
    transport: check.oneOf(obj.transport, 'handoff.transport', TRANSPORTS, 'seqpacket'),
    policy: check.oneOf(obj.policy, 'handoff.policy', POLICIES, 'least-conn'),
    maxInFlightPerWorker: check.integer(obj.maxInFlightPerWorker, 'handoff.maxInFlightPerWorker', 1, 4096, 64),
  };
}

/** The listeners, and the valid ones' addresses with their paths (for the status address's check). */
export function validateListeners(check: Checker, value: unknown): { listeners: ListenerConfig[]; addresses: PlacedAddress[] } {
  const items = check.nonEmptyArray(value, 'listeners', 'e.g. ["127.0.0.1:8080"]');
  const listeners: ListenerConfig[] = [];
  const addresses: PlacedAddress[] = [];
  items.forEach((item, i) => {
    const at = `listeners[${i}]`;
    let listener: ListenerConfig;
    if (typeof item === 'string') {
      const address = check.parse(item, at, parseListenAddress, null);
      if (address === null) return;
      listener = { ...address, backlog: 511 };
    } else {
      const obj = check.object(item, at, 'a "host:port" string or an object');
      if (obj === null) return;
      check.knownKeys(obj, KNOWN_KEYS.listener, at);
      listener = {
        host: obj.host === undefined ? '127.0.0.1' : check.parse(obj.host, `${at}.host`, parseHost, ''),
        port: obj.port === undefined ? check.required(`${at}.port`, 0) : check.integer(obj.port, `${at}.port`, 0, 65535, 0),
        backlog: check.integer(obj.backlog, `${at}.backlog`, 1, 65535, 511),
      };
    }
    listeners.push(listener);
    // Host '' is the fallback after a reported problem: nothing to compare.
    if (listener.host === '') return;
    const address = { at, host: listener.host.toLowerCase(), port: listener.port };
    const conflict = firstBindConflict(addresses, address);
    if (conflict !== null) {
      check.report(at, conflict.kind === 'same'
        ? `duplicate listener ${formatAddress(address.host, address.port)} (same as ${conflict.with.at})`
        : describeOverlap(address, conflict.with, conflict.kind));
    }
    // Kept even after a conflict, so the status address is checked against every listener.
    addresses.push(address);
  });
  return { listeners, addresses };
}

export function validateUpstreams(check: Checker, value: unknown): { byName: Record<string, UpstreamConfig>; names: string[] } {
  if (value === undefined) {
    check.report('upstreams', 'is required: at least one upstream, e.g. {"backend": {"servers": ["127.0.0.1:3000"]}}');
    return { byName: {}, names: [] };
  }
  const obj = check.object(value, 'upstreams');
  if (obj === null) return { byName: {}, names: [] };
  const names = Object.keys(obj);
  if (names.length === 0) check.report('upstreams', 'must define at least one upstream');
  const entries = names.map((name): [string, UpstreamConfig] => {
    const at = check.join('upstreams', name);
    if (!/^[\w.-]+$/.test(name)) check.report(at, `upstream names may contain only letters, digits, "_", "." and "-"`);
    const upstream = check.object(obj[name], at) ?? {};
    check.knownKeys(upstream, KNOWN_KEYS.upstream, at);
    const items = check.nonEmptyArray(upstream.servers, `${at}.servers`, 'e.g. ["127.0.0.1:3000"]');
    const servers = items.map((item, i) => validateServer(check, item, `${at}.servers[${i}]`));
    reportDuplicateServers(check, servers, `${at}.servers`);
    return [name, { name, servers, keepalive: check.integer(upstream.keepalive, `${at}.keepalive`, 0, 10_000, 32) }];
  });
  // fromEntries defines own properties, so a name like "__proto__" cannot reach the prototype.
  return { byName: Object.fromEntries(entries), names };
}

function validateServer(check: Checker, item: unknown, at: string): UpstreamServerConfig {
  if (typeof item === 'string') return { ...check.parse(item, at, parseServerAddress, NO_ADDRESS), weight: 1 };
  const obj = check.object(item, at, 'a "host:port" string or an object') ?? {};
  check.knownKeys(obj, KNOWN_KEYS.server, at);
  const address = obj.address === undefined
    ? check.required(`${at}.address`, NO_ADDRESS, 'e.g. "127.0.0.1:3000"')
    : check.parse(obj.address, `${at}.address`, parseServerAddress, NO_ADDRESS);
  return { ...address, weight: check.integer(obj.weight, `${at}.weight`, 1, 1000, 1) };
}

/**
 * nginx accepts a server listed twice and balances to it twice as often: a weight nobody wrote
 * down. Refused here; the weight says that explicitly.
 */
function reportDuplicateServers(check: Checker, servers: readonly UpstreamServerConfig[], at: string): void {
  const seen = new Map<string, string>();
  servers.forEach((server, i) => {
    if (server.host === '') return; // the fallback after a reported problem
    const key = formatAddress(comparableHost(server.host), server.port);
    const first = seen.get(key);
    if (first === undefined) seen.set(key, `${at}[${i}]`);
    else {
      check.report(`${at}[${i}]`,
        `duplicate server ${formatAddress(server.host, server.port)} (same as ${first}); list it once with a higher weight instead`);
    }
  });
}

export function validateRoutes(check: Checker, value: unknown, upstreamNames: readonly string[]): RouteConfig[] {
  if (value === undefined) {
    // Nothing to choose between: with one upstream, send everything there.
    if (upstreamNames.length === 1) return [{ host: '*', pathPrefix: '/', upstream: upstreamNames[0]! }];
    if (upstreamNames.length > 1) {
      check.report('routes', `is required when there is more than one upstream (${knownList(upstreamNames)})`);
    }
    return [];
  }
  const items = check.nonEmptyArray(value, 'routes', 'e.g. [{"pathPrefix": "/", "upstream": "backend"}]');
  const routes: RouteConfig[] = [];
  const seen = new Map<string, string>();
  items.forEach((item, i) => {
    const at = `routes[${i}]`;
    const obj = check.object(item, at);
    if (obj === null) return;
    check.knownKeys(obj, KNOWN_KEYS.route, at);
    const before = check.problems.length;
    const host = obj.host === undefined ? '*' : check.parse(obj.host, `${at}.host`, parseRouteHost, '*');
    const pathPrefix = obj.pathPrefix === undefined ? '/' : check.parse(obj.pathPrefix, `${at}.pathPrefix`, parsePathPrefix, '/');
    const matchIsValid = check.problems.length === before; // else host/pathPrefix are fallbacks
    const route: RouteConfig = {
      host,
      pathPrefix,
      upstream: validateRouteUpstream(check, obj.upstream, `${at}.upstream`, upstreamNames),
    };
    routes.push(route);
    if (!matchIsValid) return;
    const key = JSON.stringify([route.host, route.pathPrefix]);
    const first = seen.get(key);
    if (first !== undefined) {
      check.report(at, `duplicate route for host "${route.host}" and pathPrefix "${route.pathPrefix}" (same as ${first})`);
    } else seen.set(key, at);
  });
  return routes;
}

function validateRouteUpstream(check: Checker, value: unknown, at: string, names: readonly string[]): string {
  if (value === undefined) return check.required(at, '');
  const name = check.nonEmptyString(value, at);
  // With no valid upstreams at all that has already been reported; don't repeat it per route.
  if (name === null || names.length === 0 || names.includes(name)) return name ?? '';
  const guess = closestMatch(name, names);
  const hint = guess === null ? '' : `; did you mean "${guess}"?`;
  check.report(at, `unknown upstream "${name}"${hint} (${knownList(names)})`);
  return name;
}

export function validateTimeouts(check: Checker, value: unknown): TimeoutsConfig {
  const obj = check.optionalObject(value, 'timeouts');
  check.knownKeys(obj, KNOWN_KEYS.timeouts, 'timeouts');
  const timeouts = { ...DEFAULT_TIMEOUTS };
  for (const key of KNOWN_KEYS.timeouts) {
    if (obj[key] !== undefined) timeouts[key] = check.parse(obj[key], `timeouts.${key}`, parseDuration, DEFAULT_TIMEOUTS[key]);
  }
  return timeouts;
}

export function validateLimits(check: Checker, value: unknown): LimitsConfig {
  const obj = check.optionalObject(value, 'limits');
  check.knownKeys(obj, KNOWN_KEYS.limits, 'limits');
  return {
    maxConnectionsPerWorker: check.integer(obj.maxConnectionsPerWorker, 'limits.maxConnectionsPerWorker', 1, 1_000_000, 10_000),
    // 0 = unlimited: bodies are streamed to the upstream, never buffered whole, so the proxy
    // does not need a cap to protect its own memory. Set one to protect the upstreams.
    maxBodySize: obj.maxBodySize === undefined ? 0 : check.parse(obj.maxBodySize, 'limits.maxBodySize', parseSize, 0),
  };
}

export function validateAccessLog(check: Checker, value: unknown): AccessLogTarget {
  // Off by default: a proxy in front of busy services should not pay for a log nobody reads.
  return check.oneOf(value, 'accessLog', ACCESS_LOG_TARGETS, 'off');
}

/** An RFC 9110 token: what an Upgrade protocol name is made of. */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** `upgrades`: the Upgrade protocol names tunnelled (matched case-insensitively, without a version). */
export function validateUpgrades(check: Checker, value: unknown): readonly string[] {
  if (value === undefined) return DEFAULT_UPGRADES;
  if (!Array.isArray(value)) {
    check.report('upgrades', `expected an array of protocol names such as ["websocket"] ([] tunnels none), got ${describeValue(value)}`);
    return DEFAULT_UPGRADES;
  }
  const names = new Set<string>();
  value.forEach((name, i) => {
    if (typeof name !== 'string' || !TOKEN.test(name)) {
      check.report(`upgrades[${i}]`, `expected a protocol name as the Upgrade header gives it (a token, without "/version"), got ${describeValue(name)}`);
    } else {
      names.add(name.toLowerCase());
    }
  });
  return [...names];
}

/** `listeners`: the listeners' addresses from validateListeners; the status server binds next to them. */
export function validateStatus(check: Checker, value: unknown, listeners: readonly PlacedAddress[]): Config['status'] {
  // Off unless asked for: it exposes internals, so the user picks the (usually private) address.
  if (value === undefined || value === null) return null;
  const status = check.parse(value, 'status', parseListenAddress, null);
  if (status === null) return null;
  const address = { at: 'status', ...status };
  const conflict = firstBindConflict(listeners, address);
  if (conflict !== null) {
    check.report('status', conflict.kind === 'same'
      ? `${formatAddress(status.host, status.port)} is the same address as ${conflict.with.at}`
      : describeOverlap(address, conflict.with, conflict.kind));
  }
  return status;
}

function knownList(names: readonly string[]): string {
  return `known upstreams: ${names.map((n) => `"${n}"`).join(', ')}`;
}
