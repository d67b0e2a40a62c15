// The config file's format, once: a TypeBox schema, which is JSON Schema. It gives the raw file's
// TypeScript types (Static), the structural check (ajv, schema-check.ts) and, written out by
// `npm run schema`, config/handoff.schema.json for editors. What a schema cannot say (host:port
// parsing, durations, address conflicts, unknown upstream names) is resolve.ts's second pass.
// `title` is the noun phrase an error message uses for a value ("expected <title>, got ...").

import { type Static, type TSchema, Type } from '@sinclair/typebox';
import { DEFAULT_TIMEOUTS, timeoutFields, type TimeoutName } from './timeout-defaults';

const defs: Record<string, TSchema> = {};

/** Registers `schema` under $defs and returns a $ref to it that keeps the static type. */
function def<T extends TSchema>(name: string, schema: T, options: { description?: string; default?: unknown } = {}) {
  defs[name] = schema;
  return Type.Unsafe<Static<T>>({ $ref: `#/$defs/${name}`, ...options });
}

/** A string enum as JSON Schema's `enum` (TypeBox's Union of Literals would be an anyOf of consts). */
function StringEnum<const T extends readonly string[]>(values: T, options: { description?: string; default?: T[number] } = {}) {
  return Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...options });
}

export const MAX_WORKERS = 256;
/** RFC 9110 token: what a header name and an Upgrade protocol name are made of. */
export const TOKEN_PATTERN = "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$";
export const TRANSPORTS = Object.freeze(['seqpacket', 'ipc', 'reuseport'] as const);
export const POLICIES = Object.freeze(['least-conn', 'round-robin'] as const);
/** How an upstream group picks a server (nginx: the default, least_conn, random two least_conn, hash … consistent). */
export const BALANCERS = Object.freeze(['round-robin', 'least-conn', 'random-two', 'hash'] as const);
/** What the hash balancer hashes: the client's address, the request target, or one header's value. */
export const HASH_KEY_PATTERN = "^(client-address|uri|header:[!#$%&'*+.^_`|~0-9A-Za-z-]+)$";
export const ACCESS_LOG_TARGETS = Object.freeze(['off', 'stdout'] as const);
export const ACCESS_LOG_FORMATS = Object.freeze(['combined', 'json'] as const);
/**
 * The Upgrade protocols tunnelled unless the config says otherwise. nginx tunnels none unless told
 * to; WebSocket is why a user turns it on. Others, h2c above all, would let a client speak a
 * protocol past this proxy's routing (h2c smuggling), so they are plain requests by default.
 */
export const DEFAULT_UPGRADES: readonly string[] = Object.freeze(['websocket']);

const hostPort = def('hostPort', Type.String({
  title: 'a "host:port" string',
  description: '"host:port"; write IPv6 addresses in brackets: "[::1]:3000".',
  pattern: '^(\\[[0-9A-Fa-f:.%A-Za-z]+\\]|[A-Za-z0-9_.-]+):[0-9]{1,5}$',
  examples: ['127.0.0.1:3000', 'backend.internal:8080', '[::1]:3000'],
}));

const duration = def('duration', Type.Union([
  Type.Integer({ minimum: 1, maximum: 2 ** 31 - 1 }),
  Type.String({ pattern: '^\\s*([0-9]+\\s*(ms|s|m|h|d)\\s*)+$' }),
], {
  title: 'a duration like "500ms", "60s", "5m", "1h" or a number of milliseconds',
  description: 'A duration: a number of milliseconds, or an nginx-style string with units ms, s, m, h, d ("500ms", "60s", "5m", "1h", "1m 30s"). Must be more than 0 and at most 2147483647 ms (about 24 days). A bare "60" is rejected: nginx would read seconds, a JSON number here means milliseconds.',
  examples: ['500ms', '60s', '5m', '1h'],
}));

const size = def('size', Type.Union([
  Type.Integer({ minimum: 0 }),
  Type.String({ pattern: '^\\s*[0-9]+[kKmMgG]?\\s*$' }),
], {
  title: 'a size like "512k", "10m", "1g" or a number of bytes',
  description: 'A size: a number of bytes, or an nginx-style string with unit k, m or g (powers of 1024, any case): "512k", "10m", "1g".',
  examples: [0, '512k', '10m', '1g'],
}));

const listener = def('listener', Type.Object({
  host: Type.Optional(Type.String({ minLength: 1, default: '127.0.0.1', description: 'Address to bind: a host name or IP address (IPv6 with or without brackets). Default "127.0.0.1".' })),
  port: Type.Integer({ minimum: 0, maximum: 65535, description: 'TCP port, 1 to 65535; 0 picks any free port (for tests). Two listeners (or a listener and status) may not share a port when their hosts are the same address or one is a wildcard covering the other (0.0.0.0 covers IPv4 addresses, :: covers every address): Linux would refuse the second bind.' }),
  backlog: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535, default: 511, description: "Length of the kernel's accept queue (listen(2) backlog; nginx's default 511)." })),
}, { additionalProperties: false, description: 'A listening socket (nginx listen).' }));

const server = def('server', Type.Object({
  address: Type.Unsafe<string>({ $ref: '#/$defs/hostPort', description: '"host:port" of the server; port 1 to 65535. IPv6 in brackets: "[::1]:3000".' }),
  weight: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 1, description: 'Relative share of requests (nginx weight), 1 to 1000.' })),
  maxFails: Type.Optional(Type.Integer({ minimum: 0, maximum: 1000, description: "This server's maxFails, over its upstream's." })),
  failTimeout: Type.Optional(Type.Unsafe<string | number>({ $ref: '#/$defs/duration', description: "This server's failTimeout, over its upstream's." })),
}, { additionalProperties: false, description: 'One backend server (nginx server inside upstream).' }));

/** "200-399", "200", "200,204,300-399": HAProxy's `http-check expect status` as ranges. */
export const EXPECT_STATUS_PATTERN = '^[1-5][0-9][0-9](-[1-5][0-9][0-9])?(,[1-5][0-9][0-9](-[1-5][0-9][0-9])?)*$';

const healthCheck = def('healthCheck', Type.Object({
  path: Type.Optional(Type.String({ pattern: '^/[\\x21-\\x7e]*$', default: '/', title: 'a request target starting with "/"', description: 'What each check asks for (HAProxy option httpchk GET <path>): a GET of this path, with Host set to the server\'s address, on a connection of its own. Default "/".' })),
  interval: Type.Optional(Type.Unsafe<string | number>({ $ref: '#/$defs/duration', default: '2s', description: 'Time between the end of one check of a server and the start of the next (HAProxy inter). Default "2s".' })),
  timeout: Type.Optional(Type.Unsafe<string | number>({ $ref: '#/$defs/duration', default: '1s', description: 'How long a check may take, from connecting to the response\'s status line (HAProxy timeout check); longer is a failure. Default "1s".' })),
  expectStatus: Type.Optional(Type.String({ pattern: EXPECT_STATUS_PATTERN, default: '200-399', title: 'statuses and ranges like "200-399" or "200,204"', examples: ['200-399', '200', '200,204'], description: 'The response statuses that pass (HAProxy http-check expect status): a status, a range, or a comma-separated list of them. Default "200-399".' })),
  rise: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 2, description: 'Passing checks in a row that bring a down server back (HAProxy rise). Default 2.' })),
  fall: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 3, description: 'Failing checks in a row that take a server out (HAProxy fall). Default 3.' })),
}, { additionalProperties: false, description: 'Active health checks (HAProxy option httpchk with check inter rise fall): the master checks every server of the upstream with an HTTP GET and tells every worker, its own and those that joined from other containers, when one goes down or comes back. A down server gets no requests. Passive health (maxFails) keeps working beside them.' }));

const resolver = def('resolver', Type.Object({
  valid: Type.Unsafe<string | number>({ $ref: '#/$defs/duration', description: 'How often the master looks up again every server given by name (nginx resolver valid= with server … resolve). New addresses join their group, vanished ones stop getting new requests and finish what they have, without a reload. A failed lookup keeps the last addresses.' }),
  addresses: Type.Optional(Type.Array(Type.String({ minLength: 1 }), {
    minItems: 1,
    examples: [['127.0.0.11'], ['10.0.0.2:53']],
    description: 'DNS servers to ask, as nginx\'s resolver: IP addresses, with ":port" when not 53 (IPv6 in brackets). Names are then looked up with A and AAAA queries to them, at start, on reload and every `valid`, and /etc/hosts is not read. Omitted: the system\'s resolver (getaddrinfo: /etc/hosts, then the servers of /etc/resolv.conf, which in Docker is its embedded DNS).',
  })),
}, { additionalProperties: false, description: 'Looking upstream server names up again while running (nginx resolver + server … resolve).' }));

const realIp = def('realIp', Type.Object({
  from: Type.Array(Type.String({ minLength: 1, title: 'an IP address or CIDR block like "10.0.0.0/8"' }), {
    minItems: 1,
    examples: [['10.0.0.0/8', '127.0.0.1', '::1']],
    description: 'The trusted proxies (nginx set_real_ip_from): IP addresses and CIDR blocks ("10.0.0.0/8", "127.0.0.1", "fd00::/8"). Only a request whose TCP peer is in one of them has its client address taken from `header`. An IPv4 block also matches the IPv4-mapped IPv6 form of its addresses ("::ffff:10.1.2.3").',
  }),
  header: Type.Optional(Type.String({ pattern: TOKEN_PATTERN, default: 'X-Forwarded-For', title: 'a header name (an HTTP token)', examples: ['X-Forwarded-For', 'X-Real-IP'], description: 'The request header that carries the client address (nginx real_ip_header), matched case-insensitively: "X-Forwarded-For" (every one of them, as one list), "X-Real-IP" or any other (its first occurrence). Its value is a comma-separated list of addresses, the client first; an address may carry a port ("203.0.113.7:5123", "[2001:db8::1]:443"), which is dropped. Default "X-Forwarded-For".' })),
  recursive: Type.Optional(Type.Boolean({ default: false, description: 'false (nginx real_ip_recursive off): the client address is the last address of the header. true: walking the list from the right, the first address that is not itself in `from`; a chain of trusted proxies is skipped. Default false.' })),
}, { additionalProperties: false, description: 'The client address behind trusted proxies, as nginx\'s realip module: used in the access log, the error log and by the "client-address" hash key in place of the TCP peer\'s. A header value that is not an address leaves the peer\'s. X-Forwarded-For sent upstream still appends the TCP peer\'s address.' }));

const upstream = def('upstream', Type.Object({
  servers: Type.Array(Type.Union([hostPort, server]), {
    minItems: 1,
    examples: [['127.0.0.1:3000']],
    description: 'The backend servers: "host:port" strings or objects with an address and a weight. Each server once: give it a higher weight rather than listing it twice.',
  }),
  keepalive: Type.Optional(Type.Integer({ minimum: 0, maximum: 10_000, default: 32, description: 'Idle keep-alive connections kept open per server, per worker (nginx keepalive), 0 to 10000. 0 closes upstream connections after each request.' })),
  maxFails: Type.Optional(Type.Integer({ minimum: 0, maximum: 1000, default: 1, description: 'Passive health (nginx max_fails): this many failed attempts on a server (refused, reset, timed out) within failTimeout take it out of the group for failTimeout. 0 never takes a server out. Default 1.' })),
  failTimeout: Type.Optional(Type.Unsafe<string | number>({ $ref: '#/$defs/duration', default: '10s', description: 'Passive health (nginx fail_timeout): the window in which maxFails failures count, and how long the server then stays out. Default "10s".' })),
  balancer: Type.Optional(StringEnum(BALANCERS, {
    default: 'round-robin',
    description: 'How a server is picked for each request: "round-robin" (smooth weighted round robin, nginx\'s default), "least-conn" (fewest requests in flight for its weight, nginx least_conn), "random-two" (the less busy of two servers drawn at random by weight, nginx random two least_conn) or "hash" (consistent hashing of hashKey, nginx hash … consistent). Each worker balances on its own, with its own counts.',
  })),
  hashKey: Type.Optional(Type.String({
    pattern: HASH_KEY_PATTERN,
    title: '"client-address", "uri" or "header:<name>"',
    examples: ['client-address', 'uri', 'header:X-User'],
    description: 'What the "hash" balancer hashes (required with it, refused without): "client-address", "uri" (the request target as sent) or "header:<name>" (that header\'s first value; a request without it hashes the empty string). A key stays on its server while the group is unchanged; removing one of N servers moves about 1/N of the keys.',
  })),
  healthCheck: Type.Optional(Type.Union([healthCheck, Type.Null()], { default: null, description: 'Active health checks of this upstream\'s servers; null or omitted: none (passive health only).' })),
}, { additionalProperties: false, description: 'A group of backend servers that share the load (nginx upstream).' }));

const route = def('route', Type.Object({
  host: Type.Optional(Type.String({ minLength: 1, default: '*', description: 'Host header to match; case-insensitive, a port is ignored. "*" matches any host; other wildcards are not supported.' })),
  pathPrefix: Type.Optional(Type.String({ pattern: '^/[^\\s?#]*$', default: '/', title: 'a path starting with "/"', description: 'Path prefix to match, starting with "/" (no query or fragment).' })),
  upstream: Type.String({ minLength: 1, description: 'Name of the upstream (a key of "upstreams") that serves the request.' }),
  accessLog: Type.Optional(Type.Boolean({ default: true, description: 'Whether requests of this route are written to the access log (nginx access_log off in a location): false keeps health checks out of it. Default true; nothing is written anyway while the top-level accessLog is "off".' })),
}, { additionalProperties: false, description: 'Sends matching requests to an upstream (nginx server_name + location prefix + proxy_pass).' }));

const durationProperty = (key: TimeoutName) => Type.Optional(Type.Unsafe<Static<typeof duration>>({
  $ref: '#/$defs/duration', description: `${timeoutFields[key][1]} Default ${timeoutFields[key][0]}.`, default: timeoutFields[key][0],
}));
const timeouts = def('timeouts', Type.Object({
  connect: durationProperty('connect'),
  read: durationProperty('read'),
  send: durationProperty('send'),
  clientHeader: durationProperty('clientHeader'),
  clientBody: durationProperty('clientBody'),
  keepAlive: durationProperty('keepAlive'),
  clientSend: durationProperty('clientSend'),
}, { additionalProperties: false, description: "Timeouts, each a duration. Defaults are nginx's." }));

const handoff = def('handoff', Type.Object({
  dir: Type.Optional(Type.String({ minLength: 1, description: "Directory of the Unix sockets between master and workers (created with mode 0700). It must be owned by the master's user and writable by nobody else, or the master refuses to start. A relative path is resolved against this config file's directory. At most 82 bytes once resolved (Unix socket paths are short). Default: $XDG_RUNTIME_DIR/handoff, else <os.tmpdir()>/handoff-<uid>." })),
  transport: Type.Optional(StringEnum(TRANSPORTS, { default: 'seqpacket', description: '"seqpacket": the master accepts and passes each fd over a SOCK_SEQPACKET socket (SCM_RIGHTS). "ipc": the same over Node\'s child-process IPC channel. "reuseport": every worker listens itself with SO_REUSEPORT and the kernel balances.' })),
  policy: Type.Optional(StringEnum(POLICIES, { default: 'least-conn', description: 'Which worker gets the next connection: "least-conn" (fewest open connections) or "round-robin".' })),
  maxInFlightPerWorker: Type.Optional(Type.Integer({ minimum: 1, maximum: 4096, default: 64, description: 'Connections sent to one worker but not yet acknowledged, at most (1 to 4096); beyond it the master picks another worker.' })),
  // 500 ms: a worker acknowledges once per event-loop turn, so a healthy one answers within
  // milliseconds, and even a long major GC or a loaded machine's scheduling delay stays well under
  // this. Passing over a busy worker too early costs little: the others take its share (all of
  // them stalled, new connections wait in the backlog for the first ACK, as they would anyway).
  // Longer, and every connection handed to a frozen worker meanwhile waits out its whole stall.
  ackTimeout: Type.Optional(Type.Unsafe<Static<typeof duration>>({
    $ref: '#/$defs/duration', default: '500ms',
    description: 'A worker that has left a connection unacknowledged this long (stopped, hung, in a long pause) is "stalled": it gets no new connections until it acknowledges again, and what it already took waits for it. Default 500ms.',
  })),
}, { additionalProperties: false, description: 'How the master hands accepted connections to the workers.' }));

const accessLogFile = def('accessLogFile', Type.Object({
  path: Type.String({ minLength: 1, description: 'The file to append to, opened by each worker itself (O_APPEND, so all workers share it, as nginx\'s do); a relative path is resolved against this config file\'s directory; "stdout" is the standard output. USR1 to the master (handoff -s reopen) opens it anew, for log rotation.' }),
  format: Type.Optional(StringEnum(ACCESS_LOG_FORMATS, { default: 'combined', description: '"combined": nginx\'s combined format, followed by the worker, the upstream\'s address and status, the request time and the upstream response time. "json": one JSON object per line with the same fields.' })),
}, { additionalProperties: false, description: 'An access log in a file, or on stdout in a chosen format.' }));

const limits = def('limits', Type.Object({
  maxConnectionsPerWorker: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000, default: 10_000, description: 'A worker takes no more client connections than this (nginx worker_connections), 1 to 1000000.' })),
  maxBodySize: Type.Optional(Type.Unsafe<Static<typeof size>>({ $ref: '#/$defs/size', default: 0, description: 'Largest request body accepted (nginx client_max_body_size), a size. 0 = unlimited, the default: bodies are streamed to the upstream, never buffered whole, so the proxy needs no cap for its own sake.' })),
}, { additionalProperties: false, description: 'Resource limits.' }));

/** The root object of a config file. */
export const ConfigFileSchema = Type.Object({
  $schema: Type.Optional(Type.String({ description: 'Path or URL of this JSON Schema, for editors. Ignored by Handoff.' })),
  workers: Type.Optional(Type.Union([Type.Integer({ minimum: 1, maximum: MAX_WORKERS }), Type.Literal('auto')], {
    default: 1, description: `Number of worker processes (nginx worker_processes): 1 to ${MAX_WORKERS}, or "auto" for one per CPU (capped at ${MAX_WORKERS}). Default 1.`,
  })),
  workerPriority: Type.Optional(Type.Union([Type.Integer({ minimum: -20, maximum: 19 }), Type.Literal('auto')], {
    default: 'auto',
    description: 'The nice value of each worker\'s event-loop thread (V8\'s helper threads stay behind it), as nginx\'s worker_priority: -20 to 19, or "auto" (the default), 5 below the nice each worker starts with (a spawned worker: 5 below the master\'s); with the reuseport transport, where the master is not in the path, "auto" leaves it unchanged. The master is in the path of every new connection; workers that outrank it make it take connections in batches when the CPU is short, instead of pre-empting them for each one. Lowering a nice value needs CAP_SYS_NICE or an RLIMIT_NICE that allows it; where neither does, "auto" leaves the workers as they are and a number is reported as a warning.',
  })),
  handoff: Type.Optional(handoff),
  listeners: Type.Array(Type.Union([hostPort, listener]), {
    minItems: 1,
    examples: [['127.0.0.1:8080']],
    description: 'Where the master accepts client connections (nginx listen). Each is "host:port" (IPv6 as "[::1]:8080") or an object.',
  }),
  upstreams: Type.Unsafe<Record<string, Static<typeof upstream>>>({
    type: 'object',
    minProperties: 1,
    propertyNames: { title: 'an upstream name of letters, digits, "_", "." and "-"', pattern: '^[A-Za-z0-9_.-]+$' },
    additionalProperties: { $ref: '#/$defs/upstream' },
    examples: [{ backend: { servers: ['127.0.0.1:3000'] } }],
    description: 'Named groups of backend servers (nginx upstream blocks). Routes refer to them by name.',
  }),
  routes: Type.Optional(Type.Array(route, {
    minItems: 1,
    examples: [[{ pathPrefix: '/', upstream: 'backend' }]],
    description: 'Which upstream serves a request: an exact host beats "*", then the longest matching pathPrefix wins. May be omitted when there is exactly one upstream (everything goes there). A (host, pathPrefix) pair may appear only once.',
  })),
  timeouts: Type.Optional(timeouts),
  limits: Type.Optional(limits),
  accessLog: Type.Optional(Type.Union([StringEnum(ACCESS_LOG_TARGETS), accessLogFile], {
    default: 'off',
    title: '"off", "stdout" or an object with a "path" and a "format"',
    examples: ['stdout', { path: '/var/log/handoff/access.log', format: 'combined' }],
    description: 'Where workers write one access-log line per request (nginx access_log). "off" (the default) writes none; "stdout" writes nginx\'s combined format to the standard output, which suits containers (docker compose logs); an object names a file and a format. A route can opt out with its own "accessLog": false. A write that fails (a full disk, a closed pipe) loses its lines with an alert in the error log; the workers keep serving.',
  })),
  pidFile: Type.Optional(Type.String({
    minLength: 1,
    description: 'Where the master writes its pid at start and removes it at exit (nginx pid), and where `handoff -s reload|reopen|quit|stop` finds the master. A relative path is resolved against this config file\'s directory. Default: master.pid in the handoff directory.',
  })),
  workerHeader: Type.Optional(Type.Union([Type.String({ pattern: TOKEN_PATTERN, title: 'a header name (an HTTP token)' }), Type.Null()], {
    default: null,
    examples: ['X-Handoff-Worker'],
    description: 'A response header naming the worker that served the response, added to every response the proxy sends (e.g. "X-Handoff-Worker"). Null (the default): none.',
  })),
  upgrades: Type.Optional(Type.Array(Type.String({ pattern: TOKEN_PATTERN, title: 'a protocol name as the Upgrade header gives it (a token, without "/version")' }), {
    title: 'an array of protocol names such as ["websocket"] ([] tunnels none)',
    default: [...DEFAULT_UPGRADES],
    description: 'Upgrade protocols tunnelled after the upstream answers 101, matched case-insensitively (duplicates count once). A request that offers any other is served as a plain request, with its Upgrade header removed (nginx passes no Upgrade unless configured to). Default ["websocket"]; [] tunnels none. Tunnelling h2c would let a client send HTTP/2 requests straight to a backend, past the routes (h2c smuggling).',
  })),
  status: Type.Optional(Type.Union([hostPort, Type.Null()], {
    default: null,
    examples: ['127.0.0.1:8081'],
    description: '"host:port" where the master serves /metrics (Prometheus text), /status.json and a live dashboard at /. Omitted or null: off. Keep it on a private address.',
  })),
  realIp: Type.Optional(Type.Union([realIp, Type.Null()], { default: null, examples: [{ from: ['10.0.0.0/8'], header: 'X-Forwarded-For' }], description: 'Trusted proxies whose client-address header is believed (nginx set_real_ip_from, real_ip_header, real_ip_recursive). Omitted or null: the client address is always the TCP peer\'s.' })),
  resolver: Type.Optional(Type.Union([resolver, Type.Null()], { default: null, examples: [{ valid: '5s' }], description: 'Looks upstream server names up again every `valid` while running. Omitted or null: names are looked up once, at start and on each reload.' })),
}, {
  additionalProperties: false,
  $defs: defs,
});

/** A config file as written, once the schema accepts it (shorthands and duration strings still raw). */
export type ConfigFile = Static<typeof ConfigFileSchema>;
export type RouteFile = Static<typeof route>;
export type ListenerFile = Static<typeof listener>;
export type ServerFile = Static<typeof server>;
export type TimeoutsFile = Static<typeof timeouts>;

/** The named definitions, for resolving a `$ref` when describing a value in a message. */
export const SCHEMA_DEFS: Readonly<Record<string, TSchema>> = defs;

/** The `default` annotation of each property of one of the $defs objects. */
export function defaultsOf(name: string): Record<string, unknown> {
  const properties = (defs[name] as { properties?: Record<string, { default?: unknown }> }).properties ?? {};
  return Object.fromEntries(Object.entries(properties).filter(([, p]) => 'default' in p).map(([key, p]) => [key, p.default]));
}

export const TIMEOUT_NAMES = Object.keys(timeoutFields) as TimeoutName[];

export { DEFAULT_TIMEOUTS };

/** config/handoff.schema.json: what `npm run schema` writes and a unit test compares. */
export function configJsonSchema(): object {
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    title: 'Handoff config',
    description: 'Config file of Handoff, an nginx-style reverse proxy for Node.js. Generated from proxy/config/schema.ts by `npm run schema`; do not edit. `handoff -t` checks a file against it and against what a schema cannot say (addresses, durations, route targets), reporting every problem at once.',
    ...ConfigFileSchema,
  };
}
