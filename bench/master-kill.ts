// `node dist/bench/master-kill.js`: kill -9 of the master under load, Handoff next to nginx, both
// with 2 workers in front of the same sample backend on loopback. For each: a bounded load starts
// (8 clients, half on keep-alive connections and half on a new connection per request, one
// request every 20 ms each, for 12 s: at most 4,800 requests); at 3 s the master gets SIGKILL;
// at 5 s a new master is started with the same config (Handoff: the same handoff directory);
// the run ends at 12 s. It prints, per phase, the requests made and failed, the slowest request
// and the longest time with no request answered, and what became of the orphaned workers.
// Needs nginx at /usr/sbin/nginx (Debian's). Every process it starts is ended by its pid.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
const NGINX = '/usr/sbin/nginx';
const WORKERS = 2;
const CLIENTS = 8;
const PACE_MS = 20;
const RUN_MS = 12_000;
const KILL_AT_MS = 3_000;
const NEW_MASTER_AT_MS = 5_000;
const REQUEST_TIMEOUT_MS = 5_000;

interface Sample {
  readonly start: number;
  readonly end: number;
  readonly ok: boolean;
  readonly error: string | null;
}

interface Candidate {
  readonly name: string;
  /** Starts a master on `port` (the first or the new one); resolves once it serves or gave up. */
  startMaster(port: number): Promise<ChildProcess>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function freePort(): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

function childPids(pid: number): number[] {
  try {
    return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function answers(port: number, deadlineMs: number): Promise<boolean> {
  const deadline = Date.now() + deadlineMs;
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      http.get({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode === 200));
      }).on('error', () => resolve(false));
    });
    if (ok) return true;
    await sleep(50);
  }
  return false;
}

function get(port: number, agent: http.Agent | false): Promise<Sample> {
  const start = Date.now();
  return new Promise((resolve) => {
    const done = (ok: boolean, error: string | null) => resolve({ start, end: Date.now(), ok, error });
    const req = http.get({ host: '127.0.0.1', port, path: '/', agent, timeout: REQUEST_TIMEOUT_MS }, (res) => {
      res.resume();
      res.on('end', () => done(res.statusCode === 200, res.statusCode === 200 ? null : `status ${res.statusCode}`));
      res.on('error', (err: NodeJS.ErrnoException) => done(false, err.code ?? err.message));
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
    req.on('error', (err: NodeJS.ErrnoException) => done(false, err.code ?? err.message));
  });
}

/** CLIENTS clients, each one request at a time, one every PACE_MS, until RUN_MS. */
async function load(port: number, t0: number): Promise<Sample[]> {
  const samples: Sample[] = [];
  const client = async (keepAlive: boolean) => {
    const agent = keepAlive ? new http.Agent({ keepAlive: true, maxSockets: 1 }) : false;
    for (let next = t0; next < t0 + RUN_MS; next += PACE_MS) {
      if (Date.now() < next) await sleep(next - Date.now());
      if (Date.now() >= t0 + RUN_MS) break;
      samples.push(await get(port, agent));
    }
    if (agent) agent.destroy();
  };
  await Promise.all(Array.from({ length: CLIENTS }, (_, i) => client(i % 2 === 0)));
  return samples;
}

function summarize(samples: readonly Sample[], from: number, to: number): string {
  const mine = samples.filter((s) => s.start >= from && s.start < to);
  const failed = mine.filter((s) => !s.ok);
  const errors = new Map<string, number>();
  for (const s of failed) errors.set(s.error ?? '?', (errors.get(s.error ?? '?') ?? 0) + 1);
  const slowest = Math.max(0, ...mine.map((s) => s.end - s.start));
  // The longest time in which no request was answered, while requests were being made.
  const answeredAt = samples.filter((s) => s.ok).map((s) => s.end).filter((t) => t >= from && t < to).sort((a, b) => a - b);
  let gap = 0;
  let last = from;
  for (const t of [...answeredAt, Math.min(to, Math.max(...mine.map((s) => s.end), from))]) {
    gap = Math.max(gap, t - last);
    last = Math.max(last, t);
  }
  const detail = [...errors].map(([e, n]) => `${e} ${n}`).join(', ');
  return `${mine.length} requests, ${failed.length} failed${detail ? ` (${detail})` : ''}, slowest ${slowest} ms, longest with no answer ${gap} ms`;
}

async function run(candidate: Candidate, backendPort: number): Promise<void> {
  const port = await freePort();
  const started: number[] = [];
  try {
    const first = await candidate.startMaster(port);
    started.push(first.pid!);
    if (!(await answers(port, 10_000))) throw new Error(`${candidate.name} does not answer`);
    const workers = childPids(first.pid!);
    started.push(...workers);
    const t0 = Date.now();
    const samples = load(port, t0);
    await sleep(KILL_AT_MS);
    process.kill(first.pid!, 'SIGKILL');
    await sleep(NEW_MASTER_AT_MS - KILL_AT_MS);
    let orphansGoneAt: number | null = null;
    const watch = setInterval(() => {
      if (orphansGoneAt === null && !workers.some(alive)) orphansGoneAt = Date.now();
    }, 20);
    const second = await candidate.startMaster(port);
    started.push(second.pid!);
    const all = await samples;
    clearInterval(watch);
    started.push(...childPids(second.pid!));
    const orphansLeft = workers.filter(alive);
    console.log(`${candidate.name} (backend :${backendPort}, proxy :${port}):`);
    console.log(`  before the kill      ${summarize(all, t0, t0 + KILL_AT_MS)}`);
    console.log(`  no master            ${summarize(all, t0 + KILL_AT_MS, t0 + NEW_MASTER_AT_MS)}`);
    console.log(`  new master started   ${summarize(all, t0 + NEW_MASTER_AT_MS, t0 + RUN_MS)}`);
    console.log(`  new master ${second.exitCode === null && second.signalCode === null ? `running (pid ${second.pid})` : `exited (${second.exitCode ?? second.signalCode})`}; ` +
      `orphaned workers still running at the end: ${orphansLeft.length} of ${workers.length}` +
      (orphansGoneAt === null ? '' : ` (all gone ${orphansGoneAt - t0 - NEW_MASTER_AT_MS} ms after the new master was started)`));
  } finally {
    for (const pid of started.reverse()) if (alive(pid)) process.kill(pid, 'SIGKILL');
  }
}

function handoff(dir: string, backendPort: number): Candidate {
  return {
    name: 'Handoff',
    async startMaster(port) {
      const config = path.join(dir, 'handoff.json');
      fs.writeFileSync(config, JSON.stringify({
        workers: WORKERS, listeners: [`127.0.0.1:${port}`], handoff: { dir: path.join(dir, 'handoff') },
        upstreams: { app: { servers: [`127.0.0.1:${backendPort}`], keepalive: 32 } }, accessLog: 'off',
      }));
      const errorLog = fs.openSync(path.join(dir, 'handoff-error.log'), 'a');
      const proc = spawn(process.execPath, [path.join(ROOT, 'dist/proxy/cli.js'), '-c', config], { stdio: ['ignore', 'pipe', errorLog] });
      fs.closeSync(errorLog);
      let out = '';
      proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      const deadline = Date.now() + 15_000;
      while (!out.includes('workers ready') && proc.exitCode === null && Date.now() < deadline) await sleep(25);
      return proc;
    },
  };
}

function nginx(dir: string, backendPort: number): Candidate {
  return {
    name: `nginx (${NGINX})`,
    async startMaster(port) {
      const temps = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${dir}/tmp-${t};`).join('\n');
      const conf = path.join(dir, 'nginx.conf');
      fs.writeFileSync(conf, `${process.getuid?.() === 0 ? 'user root;\n' : ''}daemon off;
master_process on;
worker_processes ${WORKERS};
pid ${dir}/nginx.pid;
error_log ${dir}/nginx-error.log notice;
events { worker_connections 4096; }
http {
  access_log off;
${temps}
  upstream app { server 127.0.0.1:${backendPort}; keepalive 32; }
  server {
    listen 127.0.0.1:${port};
    location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
`);
      const proc = spawn(NGINX, ['-p', dir, '-c', conf, '-e', path.join(dir, 'nginx-error.log')], { stdio: 'ignore' });
      // A first master: serving once its workers are there. A new one: it tries bind() for 2.5 s.
      const deadline = Date.now() + 4_000;
      while (childPids(proc.pid!).length < WORKERS && proc.exitCode === null && Date.now() < deadline) await sleep(25);
      return proc;
    },
  };
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'handoff-master-kill-'));
  const backendPort = await freePort();
  const backend = spawn(process.execPath, [path.join(ROOT, 'dist/backend/server.js'), '--host', '127.0.0.1', '--port', String(backendPort)], { stdio: 'ignore' });
  try {
    if (!(await answers(backendPort, 10_000))) throw new Error('the backend does not answer');
    for (const [name, make] of [['handoff', handoff], ['nginx', nginx]] as const) {
      const sub = path.join(dir, name);
      fs.mkdirSync(sub);
      await run(make(sub, backendPort), backendPort);
    }
  } finally {
    backend.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
