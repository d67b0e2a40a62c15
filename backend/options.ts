// Command line and environment parsing for the backend entry point. Flags win over env vars.
import { hostname } from 'node:os';

export interface BackendOptions {
  port: number;
  host: string;
  /** undefined: derive `backend-<hostname>-<port>` once the real port is known. */
  id: string | undefined;
}

export type ParsedArgs = { kind: 'run'; options: BackendOptions } | { kind: 'help' };

/** Thrown for bad flags or values; the entry point prints it with the usage and exits 2. */
export class UsageError extends Error {}

export const USAGE = `Usage: node dist/backend/server.js [--port N] [--host H] [--id NAME]

Sample upstream for Handoff's lab, tests, load tests and benchmarks.

Options:
  --port N     port to listen on, 0 = any free port   (env PORT, default 3000)
  --host H     address to bind                       (env HOST, default 127.0.0.1)
  --id NAME    instance id, sent as X-Backend-Id     (env INSTANCE_ID,
               default backend-<hostname>-<port>)
  -h, --help   show this help and exit

Routes (any method; HEAD supported):
  /                   hello from <id>
  /health             ok
  /headers            request headers as JSON
  /stats              counters (requests, connections, pending delays, websockets)
  /echo               JSON description of the request, body sha256
  /echo/stream        request body streamed back
  /delay?ms=N         answer after N ms (0..600000)
  /bytes?n=N          N pattern bytes (byte i = i mod 256), &chunked=1 for chunked
  /status/CODE        respond with CODE (200..599), ?location=URL sets Location
  /ws                 WebSocket echo
`;

const ID_PATTERN = /^[\x21-\x7e]{1,200}$/; // visible ASCII: safe in a header and in the log line

export function parsePort(value: string, source: string): number {
  if (!/^\d{1,5}$/.test(value) || Number(value) > 65535) {
    throw new UsageError(`invalid ${source} '${value}': expected an integer 0..65535`);
  }
  return Number(value);
}

function checkHost(value: string, source: string): string {
  if (value === '' || /\s/.test(value)) throw new UsageError(`invalid ${source} '${value}': expected an address or hostname`);
  return value;
}

function checkId(value: string, source: string): string {
  if (!ID_PATTERN.test(value)) {
    throw new UsageError(`invalid ${source} '${value}': expected 1..200 visible ASCII characters, no spaces`);
  }
  return value;
}

/** Hostnames can contain characters we do not allow in ids; replace them. */
export function defaultId(port: number): string {
  const host = hostname().replace(/[^\x21-\x7e]/g, '_') || 'unknown';
  return `backend-${host}-${port}`;
}

/** Empty env vars count as unset (docker-compose and shells produce them easily). */
function envValue(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value === '' ? undefined : value;
}

export function parseArgs(argv: readonly string[], env: NodeJS.ProcessEnv): ParsedArgs {
  const envPort = envValue(env, 'PORT');
  const envHost = envValue(env, 'HOST');
  const envId = envValue(env, 'INSTANCE_ID');
  let port = envPort === undefined ? 3000 : parsePort(envPort, 'PORT');
  let host = envHost === undefined ? '127.0.0.1' : checkHost(envHost, 'HOST');
  let id = envId === undefined ? undefined : checkId(envId, 'INSTANCE_ID');

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '-h' || arg === '--help') return { kind: 'help' };
    // Accept both `--port 8080` and `--port=8080`.
    const eq = arg.indexOf('=');
    const flag = arg.startsWith('--') && eq !== -1 ? arg.slice(0, eq) : arg;
    if (flag !== '--port' && flag !== '--host' && flag !== '--id') {
      throw new UsageError(arg.startsWith('-') ? `unknown option '${arg}'` : `unexpected argument '${arg}'`);
    }
    let value: string;
    if (flag !== arg) {
      value = arg.slice(eq + 1);
    } else {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('--')) throw new UsageError(`option '${flag}' needs a value`);
      value = next;
      i++;
    }
    if (flag === '--port') port = parsePort(value, '--port');
    else if (flag === '--host') host = checkHost(value, '--host');
    else id = checkId(value, '--id');
  }
  return { kind: 'run', options: { port, host, id } };
}
