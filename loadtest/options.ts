// Command line of the load test: `node dist/loadtest/run.js [options]` (npm run loadtest -- [options]).
// Later flags win over earlier ones, so docker-compose can pass defaults and the user override them.
import net from 'node:net';

export const SCENARIO_NAMES = ['keepalive', 'newconn', 'large', 'slow'] as const;
export type ScenarioName = (typeof SCENARIO_NAMES)[number];

export interface LoadtestOptions {
  proxy: URL;
  direct: URL;
  /** Seconds per run; every scenario runs twice (proxy, then direct). */
  durationS: number;
  connections: number;
  outDir: string;
  scenarios: ScenarioName[];
  /** The slow upstream's delay (backend /delay?ms=). */
  delayMs: number;
  /** Targets other than loopback and single-label names (compose services) need this. */
  allowAnyHost: boolean;
  /** The master's status listener, for the spread of requests over workers; null: not read. */
  status: URL | null;
}

export class UsageError extends Error {}

export const MAX_DURATION_S = 600;
export const MAX_CONNECTIONS = 1000;

export const USAGE = `Usage: node dist/loadtest/run.js [options]     (or: npm run loadtest -- [options])

Runs each scenario against the proxy and against one backend directly, with autocannon (and a
raw-socket loop for new connections), and writes a report: console table, report.json, report.html.

Options:
  --proxy URL          the proxy                         (default http://127.0.0.1:8080)
  --direct URL         one backend, bypassing the proxy  (default http://127.0.0.1:3000);
                       a name with several addresses is resolved once and its first address used
  --duration S         seconds per run, 1..${MAX_DURATION_S}           (default 10)
  --connections N      concurrent connections, 1..${MAX_CONNECTIONS}  (default 50; "large" uses at most 10)
  --out DIR            report directory                  (default loadtest/reports)
  --scenarios a,b      any of ${SCENARIO_NAMES.join(',')}  (default: all)
  --delay-ms N         the slow upstream's delay         (default 100)
  --status URL         the master's status listener: the report shows how the proxy's requests
                       spread over its workers (off when not given)
  --allow-any-host     allow targets other than loopback and single-label (compose service) names
  -h, --help           this text

Scenarios:
  keepalive  GET / (a ~40-byte body) on keep-alive connections                       autocannon
  newconn    GET / with a new TCP connection per request (Connection: close, the
             server closes first), so every request crosses the master's handoff    raw-socket loop
  large      GET /bytes?n=1048576 (1 MiB bodies), keep-alive                         autocannon
  slow       GET /delay?ms=N, a slow upstream, keep-alive                            autocannon

Exit status: 0 when every request succeeded, 1 when any failed (the report is written either way),
2 on a usage error.
`;

function parseUrl(value: string, flag: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(`${flag}: not a URL: ${value}`);
  }
  if (url.protocol !== 'http:') throw new UsageError(`${flag}: only http:// URLs are supported, got ${url.protocol}`);
  return url;
}

function parseIntIn(value: string, flag: string, min: number, max: number): number {
  if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
    throw new UsageError(`${flag}: expected an integer ${min}..${max}, got "${value}"`);
  }
  return Number(value);
}

/** Loopback addresses, `localhost`, and single-label names such as compose's `proxy` or `backend`. */
export function isLabHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (net.isIPv4(host)) return host.startsWith('127.');
  if (net.isIPv6(host)) return host === '::1';
  return !host.includes('.');
}

export function parseArgs(argv: readonly string[]): LoadtestOptions | 'help' {
  const opts: LoadtestOptions = {
    proxy: new URL('http://127.0.0.1:8080'),
    direct: new URL('http://127.0.0.1:3000'),
    durationS: 10,
    connections: 50,
    outDir: 'loadtest/reports',
    scenarios: [...SCENARIO_NAMES],
    delayMs: 100,
    allowAnyHost: false,
    status: null,
  };
  const args = [...argv];
  while (args.length > 0) {
    let arg = args.shift()!;
    let inline: string | undefined;
    const eq = arg.indexOf('=');
    if (arg.startsWith('--') && eq !== -1) {
      inline = arg.slice(eq + 1);
      arg = arg.slice(0, eq);
    }
    const value = (): string => {
      const v = inline ?? args.shift();
      if (v === undefined || (inline === undefined && v.startsWith('--'))) throw new UsageError(`option ${arg} needs a value`);
      return v;
    };
    switch (arg) {
      case '--proxy': opts.proxy = parseUrl(value(), arg); break;
      case '--direct': opts.direct = parseUrl(value(), arg); break;
      case '--status': opts.status = parseUrl(value(), arg); break;
      case '--duration': opts.durationS = parseIntIn(value(), arg, 1, MAX_DURATION_S); break;
      case '--connections': opts.connections = parseIntIn(value(), arg, 1, MAX_CONNECTIONS); break;
      case '--out': opts.outDir = value(); break;
      case '--delay-ms': opts.delayMs = parseIntIn(value(), arg, 0, 60_000); break;
      case '--allow-any-host': opts.allowAnyHost = true; break;
      case '--scenarios': {
        const names = value().split(',').map((s) => s.trim()).filter((s) => s !== '');
        const unknown = names.filter((n) => !(SCENARIO_NAMES as readonly string[]).includes(n));
        if (unknown.length > 0 || names.length === 0) {
          throw new UsageError(`--scenarios: unknown scenario "${unknown.join(',')}" (known: ${SCENARIO_NAMES.join(', ')})`);
        }
        opts.scenarios = SCENARIO_NAMES.filter((n) => names.includes(n));
        break;
      }
      case '-h': case '--help': return 'help';
      default: throw new UsageError(`unknown option "${arg}"`);
    }
  }
  if (!opts.allowAnyHost) {
    for (const [flag, url] of [['--proxy', opts.proxy], ['--direct', opts.direct], ['--status', opts.status]] as const) {
      if (url === null) continue;
      if (!isLabHost(url.hostname)) {
        throw new UsageError(`${flag} ${url.href}: not a loopback address or a compose service name; a load test only goes to your own lab (--allow-any-host to override)`);
      }
    }
  }
  return opts;
}
