// Config text for the processes under test, generated into the run's temp dir. Each choice that
// departs from a distribution default is here so that every proxy does the same job: stream
// bodies, keep upstream connections alive, add X-Forwarded-For, never touch the disk.
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import { wantedNice } from '../proxy/worker/process-priority';

/** Paths and ports one generated config needs. */
export interface Site {
  readonly dir: string;
  readonly port: number;
  readonly upstreamPort: number;
  /** The sample backend, reached with `Host: backend.bench` (the sanity workload). */
  readonly backendPort: number;
  readonly workers: number;
  /** The workers' nice value (matchedWorkerNice), or null to leave them at the harness's. */
  readonly workerNice: number | null;
}

/**
 * The nice value Handoff's workers take here with workerPriority "auto" (5 below the master's),
 * given to nginx's (worker_priority) and node-http-proxy's cluster workers too, so that every
 * design with a master and workers runs its workers at the same priority. Null when it cannot be
 * matched: this user may not lower a nice value, or it would be 0, which nginx's worker_priority
 * ignores (a harness run at nice 5); then every candidate's workers stay at the harness's nice,
 * Handoff's by an explicit workerPriority (handoffConf).
 */
export function matchedWorkerNice(): number | null {
  const nice = wantedNice('auto', 'seqpacket', os.getPriority());
  if (nice === 0) return null;
  // Asked of a throwaway process: the harness's own priority must not change.
  const probe = spawnSync(process.execPath, ['-e', `require('os').setPriority(${nice})`], { stdio: 'ignore' });
  return probe.status === 0 ? nice : null;
}

export const BACKEND_HOST = 'backend.bench';
/** The small response: exactly 100 bytes, so bytes/request says whether responses are whole. */
export const SMALL_BODY = 'x'.repeat(99) + '\n';
export const BIG_BYTES = 1024 * 1024;
/** Every candidate's listen(2) backlog (the kernel caps it at net.core.somaxconn, 4096 here). */
export const LISTEN_BACKLOG = 4096;

// nginx compiles in /var/lib/nginx temp paths that a non-root run cannot create; keep them here.
function nginxCommon(dir: string, name: string): string {
  // As root, nginx would drop its workers to "nobody", who cannot read our 0700 temp dir.
  const user = process.getuid?.() === 0 ? 'user root;\n' : '';
  return `${user}daemon off;
master_process on;
pid ${dir}/${name}.pid;
error_log ${dir}/${name}-error.log warn;
worker_rlimit_nofile 20000;
`;
}

function nginxTemps(dir: string, name: string): string {
  return ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
    .map((t) => `  ${t}_temp_path ${dir}/${name}-tmp/${t};`).join('\n');
}

/**
 * The 10k workload: a candidate may hold an upstream connection per client request in flight
 * (up to 10,000); one upstream worker takes them all, within the 20,000 open files per process
 * this machine allows.
 */
const UPSTREAM_CONNECTIONS = 19_000;
/** nginx counts client and upstream connections alike; a worker may get more than half of 10,000. */
const NGINX_WORKER_CONNECTIONS = 19_000;

/**
 * The upstream every candidate proxies to: nginx answering from memory (`return`) or a static
 * file with sendfile, so that it costs a few µs per request and is never the bottleneck.
 * `return` discards a request body (ngx_http_send_response reads and drops it), keeping the
 * connection alive, which is all the POST workload needs.
 */
export function nginxUpstreamConf(dir: string, port: number, workers: number): string {
  return `${nginxCommon(dir, 'upstream')}worker_processes ${workers};
events { worker_connections ${UPSTREAM_CONNECTIONS}; multi_accept on; }
http {
  access_log off;
${nginxTemps(dir, 'upstream')}
  sendfile on;
  tcp_nopush on;
  keepalive_requests 10000000;
  keepalive_timeout 300s;
  client_body_buffer_size 128k;
  client_max_body_size 1m;
  default_type application/octet-stream;
  server {
    listen 127.0.0.1:${port} backlog=${LISTEN_BACKLOG};
    root ${dir}/www;
    location = / { default_type text/plain; return 200 "${SMALL_BODY.trimEnd()}\\n"; }
    location = /post { default_type text/plain; return 200 "${SMALL_BODY.trimEnd()}\\n"; }
    location / { }
  }
}
`;
}

/**
 * nginx as the reference proxy. proxy_request_buffering off and proxy_max_temp_file_size 0 make
 * it stream bodies as Handoff does instead of spooling them to temp files; keepalive_requests is
 * raised on both sides so that 1000-request connection recycling is not part of the figure.
 */
const UPGRADE_HEADERS = `proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;`;

export function nginxProxyConf(s: Site): string {
  // The sample backend's location also passes WebSocket upgrades on (the ws-memory workload).
  const proxied = (up: string, upgrade = false): string => `proxy_pass http://${up};
      proxy_http_version 1.1;
      ${upgrade ? UPGRADE_HEADERS : 'proxy_set_header Connection "";'}
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_request_buffering off;
      proxy_max_temp_file_size 0;`;
  const priority = s.workerNice === null ? '' : `worker_priority ${s.workerNice};\n`;
  return `${nginxCommon(s.dir, 'nginx')}worker_processes ${s.workers};
${priority}events { worker_connections ${NGINX_WORKER_CONNECTIONS}; }
http {
  access_log off;
  map $http_upgrade $connection_upgrade { default upgrade; '' ''; }
${nginxTemps(s.dir, 'nginx')}
  keepalive_requests 10000000;
  keepalive_timeout 75s;
  client_max_body_size 0;
  upstream u { server 127.0.0.1:${s.upstreamPort}; keepalive 64; keepalive_requests 10000000; }
  upstream b { server 127.0.0.1:${s.backendPort}; keepalive 64; keepalive_requests 10000000; }
  server {
    listen 127.0.0.1:${s.port} backlog=${LISTEN_BACKLOG};
    location / {
      ${proxied('u')}
    }
  }
  server {
    listen 127.0.0.1:${s.port};
    server_name ${BACKEND_HOST};
    location / {
      ${proxied('b', true)}
    }
  }
}
`;
}

/**
 * HAProxy reserves two fds per connection (client and server side) plus a few: 9,990 is the most
 * that fits in this machine's 20,000 open files (it refuses to start above), so of the 10k
 * workload's connections a few wait in the listen backlog unanswered, and that run is flagged.
 */
const HAPROXY_MAXCONN = 9_990;

/** HAProxy 2.6 in one process with `workers` threads; http-reuse always is its upstream keep-alive. */
export function haproxyConf(s: Site): string {
  return `global
  nbthread ${s.workers}
  maxconn ${HAPROXY_MAXCONN}
defaults
  mode http
  maxconn ${HAPROXY_MAXCONN}
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  timeout http-keep-alive 75s
  option forwardfor
  http-reuse always
frontend fe
  bind 127.0.0.1:${s.port}
  use_backend b if { hdr(host) -i ${BACKEND_HOST} }
  default_backend u
backend u
  server s1 127.0.0.1:${s.upstreamPort}
backend b
  server s1 127.0.0.1:${s.backendPort}
`;
}

/** `name` keeps each candidate's handoff directory apart (two may share a transport). */
export function handoffConf(s: Site, name: string, transport: string): string {
  return JSON.stringify({
    workers: s.workers,
    ...(s.workerNice === null ? { workerPriority: os.getPriority() } : {}),
    // The backlog nginx's config gives its listener (LISTEN_BACKLOG): a burst of 10,000 connects
    // overflows the default 511, and the dropped SYNs come back only after seconds.
    listeners: [{ host: '127.0.0.1', port: s.port, backlog: LISTEN_BACKLOG }],
    handoff: { dir: `${s.dir}/${name}`, transport },
    upstreams: {
      u: { servers: [`127.0.0.1:${s.upstreamPort}`], keepalive: 64 },
      b: { servers: [`127.0.0.1:${s.backendPort}`], keepalive: 64 },
    },
    routes: [
      { host: BACKEND_HOST, pathPrefix: '/', upstream: 'b' },
      { host: '*', pathPrefix: '/', upstream: 'u' },
    ],
  }, null, 2);
}
