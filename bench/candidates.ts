// Starting and stopping what is measured (the candidates) and what they proxy to (the upstreams).
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { BIG_BYTES, haproxyConf, handoffConf, nginxProxyConf, nginxUpstreamConf, type Site } from './configs';
import { freePort, start, stop, waitForPort, sleep, type Managed } from './procs';

const DIST = path.resolve(__dirname, '..');

export const CANDIDATES = [
  'handoff-seqpacket', 'handoff-ipc', 'handoff-reuseport', 'nginx', 'haproxy', 'node-http-proxy',
] as const;
/**
 * `--baseline DIR`: another checkout of Handoff (built: DIR/dist/proxy/cli.js), run with the
 * seqpacket transport beside this one, so that a change is measured A/B in the same interleaved
 * rounds rather than in two runs minutes apart on a machine whose speed drifts.
 */
export const BASELINE = 'handoff-baseline';
export type CandidateName = (typeof CANDIDATES)[number] | typeof BASELINE;

export interface CandidateOptions {
  /** The baseline checkout's top folder (for handoff-baseline). */
  readonly baselineDir?: string | null;
  readonly timeoutMs?: number;
}

export interface Running {
  readonly name: string;
  readonly port: number;
  /** The process whose whole tree is measured (master + workers). */
  readonly proc: Managed;
}

export interface Upstreams {
  readonly nginx: Running;
  readonly backend: Running | null;
}

function writeConf(dir: string, file: string, text: string): string {
  const p = path.join(dir, file);
  fs.writeFileSync(p, text);
  return p;
}

/** nginx with 1 MiB of static bytes at /big, and (best effort) the sample backend. */
export async function startUpstreams(dir: string, nginxWorkers: number, log: (s: string) => void): Promise<Upstreams> {
  fs.mkdirSync(path.join(dir, 'www'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'upstream-tmp'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'www', 'big'), Buffer.alloc(BIG_BYTES, 'b'));
  const port = await freePort();
  const conf = writeConf(dir, 'upstream.conf', nginxUpstreamConf(dir, port, nginxWorkers));
  const proc = start('upstream-nginx', 'nginx', ['-p', dir, '-c', conf, '-e', path.join(dir, 'upstream-error.log')]);
  await waitForPort(port, proc);
  const nginx = { name: 'upstream-nginx', port, proc };

  let backend: Running | null = null;
  try {
    const bport = await freePort();
    const bproc = start('backend', process.execPath, [path.join(DIST, 'backend', 'server.js'), '--port', String(bport), '--id', 'bench']);
    await waitForPort(bport, bproc);
    backend = { name: 'backend', port: bport, proc: bproc };
  } catch (err) {
    log(`sample backend unavailable (the "backend" workload will be skipped): ${(err as Error).message.split('\n')[0]}`);
  }
  return { nginx, backend };
}

/** Starts one candidate; throws (with its output) if it does not come up within `timeoutMs`. */
export async function startCandidate(
  name: CandidateName, dir: string, up: Upstreams, workers: number, workerNice: number | null, options: CandidateOptions = {},
): Promise<Running> {
  const timeoutMs = options.timeoutMs ?? 20_000;
  const site: Site = {
    dir, workers, workerNice, port: await freePort(), upstreamPort: up.nginx.port,
    // An unused port when the backend is missing: only the "backend" workload would reach it.
    backendPort: up.backend?.port ?? (await freePort()),
  };
  let proc: Managed;
  let ready: (p: Managed) => boolean = () => true;
  if (name.startsWith('handoff-')) {
    const baseline = name === BASELINE;
    if (baseline && !options.baselineDir) throw new Error(`${BASELINE} needs --baseline DIR`);
    const transport = baseline ? 'seqpacket' : name.slice('handoff-'.length);
    const cli = baseline ? path.join(options.baselineDir!, 'dist', 'proxy', 'cli.js') : path.join(DIST, 'proxy', 'cli.js');
    const conf = writeConf(dir, `${name}.json`, handoffConf(site, name, transport));
    proc = start(name, process.execPath, [cli, '-c', conf], {
      env: { ...process.env, HANDOFF_LOG_LEVEL: 'warn' },
    });
    ready = (p) => p.output().includes(`${workers} workers ready`);
  } else if (name === 'nginx') {
    fs.mkdirSync(path.join(dir, 'nginx-tmp'), { recursive: true });
    const conf = writeConf(dir, 'nginx.conf', nginxProxyConf(site));
    proc = start(name, 'nginx', ['-p', dir, '-c', conf, '-e', path.join(dir, 'nginx-error.log')]);
  } else if (name === 'haproxy') {
    const conf = writeConf(dir, 'haproxy.cfg', haproxyConf(site));
    proc = start(name, 'haproxy', ['-db', '-f', conf]);
  } else {
    proc = start(name, process.execPath, [
      path.join(DIST, 'bench', 'node-http-proxy.js'), String(site.port), String(site.upstreamPort), String(site.backendPort), String(workers),
      String(workerNice ?? ''),
    ]);
    ready = (p) => p.output().includes('ready');
  }
  try {
    const deadline = Date.now() + timeoutMs;
    while (!ready(proc)) {
      if (proc.exited()) throw new Error(`exited: ${proc.output().trim().slice(-1500)}`);
      if (Date.now() > deadline) throw new Error(`not ready within ${timeoutMs} ms: ${proc.output().trim().slice(-1500)}`);
      await sleep(50);
    }
    await waitForPort(site.port, proc, Math.max(1000, deadline - Date.now()));
    await smokeTest(site.port);
  } catch (err) {
    await stop(proc);
    throw err;
  }
  return { name, port: site.port, proc };
}

/** One real request through the candidate: listening is not the same as proxying. */
async function smokeTest(port: number): Promise<void> {
  let last = '';
  for (let i = 0; i < 20; i++) {
    try {
      const { status, body } = await getOnce(port);
      if (status === 200 && body.length === 100) return;
      last = `status ${status}, ${body.length} bytes`;
    } catch (err) {
      last = (err as Error).message;
    }
    await sleep(100);
  }
  throw new Error(`smoke request failed: ${last}`);
}

/**
 * GET / on a connection of its own, closed afterwards: a pooled keep-alive connection (fetch's)
 * would stay open on the candidate and count as a client connection of the workloads after it.
 */
function getOnce(port: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', agent: false, headers: { Connection: 'close' }, timeout: 2000 }, (res) => {
      let body = '';
      res.setEncoding('latin1');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('no response in 2 s')));
    req.on('error', reject);
  });
}

/** The sample backend's request counter: proof that the "backend" workload really reached it. */
export async function backendRequests(port: number): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${port}/stats`, { signal: AbortSignal.timeout(2000) });
  return ((await res.json()) as { requests: number }).requests;
}
