// Raw JSON -> a validated, defaulted, deep-frozen Config. Every rule below records its problem and
// carries on with a fallback value, so one run reports everything wrong with the file (fastify
// style); the fallbacks never escape because any problem ends in a ConfigError.
// config/handoff.schema.json describes the same format for editors; a unit test keeps the key lists in sync.

import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { Checker, ConfigError, InvalidValue, closestMatch, describeValue } from './errors';
import type {
  AccessLogTarget, BalancePolicy, Config, HandoffConfig, HandoffTransport, LimitsConfig, ListenerConfig,
  RouteConfig, TimeoutsConfig, UpstreamConfig, UpstreamServerConfig,
} from './types';

export const TRANSPORTS: readonly HandoffTransport[] = Object.freeze(['seqpacket', 'ipc', 'reuseport']);
export const POLICIES: readonly BalancePolicy[] = Object.freeze(['least-conn', 'round-robin']);
export const MAX_WORKERS = 256;
export const ACCESS_LOG_TARGETS: readonly AccessLogTarget[] = Object.freeze(['off', 'stdout']);

/** nginx's defaults for the matching directives. */
export const DEFAULT_TIMEOUTS: TimeoutsConfig = Object.freeze({
  connect: 60_000, read: 60_000, send: 60_000, clientHeader: 60_000, clientBody: 60_000, keepAlive: 75_000,
});

/** Every key the validator accepts, per object kind; names match the `$defs` of handoff.schema.json. */
export const KNOWN_KEYS = deepFreeze({
  root: ['$schema', 'workers', 'handoff', 'listeners', 'upstreams', 'routes', 'timeouts', 'limits', 'accessLog', 'status'],
  handoff: ['dir', 'transport', 'policy', 'maxInFlightPerWorker'],
  listener: ['host', 'port', 'backlog'],
  upstream: ['servers', 'keepalive'],
  server: ['address', 'weight'],
  route: ['host', 'pathPrefix', 'upstream'],
  timeouts: Object.keys(DEFAULT_TIMEOUTS) as (keyof TimeoutsConfig)[],
  limits: ['maxConnectionsPerWorker', 'maxBodySize'],
} satisfies Record<string, readonly string[]>);

export function validateConfig(raw: unknown, file: string | null): Config {
  const absoluteFile = file === null ? null : path.resolve(file);
  const check = new Checker();
  const root = check.object(raw, '');
  if (root === null) throw new ConfigError(absoluteFile, check.problems);
  check.knownKeys(root, KNOWN_KEYS.root, '');

  // Sections in file order, so problems are listed in roughly the order the user reads them.
  const workers = validateWorkers(check, root.workers);
  const handoff = validateHandoff(check, root.handoff, absoluteFile);
  const listeners = validateListeners(check, root.listeners);
  const upstreams = validateUpstreams(check, root.upstreams);
  const config: Config = {
    file: absoluteFile,
    workers,
    handoff,
    listeners,
    upstreams: upstreams.byName,
    routes: validateRoutes(check, root.routes, upstreams.names),
    timeouts: validateTimeouts(check, root.timeouts),
    limits: validateLimits(check, root.limits),
    // Off by default: a proxy in front of busy services should not pay for a log nobody reads.
    accessLog: check.oneOf(root.accessLog, 'accessLog', ACCESS_LOG_TARGETS, 'off'),
    // Off unless asked for: it exposes internals, so the user picks the (usually private) address.
    status: root.status === undefined || root.status === null ? null : check.parse(root.status, 'status', parseListenAddress, null),
  };
  if (check.problems.length > 0) throw new ConfigError(absoluteFile, check.problems);
  return deepFreeze(config);
}

function validateWorkers(check: Checker, value: unknown): number {
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

// sun_path holds 108 bytes including the NUL; leave room for "/" plus a socket file name of up
// to 24 bytes. bind() would fail later with an opaque ENAMETOOLONG/EINVAL; say it now instead.
const MAX_HANDOFF_DIR_BYTES = 107 - 1 - 24;

function validateHandoff(check: Checker, value: unknown, file: string | null): HandoffConfig {
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

function validateListeners(check: Checker, value: unknown): ListenerConfig[] {
  const items = check.nonEmptyArray(value, 'listeners', 'e.g. ["127.0.0.1:8080"]');
  const listeners: ListenerConfig[] = [];
  const seen = new Map<string, string>();
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
    // Port 0 = any free port, never collides; host '' is the fallback after a reported problem.
    if (listener.port === 0 || listener.host === '') return;
    const key = formatAddress(listener.host.toLowerCase(), listener.port);
    const first = seen.get(key);
    if (first !== undefined) check.report(at, `duplicate listener ${key} (same as ${first})`);
    else seen.set(key, at);
  });
  return listeners;
}

function validateUpstreams(check: Checker, value: unknown): { byName: Record<string, UpstreamConfig>; names: string[] } {
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

function validateRoutes(check: Checker, value: unknown, upstreamNames: readonly string[]): RouteConfig[] {
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

function validateTimeouts(check: Checker, value: unknown): TimeoutsConfig {
  const obj = check.optionalObject(value, 'timeouts');
  check.knownKeys(obj, KNOWN_KEYS.timeouts, 'timeouts');
  const timeouts = { ...DEFAULT_TIMEOUTS };
  for (const key of KNOWN_KEYS.timeouts) {
    if (obj[key] !== undefined) timeouts[key] = check.parse(obj[key], `timeouts.${key}`, parseDuration, DEFAULT_TIMEOUTS[key]);
  }
  return timeouts;
}

function validateLimits(check: Checker, value: unknown): LimitsConfig {
  const obj = check.optionalObject(value, 'limits');
  check.knownKeys(obj, KNOWN_KEYS.limits, 'limits');
  return {
    maxConnectionsPerWorker: check.integer(obj.maxConnectionsPerWorker, 'limits.maxConnectionsPerWorker', 1, 1_000_000, 10_000),
    // 0 = unlimited: bodies are streamed to the upstream, never buffered whole, so the proxy
    // does not need a cap to protect its own memory. Set one to protect the upstreams.
    maxBodySize: obj.maxBodySize === undefined ? 0 : check.parse(obj.maxBodySize, 'limits.maxBodySize', parseSize, 0),
  };
}

function formatAddress(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

function knownList(names: readonly string[]): string {
  return `known upstreams: ${names.map((n) => `"${n}"`).join(', ')}`;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

// ---- Value parsers: each returns the parsed value or throws InvalidValue with the message. ----

const DURATION_UNITS = new Map([['ms', 1], ['s', 1000], ['m', 60_000], ['h', 3_600_000], ['d', 86_400_000]]);
const DURATION_EXPECTED = 'expected a duration like "500ms", "60s", "5m", "1h" or a number of milliseconds';
/** setTimeout silently turns anything above 2^31-1 ms (~24.8 days) into 1 ms; refuse instead. */
export const MAX_DURATION_MS = 2 ** 31 - 1;

/** Milliseconds from a number (ms) or an nginx-style string: "500ms", "60s", "5m", "1h", "1d", "1m 30s". */
export function parseDuration(value: unknown): number {
  let ms: number;
  if (typeof value === 'number' && Number.isInteger(value)) ms = value;
  else if (typeof value === 'string') ms = parseDurationString(value);
  else throw new InvalidValue(`${DURATION_EXPECTED}, got ${describeValue(value)}`);
  if (ms <= 0) throw new InvalidValue(`must be greater than 0, got ${describeValue(value)}`);
  if (ms > MAX_DURATION_MS) throw new InvalidValue(`must be at most ${MAX_DURATION_MS} ms (about 24 days), got ${describeValue(value)}`);
  return ms;
}

function parseDurationString(text: string): number {
  const trimmed = text.trim();
  // nginx reads a bare "60" as seconds, JSON numbers here are milliseconds: make the user pick.
  if (/^\d+$/.test(trimmed)) {
    throw new InvalidValue(`duration "${text}" has no unit; write "${trimmed}s" for seconds or the number ${trimmed} for milliseconds`);
  }
  if (trimmed === '') throw new InvalidValue(`${DURATION_EXPECTED}, got ""`);
  let total = 0;
  for (let rest = trimmed; rest !== '';) {
    const part = /^(\d+)\s*([A-Za-z]+)\s*/.exec(rest);
    if (part === null) throw new InvalidValue(`${DURATION_EXPECTED}, got ${describeValue(text)}`);
    const unit = DURATION_UNITS.get(part[2]!);
    if (unit === undefined) throw new InvalidValue(`unknown unit "${part[2]}" in duration "${text}"; use ms, s, m, h or d`);
    total += Number(part[1]) * unit;
    rest = rest.slice(part[0].length);
  }
  return total;
}

const SIZE_UNITS = new Map([['', 1], ['k', 1024], ['m', 1024 ** 2], ['g', 1024 ** 3]]);
const SIZE_EXPECTED = 'expected a size like "512k", "10m", "1g" or a number of bytes';

/** Bytes from a number or an nginx-style string: "1024", "10k", "1m", "1g" (powers of 1024, any case). */
export function parseSize(value: unknown): number {
  if (typeof value === 'number') {
    if (Number.isSafeInteger(value) && value >= 0) return value;
    throw new InvalidValue(`expected a whole number of bytes (0 or more), got ${describeValue(value)}`);
  }
  const match = typeof value === 'string' ? /^(\d+)([A-Za-z]*)$/.exec(value.trim()) : null;
  if (match === null) throw new InvalidValue(`${SIZE_EXPECTED}, got ${describeValue(value)}`);
  const unit = SIZE_UNITS.get(match[2]!.toLowerCase());
  if (unit === undefined) throw new InvalidValue(`unknown unit "${match[2]}" in size ${describeValue(value)}; use k, m or g`);
  const bytes = Number(match[1]) * unit;
  if (!Number.isSafeInteger(bytes)) throw new InvalidValue(`size ${describeValue(value)} is too large`);
  return bytes;
}

const HOST_NAME = /^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?$/;

/** A host name or IP address as net.connect/listen want it: IPv6 without brackets ("[::1]" -> "::1"). */
export function parseHost(value: unknown): string {
  const expected = `expected a host name or IP address, got ${describeValue(value)}`;
  if (typeof value !== 'string') throw new InvalidValue(expected);
  const inBrackets = /^\[(.*)\]$/.exec(value)?.[1];
  if (inBrackets !== undefined) {
    if (net.isIPv6(inBrackets)) return inBrackets;
    throw new InvalidValue(`${describeValue(value)} is not an IPv6 address`);
  }
  if (net.isIP(value) !== 0 || HOST_NAME.test(value)) return value;
  throw new InvalidValue(expected);
}

/** "host:port" or "[ipv6]:port"; the port must be in minPort..65535. */
export function parseHostPort(value: unknown, minPort: number): { host: string; port: number } {
  const text = typeof value === 'string' ? value : '';
  const match = /^(\[[^\]]*\]|[^:[\]]+):(\d+)$/.exec(text);
  if (typeof value !== 'string' || match === null) {
    const bareIPv6 = /:.*:/.test(text) && !text.startsWith('[');
    const hint = bareIPv6 ? ' (write IPv6 addresses in brackets, e.g. "[::1]:3000")' : '';
    throw new InvalidValue(`expected "host:port"${hint}, got ${describeValue(value)}`);
  }
  const port = Number(match[2]);
  if (port < minPort || port > 65535) {
    throw new InvalidValue(`port must be from ${minPort} to 65535, got ${match[2]} in "${text}"`);
  }
  return { host: parseHost(match[1]), port };
}

/** Listeners may use port 0: the kernel picks a free port (tests). */
const parseListenAddress = (value: unknown) => parseHostPort(value, 0);
const parseServerAddress = (value: unknown) => parseHostPort(value, 1);
const NO_ADDRESS = { host: '', port: 0 };

/** As the router compares it with the Host header: lower case, port stripped, IPv6 kept in brackets. */
export function parseRouteHost(value: unknown): string {
  const expected = `expected a host name (optionally with a port) or "*", got ${describeValue(value)}`;
  if (typeof value !== 'string') throw new InvalidValue(expected);
  const match = /^(\[[^\]]+\]|[^:[\]]+)(?::\d+)?$/.exec(value.toLowerCase());
  if (match === null) throw new InvalidValue(expected);
  const host = match[1]!;
  if (host === '*') return host;
  if (host.includes('*')) throw new InvalidValue(`only "*" on its own is supported as a wildcard, got ${describeValue(value)}`);
  if (host.startsWith('[') ? net.isIPv6(host.slice(1, -1)) : HOST_NAME.test(host)) return host;
  throw new InvalidValue(expected);
}

export function parsePathPrefix(value: unknown): string {
  if (typeof value !== 'string' || !value.startsWith('/')) {
    throw new InvalidValue(`expected a path starting with "/", got ${describeValue(value)}`);
  }
  // The router matches the path only; a query or fragment here could never match.
  if (/[\s?#]/.test(value)) throw new InvalidValue(`must be a plain path (no spaces, "?" or "#"), got ${describeValue(value)}`);
  return value;
}
