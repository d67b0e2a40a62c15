// The validated, frozen shape of a Handoff config. The file format is schema.ts (its enums and
// the route fields are taken from there); validate.ts turns a file into these types: shorthands
// expanded, durations and sizes in numbers, defaults filled in.

import type { ACCESS_LOG_FORMATS, BALANCERS, POLICIES, TRANSPORTS } from './schema';

/** How accepted connections reach the workers. */
export type HandoffTransport = (typeof TRANSPORTS)[number];
/** Which worker the master hands the next connection to. */
export type BalancePolicy = (typeof POLICIES)[number];
/** How an upstream group picks a server for a request. */
export type BalancerName = (typeof BALANCERS)[number];

export interface ListenerConfig {
  /** As server.listen wants it: IPv6 without brackets ("::1"). */
  readonly host: string;
  /** 0 = any free port (tests). */
  readonly port: number;
  /** listen(2) backlog; default 511 as nginx. */
  readonly backlog: number;
}

export interface UpstreamServerConfig {
  /** As net.connect wants it: IPv6 without brackets ("::1"). */
  readonly host: string;
  readonly port: number;
  readonly weight: number;
  /** Failures within failTimeout that take the server out (0: never), nginx `max_fails`. */
  readonly maxFails: number;
  /** ms: the window for maxFails, and how long the server stays out (nginx `fail_timeout`). */
  readonly failTimeout: number;
  /** The name the config gives, when `host` is one of its addresses (upstream/resolve-servers.ts). */
  readonly resolvedFrom?: string;
  /**
   * The master's number for this server (master/upstream-membership.ts), in the config it
   * publishes: how SERVER messages and UPSTREAM reports name it.
   */
  readonly slot?: number;
}

/** nginx's resolver: how often names are looked up again, and whom to ask. */
export interface ResolverConfig {
  /** ms between lookups. */
  readonly valid: number;
  /** DNS servers as dns.Resolver.setServers takes them ("10.0.0.2", "[::1]:5353"); empty: getaddrinfo. */
  readonly addresses: readonly string[];
}

/** nginx's realip module: whose word on the client address is taken, and from which header. */
export interface RealIpConfig {
  /** Trusted peers as "address/prefix" (config/cidr.ts formatCidr), network bits only. */
  readonly from: readonly string[];
  /** The header that names the client, lower case ("x-forwarded-for", "x-real-ip"). */
  readonly header: string;
  /** nginx real_ip_recursive: skip trusted addresses from the right of the header's list. */
  readonly recursive: boolean;
}

/** Active health checks, as HAProxy's option httpchk + check inter rise fall. Durations in ms. */
export interface HealthCheckConfig {
  readonly path: string;
  readonly interval: number;
  readonly timeout: number;
  /** Inclusive [from, to] ranges of the statuses that pass. */
  readonly expectStatus: readonly (readonly [number, number])[];
  readonly rise: number;
  readonly fall: number;
}

export interface UpstreamConfig {
  readonly name: string;
  readonly servers: readonly UpstreamServerConfig[];
  /** Idle keep-alive connections kept per server, per worker (nginx `keepalive`). */
  readonly keepalive: number;
  readonly balancer: BalancerName;
  /** "client-address", "uri" or "header:<name>" with the "hash" balancer; null with the others. */
  readonly hashKey: string | null;
  /** null: passive health only. Absent in a config an older master published. */
  readonly healthCheck?: HealthCheckConfig | null;
}

export interface RouteConfig {
  /** Host header to match (without port), lower case; '*' matches any host. IPv6 keeps its brackets, as in the header. */
  readonly host: string;
  /** Path prefix to match; the longest matching prefix wins. */
  readonly pathPrefix: string;
  readonly upstream: string;
  /** false: requests of this route are not access-logged (nginx `access_log off` in a location). */
  readonly accessLog: boolean;
}

/** All in milliseconds. Names follow nginx's directives. */
export interface TimeoutsConfig {
  /** proxy_connect_timeout */
  readonly connect: number;
  /** proxy_read_timeout: between two reads from the upstream. */
  readonly read: number;
  /** proxy_send_timeout: between two writes to the upstream. */
  readonly send: number;
  /** client_header_timeout: the whole request head must arrive within this. */
  readonly clientHeader: number;
  /** client_body_timeout: between two reads of the request body. */
  readonly clientBody: number;
  /** keepalive_timeout: an idle client connection is closed after this. */
  readonly keepAlive: number;
  /** send_timeout: how long a client may take no byte of its response. */
  readonly clientSend: number;
}

export interface HandoffConfig {
  /** Directory of the Unix sockets between master and workers (mode 0700). */
  readonly dir: string;
  readonly transport: HandoffTransport;
  readonly policy: BalancePolicy;
  /** Connections sent to one worker but not yet acknowledged, at most. */
  readonly maxInFlightPerWorker: number;
  /** ms a worker may leave a handoff unacknowledged before it gets no new ones (it is stalled). */
  readonly ackTimeout: number;
}

export interface LimitsConfig {
  /** A worker stops taking connections beyond this many (nginx worker_connections). */
  readonly maxConnectionsPerWorker: number;
  /** client_max_body_size in bytes; 0 = unlimited (the default: bodies are streamed, not buffered). */
  readonly maxBodySize: number;
}

/**
 * The workers' nice value (nginx worker_priority): a number from -20 to 19, or 'auto', which puts
 * each worker 5 below the nice it started with (a spawned worker: 5 below the master's).
 */
export type WorkerPriority = number | 'auto';

export type AccessLogFormat = (typeof ACCESS_LOG_FORMATS)[number];

/** Where workers write one line per request, and how. */
export interface AccessLogConfig {
  /** An absolute path each worker opens for appending; null: the standard output. */
  readonly file: string | null;
  readonly format: AccessLogFormat;
}

export interface Config {
  /** Absolute path of the file this came from, or null when built in memory. */
  readonly file: string | null;
  readonly workers: number;
  readonly workerPriority: WorkerPriority;
  readonly handoff: HandoffConfig;
  readonly listeners: readonly ListenerConfig[];
  readonly upstreams: Readonly<Record<string, UpstreamConfig>>;
  readonly routes: readonly RouteConfig[];
  readonly timeouts: TimeoutsConfig;
  readonly limits: LimitsConfig;
  /** null: no access log (nginx access_log off). */
  readonly accessLog: AccessLogConfig | null;
  /** Where the master writes its pid (nginx `pid`), for `handoff -s`. */
  readonly pidFile: string;
  /** A response header naming the worker that served the response; null = none. */
  readonly workerHeader: string | null;
  /**
   * Upgrade protocols tunnelled after the upstream's 101 (lower case, as tokens). A request that
   * offers any other is served as a plain request, its Upgrade removed as a hop-by-hop header.
   */
  readonly upgrades: readonly string[];
  /** Where the master serves /metrics, /status.json and the live dashboard; null = off. */
  readonly status: { readonly host: string; readonly port: number } | null;
  /** Trusted proxies' client-address header (nginx realip); null or absent: the TCP peer's address. */
  readonly realIp?: RealIpConfig | null;
  /** ms between lookups of upstream server names (nginx resolver valid=); null: once, at start and reload. */
  readonly resolver?: ResolverConfig | null;
}
