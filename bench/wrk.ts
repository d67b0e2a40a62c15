// Workloads and the wrk runs that drive them. Each workload is a Lua script whose done() prints
// one machine-readable line, so figures come from wrk's own counters (µs latencies, exact error
// counts) rather than from its rounded text output.
import fs from 'node:fs';
import path from 'node:path';
import { BACKEND_HOST, BIG_BYTES } from './configs';
import { cpuTicks, start, sleep, CLK_TCK } from './procs';

export const WORKLOADS = ['keepalive', 'close', '1mib', 'post64k', 'backend', '10k'] as const;
export type WorkloadName = (typeof WORKLOADS)[number];

export interface Workload {
  readonly name: WorkloadName;
  readonly title: string;
  readonly path: string;
  readonly connections: number;
  readonly lua: string;
  /** A whole response is at least this many bytes (status line, headers, body). */
  readonly minBytesPerResponse: number;
  /** Report MiB/s as the headline figure instead of req/s. */
  readonly throughput: boolean;
}

const DONE = `
done = function(s, lat, req)
  local e = s.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"bytes":%d,"durationUs":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"p50":%d,"p99":%d,"max":%d}\\n',
    s.requests, s.bytes, s.duration, e.connect, e.read, e.write, e.status, e.timeout,
    lat:percentile(50), lat:percentile(99), lat.max))
end
`;

/** The many-connections workload: one wrk with this many keep-alive connections (quick mode: fewer). */
export const TEN_K = 10_000;
const TEN_K_QUICK = 2_000;

export function workloads(quick: boolean): Workload[] {
  const c = 50;
  const many = quick ? TEN_K_QUICK : TEN_K;
  return [
    { name: 'keepalive', title: `keep-alive, ${c} conns`, path: '/', connections: c, minBytesPerResponse: 100, throughput: false, lua: '' },
    {
      name: 'close', title: `new connection per request, ${c} conns`, path: '/', connections: c, minBytesPerResponse: 100, throughput: false,
      lua: 'wrk.headers["Connection"] = "close"\n',
    },
    { name: '1mib', title: '1 MiB responses, 10 conns', path: '/big', connections: 10, minBytesPerResponse: BIG_BYTES, throughput: true, lua: '' },
    {
      name: 'post64k', title: `POST 64 KiB bodies, ${c} conns`, path: '/post', connections: c, minBytesPerResponse: 100, throughput: false,
      lua: 'wrk.method = "POST"\nwrk.body = string.rep("p", 65536)\nwrk.headers["Content-Type"] = "application/octet-stream"\n',
    },
    {
      name: 'backend', title: `sample backend upstream, keep-alive, ${c} conns`, path: '/', connections: c, minBytesPerResponse: 10, throughput: false,
      lua: `wrk.headers["Host"] = "${BACKEND_HOST}"\n`,
    },
    // Whether every one of them is answered is checked connection by connection (conn-workloads.ts).
    { name: '10k', title: `keep-alive, ${many.toLocaleString('en-US')} conns`, path: '/', connections: many, minBytesPerResponse: 100, throughput: false, lua: '' },
  ];
}

export function writeScripts(dir: string, list: Workload[]): void {
  for (const w of list) fs.writeFileSync(path.join(dir, `${w.name}.lua`), w.lua + DONE);
}

export interface WrkResult {
  requests: number;
  bytes: number;
  durationUs: number;
  errors: { connect: number; read: number; write: number; status: number; timeout: number };
  p50Us: number;
  p99Us: number;
  maxUs: number;
  /** CPU wrk itself used (user+sys), µs. */
  cpuUs: number;
  /** Whatever went wrong with wrk itself; null when it reported normally. */
  failure: string | null;
}

/**
 * Runs wrk for `seconds` (fractions allowed: wrk's -d takes whole seconds only, so it is given a
 * longer -d and stopped with SIGINT, on which it stops its threads and still runs done()).
 * wrk's own CPU is read just before the SIGINT: its whole life is the measured window.
 * `beforeStop` runs at the end of the window, before that read; wrk keeps running meanwhile, and
 * its own duration (durationUs) covers the extra time.
 */
export async function runWrk(
  dir: string, w: Workload, port: number, seconds: number, beforeStop?: () => Promise<void>,
): Promise<WrkResult> {
  const args = [
    '-t2', `-c${w.connections}`, `-d${Math.ceil(seconds) + 30}s`, '--timeout', '5s',
    '-s', path.join(dir, `${w.name}.lua`), `http://127.0.0.1:${port}${w.path}`,
  ];
  const proc = start('wrk', 'wrk', args);
  let cpuUs = 0;
  let failure: string | null = null;
  await sleep(seconds * 1000);
  // A check on wrk's open connections (10k: is every one answered?) while they are still open.
  if (beforeStop && !proc.exited()) await beforeStop();
  const t = cpuTicks(proc.pid);
  if (t) cpuUs = ((t.user + t.sys) * 1e6) / CLK_TCK;
  try { process.kill(proc.pid, 'SIGINT'); } catch { /* exited early: reported below */ }
  const deadline = Date.now() + 5000;
  while (!proc.exited() && Date.now() < deadline) await sleep(10);
  if (!proc.exited()) {
    failure = 'wrk did not stop on SIGINT';
    try { process.kill(-proc.pid, 'SIGKILL'); } catch { /* gone */ }
    while (!proc.exited()) await sleep(10);
  }
  const m = /BENCH_RESULT (\{.*\})/.exec(proc.output());
  if (!m) {
    return {
      requests: 0, bytes: 0, durationUs: seconds * 1e6, errors: { connect: 0, read: 0, write: 0, status: 0, timeout: 0 },
      p50Us: 0, p99Us: 0, maxUs: 0, cpuUs, failure: failure ?? `no result from wrk: ${proc.output().trim().slice(-500)}`,
    };
  }
  const r = JSON.parse(m[1]) as Record<string, number>;
  return {
    requests: r.requests, bytes: r.bytes, durationUs: r.durationUs,
    errors: { connect: r.connect, read: r.read, write: r.write, status: r.status, timeout: r.timeout },
    p50Us: r.p50, p99Us: r.p99, maxUs: r.max, cpuUs, failure,
  };
}
