// The second pass: what the schema cannot say. Parses the scalar formats (host:port, durations,
// sizes, route matches), checks the cross-field rules (addresses that cannot all bind, servers
// and routes listed twice, routes to unknown upstreams) and builds the Config, defaults filled in
// from the schema's. It runs even when the first pass found problems, so everything is reported
// in one run: anything of the wrong type is skipped here (the schema check has named it).

import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { type PlacedAddress, comparableHost, describeOverlap, firstBindConflict, formatAddress } from './addresses';
import { formatCidr, parseCidr } from './cidr';
import { Checker, closestMatch, joinPath } from './errors';
import { DEFAULT_TIMEOUTS, DEFAULT_UPGRADES, MAX_WORKERS, TIMEOUT_NAMES, defaultsOf } from './schema';
import type { AccessLogFormat, BalancerName, Config, HandoffConfig, HealthCheckConfig, ListenerConfig, RealIpConfig, ResolverConfig, RouteConfig, UpstreamConfig, UpstreamServerConfig } from './types';
import {
  NO_ADDRESS, parseDuration, parseHost, parseListenAddress, parsePathPrefix, parseRouteHost, parseServerAddress, parseSize,
} from './value-parsers';

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json => value !== null && typeof value === 'object' && !Array.isArray(value);
const objectOr = (value: unknown): Json => (isObject(value) ? value : {});
const arrayOr = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);
/** The schema's default where the file says nothing (or something of the wrong type, already reported). */
function valueOr<T>(value: unknown, fallback: T, type: 'number' | 'string' | 'boolean'): T {
  return typeof value === type ? (value as T) : fallback;
}

// sun_path holds 108 bytes including the NUL; leave room for "/" plus a socket file name of up
// to 24 bytes. bind() would fail later with an opaque ENAMETOOLONG/EINVAL; say it now instead.
const MAX_HANDOFF_DIR_BYTES = 107 - 1 - 24;

export function resolveConfig(check: Checker, raw: Json, file: string | null): Config {
  const listeners = resolveListeners(check, raw.listeners);
  const upstreams = resolveUpstreams(check, raw.upstreams);
  const handoff = resolveHandoff(check, objectOr(raw.handoff), file);
  return {
    file,
    workers: resolveWorkers(raw.workers),
    workerPriority: raw.workerPriority === undefined || raw.workerPriority === 'auto' ? 'auto' : valueOr(raw.workerPriority, 0, 'number'),
    handoff,
    listeners: listeners.map((l) => l.listener),
    upstreams: Object.fromEntries(upstreams.map((u) => [u.name, u])),
    routes: resolveRoutes(check, raw.routes, upstreams.map((u) => u.name)),
    timeouts: resolveTimeouts(check, objectOr(raw.timeouts)),
    limits: resolveLimits(check, objectOr(raw.limits)),
    accessLog: resolveAccessLog(raw.accessLog, file),
    pidFile: resolvePidFile(raw.pidFile, file, handoff.dir),
    workerHeader: valueOr<string | null>(raw.workerHeader, null, 'string'),
    status: resolveStatus(check, raw.status, listeners.map((l) => l.address)),
    resolver: isObject(raw.resolver) && raw.resolver.valid !== undefined ? resolveResolver(check, raw.resolver) : null,
    realIp: isObject(raw.realIp) ? resolveRealIp(check, raw.realIp) : null,
    upgrades: Array.isArray(raw.upgrades)
      ? [...new Set(raw.upgrades.filter((name) => typeof name === 'string').map((name) => name.toLowerCase()))]
      : DEFAULT_UPGRADES,
  };
}

/** Relative to the config file, not the cwd: the same file works wherever handoff is started from. */
function besideConfig(file: string | null, target: string): string {
  return path.resolve(file === null ? process.cwd() : path.dirname(file), target);
}

function resolveAccessLog(value: unknown, file: string | null): Config['accessLog'] {
  if (value === 'stdout') return { file: null, format: 'combined' };
  if (!isObject(value) || typeof value.path !== 'string' || value.path === '') return null; // "off", or reported
  const format = valueOr(value.format, defaultsOf('accessLogFile').format as AccessLogFormat, 'string');
  return { file: value.path === 'stdout' ? null : besideConfig(file, value.path), format };
}

function resolvePidFile(value: unknown, file: string | null, handoffDir: string): string {
  return typeof value === 'string' && value !== '' ? besideConfig(file, value) : path.join(handoffDir, 'master.pid');
}

function resolveWorkers(value: unknown): number {
  // nginx's built-in worker_processes default is 1; "auto" must be asked for.
  if (value !== 'auto') return valueOr(value, 1, 'number');
  return Math.min(MAX_WORKERS, Math.max(1, os.availableParallelism?.() ?? os.cpus().length));
}

/**
 * Per user, as $XDG_RUNTIME_DIR is: a fixed path under the shared /tmp could be created first by
 * another user. The master refuses a directory it does not own (handoff/trust.ts), so the
 * fallback under the temp directory carries the uid: each user has their own.
 */
export function defaultHandoffDir(env: NodeJS.ProcessEnv = process.env): string {
  const runtime = env.XDG_RUNTIME_DIR;
  // The spec says a relative XDG_RUNTIME_DIR is to be ignored.
  if (runtime && path.isAbsolute(runtime)) return path.join(runtime, 'handoff');
  return path.join(os.tmpdir(), `handoff-${process.geteuid?.() ?? 0}`);
}

function resolveHandoff(check: Checker, obj: Json, file: string | null): HandoffConfig {
  const defaults = defaultsOf('handoff');
  const ackDefault = parseDuration(defaults.ackTimeout);
  // Relative to the config file, not the cwd: the same file works wherever handoff is started from.
  const dir = typeof obj.dir === 'string' && obj.dir !== ''
    ? path.resolve(file === null ? process.cwd() : path.dirname(file), obj.dir)
    : defaultHandoffDir();
  if (Buffer.byteLength(dir) > MAX_HANDOFF_DIR_BYTES) {
    check.report('handoff.dir', `"${dir}" is too long for Unix socket paths (at most ${MAX_HANDOFF_DIR_BYTES} bytes)`);
  }
  return {
    dir,
    transport: valueOr(obj.transport, defaults.transport as HandoffConfig['transport'], 'string'),
    policy: valueOr(obj.policy, defaults.policy as HandoffConfig['policy'], 'string'),
    maxInFlightPerWorker: valueOr(obj.maxInFlightPerWorker, defaults.maxInFlightPerWorker as number, 'number'),
    ackTimeout: obj.ackTimeout === undefined ? ackDefault : check.parse(obj.ackTimeout, 'handoff.ackTimeout', parseDuration, ackDefault),
  };
}

/** Each listener with its address for the conflict checks (the status address's too). */
function resolveListeners(check: Checker, value: unknown): { listener: ListenerConfig; address: PlacedAddress }[] {
  const defaults = defaultsOf('listener');
  const resolved: { listener: ListenerConfig; address: PlacedAddress }[] = [];
  arrayOr(value).forEach((item, i) => {
    const at = `listeners[${i}]`;
    let listener: ListenerConfig;
    if (typeof item === 'string') {
      const address = check.parse(item, at, parseListenAddress, null);
      if (address === null) return;
      listener = { ...address, backlog: defaults.backlog as number };
    } else if (isObject(item)) {
      const host = typeof item.host === 'string' ? check.parse(item.host, `${at}.host`, parseHost, null) : defaults.host as string;
      if (host === null || typeof item.port !== 'number') return;
      listener = { host, port: item.port, backlog: valueOr(item.backlog, defaults.backlog as number, 'number') };
    } else return;
    const address = { at, host: listener.host.toLowerCase(), port: listener.port };
    const conflict = firstBindConflict(resolved.map((r) => r.address), address);
    if (conflict !== null) {
      check.report(at, conflict.kind === 'same'
        ? `duplicate listener ${formatAddress(address.host, address.port)} (same as ${conflict.with.at})`
        : describeOverlap(address, conflict.with, conflict.kind));
    }
    // Kept even after a conflict, so the status address is checked against every listener.
    resolved.push({ listener, address });
  });
  return resolved;
}

function resolveUpstreams(check: Checker, value: unknown): UpstreamConfig[] {
  const keepalive = defaultsOf('upstream').keepalive as number;
  return Object.entries(objectOr(value)).map(([name, upstream]) => {
    const at = joinPath('upstreams', name);
    const obj = objectOr(upstream);
    const health: PassiveHealth = {
      maxFails: valueOr(obj.maxFails, defaultsOf('upstream').maxFails as number, 'number'),
      failTimeout: obj.failTimeout === undefined ? DEFAULT_FAIL_TIMEOUT_MS : check.parse(obj.failTimeout, `${at}.failTimeout`, parseDuration, DEFAULT_FAIL_TIMEOUT_MS),
    };
    const servers = arrayOr(obj.servers).map((item, i) => resolveServer(check, item, `${at}.servers[${i}]`, health));
    reportDuplicateServers(check, servers, `${at}.servers`);
    const balancer = valueOr(obj.balancer, defaultsOf('upstream').balancer as BalancerName, 'string');
    const hashKey = typeof obj.hashKey === 'string' ? obj.hashKey : null;
    if (balancer === 'hash' && hashKey === null) check.report(`${at}.hashKey`, 'is required with balancer "hash" (what to hash: "client-address", "uri" or "header:<name>")');
    if (balancer !== 'hash' && hashKey !== null) check.report(`${at}.hashKey`, `is only used with balancer "hash", not "${balancer}"`);
    const healthCheck = isObject(obj.healthCheck) ? resolveHealthCheck(check, obj.healthCheck, `${at}.healthCheck`) : null;
    return { name, servers, keepalive: valueOr(obj.keepalive, keepalive, 'number'), balancer, hashKey, healthCheck };
  });
}

function resolveResolver(check: Checker, obj: Json): ResolverConfig {
  const addresses = arrayOr(obj.addresses).flatMap((item, i) => {
    if (typeof item !== 'string') return [];
    const at = `resolver.addresses[${i}]`;
    const { host, port } = net.isIP(item) ? { host: item, port: 53 } : check.parse(item, at, parseServerAddress, NO_ADDRESS);
    if (host === '') return [];
    if (net.isIP(host)) return [formatAddress(host, port)];
    check.report(at, `must be an IP address, not a name ("${host}")`);
    return [];
  });
  return { valid: check.parse(obj.valid, 'resolver.valid', parseDuration, 0), addresses };
}

function resolveRealIp(check: Checker, obj: Json): RealIpConfig {
  const from = arrayOr(obj.from).flatMap((item, i) => {
    if (typeof item !== 'string') return []; // the schema check has named it
    const cidr = check.parse(item, `realIp.from[${i}]`, parseCidr, null);
    return cidr === null ? [] : [formatCidr(cidr)];
  });
  return {
    from: [...new Set(from)],
    header: valueOr(obj.header, defaultsOf('realIp').header as string, 'string').toLowerCase(),
    recursive: valueOr(obj.recursive, defaultsOf('realIp').recursive as boolean, 'boolean'),
  };
}

function resolveHealthCheck(check: Checker, obj: Json, at: string): HealthCheckConfig {
  const defaults = defaultsOf('healthCheck');
  const duration = (key: 'interval' | 'timeout') => {
    const fallback = parseDuration(defaults[key] as string);
    return obj[key] === undefined ? fallback : check.parse(obj[key], `${at}.${key}`, parseDuration, fallback);
  };
  const interval = duration('interval');
  const expectStatus = valueOr(obj.expectStatus, defaults.expectStatus as string, 'string');
  const ranges = expectStatus.split(',').map((part) => {
    const [from, to = from] = part.split('-').map(Number) as [number, number?];
    return [from, to] as const;
  });
  if (ranges.some(([from, to]) => !(from <= to))) check.report(`${at}.expectStatus`, `has a range that ends before it starts ("${expectStatus}")`);
  return {
    path: valueOr(obj.path, defaults.path as string, 'string'),
    interval,
    timeout: duration('timeout'),
    expectStatus: ranges,
    rise: valueOr(obj.rise, defaults.rise as number, 'number'),
    fall: valueOr(obj.fall, defaults.fall as number, 'number'),
  };
}

/** nginx's defaults: one failure takes a server out for 10 s. */
const DEFAULT_FAIL_TIMEOUT_MS = 10_000;
type PassiveHealth = Pick<UpstreamServerConfig, 'maxFails' | 'failTimeout'>;

/** A server, with its upstream's passive-health settings unless it has its own. */
function resolveServer(check: Checker, item: unknown, at: string, health: PassiveHealth): UpstreamServerConfig {
  const weight = defaultsOf('server').weight as number;
  if (typeof item === 'string') return { ...check.parse(item, at, parseServerAddress, NO_ADDRESS), weight, ...health };
  const obj = objectOr(item);
  const address = typeof obj.address === 'string' ? check.parse(obj.address, `${at}.address`, parseServerAddress, NO_ADDRESS) : NO_ADDRESS;
  return {
    ...address,
    weight: valueOr(obj.weight, weight, 'number'),
    maxFails: valueOr(obj.maxFails, health.maxFails, 'number'),
    failTimeout: obj.failTimeout === undefined ? health.failTimeout : check.parse(obj.failTimeout, `${at}.failTimeout`, parseDuration, health.failTimeout),
  };
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

function resolveRoutes(check: Checker, value: unknown, upstreamNames: readonly string[]): RouteConfig[] {
  const defaults = defaultsOf('route');
  if (value === undefined) {
    // Nothing to choose between: with one upstream, send everything there.
    if (upstreamNames.length === 1) return [{ host: '*', pathPrefix: '/', upstream: upstreamNames[0]!, accessLog: true }];
    if (upstreamNames.length > 1) {
      check.report('routes', `is required when there is more than one upstream (${knownList(upstreamNames)})`);
    }
    return [];
  }
  const seen = new Map<string, string>();
  return arrayOr(value).filter(isObject).map((obj, i) => {
    const at = `routes[${i}]`;
    const host = typeof obj.host === 'string' ? check.parse(obj.host, `${at}.host`, parseRouteHost, null) : defaults.host as string;
    const pathPrefix = typeof obj.pathPrefix === 'string'
      ? check.parse(obj.pathPrefix, `${at}.pathPrefix`, parsePathPrefix, null)
      : defaults.pathPrefix as string;
    const upstream = valueOr(obj.upstream, '', 'string');
    if (upstream !== '' && upstreamNames.length > 0 && !upstreamNames.includes(upstream)) {
      const guess = closestMatch(upstream, upstreamNames);
      check.report(`${at}.upstream`, `unknown upstream "${upstream}"${guess === null ? '' : `; did you mean "${guess}"?`} (${knownList(upstreamNames)})`);
    }
    if (host !== null && pathPrefix !== null) { // else already reported, nothing to compare
      const key = JSON.stringify([host, pathPrefix]);
      const first = seen.get(key);
      if (first !== undefined) check.report(at, `duplicate route for host "${host}" and pathPrefix "${pathPrefix}" (same as ${first})`);
      else seen.set(key, at);
    }
    return { host: host ?? '*', pathPrefix: pathPrefix ?? '/', upstream, accessLog: valueOr(obj.accessLog, defaults.accessLog as boolean, 'boolean') };
  });
}

function resolveTimeouts(check: Checker, obj: Json): Config['timeouts'] {
  const timeouts = { ...DEFAULT_TIMEOUTS };
  for (const key of TIMEOUT_NAMES) {
    if (obj[key] !== undefined) timeouts[key] = check.parse(obj[key], `timeouts.${key}`, parseDuration, DEFAULT_TIMEOUTS[key]);
  }
  return timeouts;
}

function resolveLimits(check: Checker, obj: Json): Config['limits'] {
  const defaults = defaultsOf('limits');
  return {
    maxConnectionsPerWorker: valueOr(obj.maxConnectionsPerWorker, defaults.maxConnectionsPerWorker as number, 'number'),
    // 0 = unlimited: bodies are streamed to the upstream, never buffered whole, so the proxy
    // does not need a cap to protect its own memory. Set one to protect the upstreams.
    maxBodySize: obj.maxBodySize === undefined ? defaults.maxBodySize as number : check.parse(obj.maxBodySize, 'limits.maxBodySize', parseSize, 0),
  };
}

/** `listeners`: the listeners' addresses; the status server binds next to them. */
function resolveStatus(check: Checker, value: unknown, listeners: readonly PlacedAddress[]): Config['status'] {
  // Off unless asked for: it exposes internals, so the user picks the (usually private) address.
  if (typeof value !== 'string') return null;
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
