// The Docker lab, for real: builds the images, brings docker-compose.yml up with testcontainers
// under a per-run project name (which names its images too), drives it, also through ./lab, and
// tears it all down again.
//
// Needs a Docker engine and compose v2. Without one this suite FAILS (it does not skip): CI starts
// the engine first (.ci/run). On a machine that cannot reach a registry, the local base image
// localbase/node:20-bookworm-slim is used when present (or whatever NODE_IMAGE says).
// testcontainers runs without its reaper (ryuk) here: its image cannot be pulled, so this file
// cleans up itself and checks that nothing of the run is left.
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { StartedDockerComposeEnvironment, StartedTestContainer } from 'testcontainers';

// Before testcontainers is loaded (it is required lazily below): no ryuk, and no gateway lookup
// (which would pull an image) when this machine is itself a container.
process.env.TESTCONTAINERS_RYUK_DISABLED ??= 'true';
process.env.TESTCONTAINERS_HOST_OVERRIDE ??= 'localhost';

const ROOT = path.resolve(__dirname, '../../..');
const LOCAL_BASE_IMAGE = 'localbase/node:20-bookworm-slim';
const RUN_ID = `${Date.now().toString(36)}${process.pid.toString(36)}`;
const PROJECT = `handoff-lab-test-${RUN_ID}`;
const LAB = path.join(ROOT, 'lab');
// Compose names each service's image <project>-<service>.
const imagesOf = (project: string): string[] => ['backend', 'proxy', 'workers', 'loadtest', 'debug'].map((s) => `${project}-${s}`);

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 600_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd: ROOT, env: { ...process.env, ...env }, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as NodeJS.ErrnoException).code === 'number' ? Number((err as NodeJS.ErrnoException).code) : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) + (err && code === 1 && !stderr ? err.message : '') });
    });
  });
}

async function mustRun(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs?: number): Promise<string> {
  const r = await run(cmd, args, env, timeoutMs);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.code}:\n${r.stderr.slice(-4000)}${r.stdout.slice(-2000)}`);
  return r.stdout;
}

/**
 * While `docker compose up` runs: the output of every container of the project, kept after the
 * container is gone (testcontainers removes everything when up fails), so a failure says why.
 */
function collectLogs(project: string): { text(): string; stop(): void } {
  const lines: string[] = [];
  const children: ChildProcess[] = [];
  const events = spawn(
    'docker',
    ['events', '--filter', `label=com.docker.compose.project=${project}`, '--filter', 'type=container', '--filter', 'event=start', '--filter', 'event=die',
      '--format', '{{.Action}} {{.ID}} {{index .Actor.Attributes "name"}} {{index .Actor.Attributes "exitCode"}}'],
    { stdio: ['ignore', 'pipe', 'ignore'] },
  );
  children.push(events);
  let pending = '';
  events.stdout!.on('data', (chunk: Buffer) => {
    pending += chunk.toString();
    let nl: number;
    while ((nl = pending.indexOf('\n')) !== -1) {
      const [action, id, name, exitCode] = pending.slice(0, nl).split(' ');
      pending = pending.slice(nl + 1);
      if (action === 'die') {
        lines.push(`${name}| (exited with code ${exitCode})`);
      } else if (action === 'start' && id) {
        const logs = spawn('docker', ['logs', '--follow', id], { stdio: ['ignore', 'pipe', 'pipe'] });
        children.push(logs);
        const add = (d: Buffer): void => void lines.push(...d.toString().split('\n').filter(Boolean).map((l) => `${name}| ${l}`));
        logs.stdout!.on('data', add);
        logs.stderr!.on('data', add);
      }
    }
  });
  return {
    text: () => lines.slice(-150).join('\n'),
    stop: () => {
      for (const child of children) if (child.exitCode === null) child.kill();
    },
  };
}

/** GET on a new connection (or on `agent`'s); resolves with status, X-Backend-Id and body. */
function get(port: number, urlPath: string, agent?: http.Agent): Promise<{ status: number; backend: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, agent: agent ?? false, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, backend: String(res.headers['x-backend-id'] ?? ''), body }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${urlPath}: no answer within 10 s`)));
    req.on('error', reject);
  });
}

// Run inside a container with `node -e`: its processes (pid, ppid, command line, socket inodes)
// and its network namespace's established TCP connections on port 8080 (the proxy's listener).
const PROCFS_SCRIPT = `
const fs = require('fs');
const procs = [];
for (const p of fs.readdirSync('/proc')) {
  if (!/^\\d+$/.test(p) || p === String(process.pid)) continue;
  let cmd, stat;
  try { cmd = fs.readFileSync('/proc/' + p + '/cmdline', 'utf8').split('\\0').join(' ').trim(); stat = fs.readFileSync('/proc/' + p + '/stat', 'utf8'); } catch { continue; }
  const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  const inodes = [];
  try {
    for (const fd of fs.readdirSync('/proc/' + p + '/fd')) {
      try { const m = /^socket:\\[(\\d+)\\]$/.exec(fs.readlinkSync('/proc/' + p + '/fd/' + fd)); if (m) inodes.push(Number(m[1])); } catch {}
    }
  } catch {}
  procs.push({ pid: Number(p), ppid, cmd, inodes });
}
const established8080 = [];
for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
  for (const line of fs.readFileSync(f, 'utf8').trim().split('\\n').slice(1)) {
    const c = line.trim().split(/\\s+/);
    if (c[1].endsWith(':1F90') && c[3] === '01') established8080.push(Number(c[9]));
  }
}
console.log(JSON.stringify({ procs, established8080 }));
`;

interface ProcView {
  procs: Array<{ pid: number; ppid: number; cmd: string; inodes: number[] }>;
  established8080: number[];
}

async function execIn(container: StartedTestContainer, command: string[]): Promise<string> {
  const r = await container.exec(command);
  if (r.exitCode !== 0) throw new Error(`${command.join(' ').slice(0, 80)} in ${container.getName()} exited ${r.exitCode}: ${r.output}`);
  return r.stdout;
}

async function procView(container: StartedTestContainer): Promise<ProcView> {
  return JSON.parse(await execIn(container, ['node', '-e', PROCFS_SCRIPT])) as ProcView;
}

/** Node processes running the handoff CLI (not docker-init, whose command line contains theirs). */
const isHandoff = (cmd: string, role: 'master' | 'worker'): boolean =>
  /^(\S*\/)?node\s+\S*dist\/proxy\/cli\.js\b/.test(cmd) && / worker( |$)/.test(cmd) === (role === 'worker');

/** The master (the proxy command, not a worker) and its children, in the proxy container. */
function masterAndWorkers(view: ProcView): { master: number; workers: number[] } {
  const master = view.procs.find((p) => isHandoff(p.cmd, 'master'));
  assert.ok(master, `no master process in the proxy container: ${JSON.stringify(view.procs.map((p) => p.cmd))}`);
  return { master: master.pid, workers: view.procs.filter((p) => p.ppid === master.pid).map((p) => p.pid).sort((a, b) => a - b) };
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('the Docker lab (docker-compose.yml, built and run with testcontainers)', { timeout: 900_000 }, () => {
  let composeEnv: NodeJS.ProcessEnv;
  let env: StartedDockerComposeEnvironment | null = null;
  let proxy: StartedTestContainer;
  let workers: StartedTestContainer;
  let port: number;
  let reportsDir: string;
  let configDir: string;
  let tornDown = false;

  const compose = (args: string[], timeoutMs?: number): Promise<Run> => run('docker', ['compose', '-p', PROJECT, ...args], composeEnv, timeoutMs);
  /** ./lab, for this run's project (COMPOSE_PROJECT_NAME); fails the test when it fails. */
  const lab = async (args: string[], timeoutMs = 120_000): Promise<string> => {
    const r = await run(LAB, args, composeEnv, timeoutMs);
    assert.equal(r.code, 0, `./lab ${args.join(' ')} exited ${r.code}:\n${r.stderr.slice(-3000)}\n${r.stdout.slice(-3000)}`);
    return r.stdout;
  };

  async function teardown(): Promise<void> {
    if (tornDown) return;
    tornDown = true;
    if (env) {
      await env.down({ removeVolumes: true, timeout: 20_000 }).catch(() => undefined);
      env = null;
    }
    // Also whatever the testcontainers environment did not know about (the profiles), and the images.
    await compose(['--profile', 'loadtest', '--profile', 'debug', 'down', '--volumes', '--remove-orphans', '--rmi', 'local', '--timeout', '20']);
    await run('docker', ['image', 'rm', ...imagesOf(PROJECT)]);
    for (const dir of [reportsDir, configDir]) if (dir) fs.rmSync(dir, { recursive: true, force: true });
  }

  before(async () => {
    const info = await run('docker', ['info', '--format', '{{.ServerVersion}}'], {}, 30_000);
    if (info.code !== 0) {
      throw new Error(
        `The Docker lab suite needs a Docker engine, and none is reachable (docker info: ${(info.stderr || info.stdout).trim()}). ` +
          'Start one (.ci/run does on a fresh CI machine).',
      );
    }
    const composeVersion = await run('docker', ['compose', 'version', '--short'], {}, 30_000);
    if (composeVersion.code !== 0) throw new Error(`The Docker lab suite needs compose v2 (docker compose): ${composeVersion.stderr.trim()}`);

    // The proxy reads config/ from a per-run copy, which the reload test edits.
    configDir = fs.mkdtempSync(path.join(os.tmpdir(), 'handoff-lab-config-'));
    fs.cpSync(path.join(ROOT, 'config'), configDir, { recursive: true });
    fs.chmodSync(configDir, 0o755); // read by the node user (uid 1000) in the proxy container
    composeEnv = {
      // Any free host ports (on loopback: the default bind): a lab already running is left alone.
      HANDOFF_PORT: '',
      HANDOFF_STATUS_PORT: '',
      HANDOFF_CONFIG_DIR: configDir,
      COMPOSE_PROJECT_NAME: PROJECT,
    };
    if (!process.env.NODE_IMAGE && (await run('docker', ['image', 'inspect', LOCAL_BASE_IMAGE], {}, 30_000)).code === 0) {
      composeEnv.NODE_IMAGE = LOCAL_BASE_IMAGE;
    }
    reportsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'handoff-lab-reports-'));
    fs.chmodSync(reportsDir, 0o777); // the loadtest container writes as uid 1000
    composeEnv.LOADTEST_REPORTS = reportsDir;

    // Every service's image, the profiles' (loadtest, debug) included, named after the project.
    await mustRun('docker', ['compose', '-p', PROJECT, '--profile', 'loadtest', '--profile', 'debug', 'build'], composeEnv, 900_000);

    // Lazily, after the env vars above are set.
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const tc = require('testcontainers') as typeof import('testcontainers');
    const logs = collectLogs(PROJECT);
    try {
      env = await new tc.DockerComposeEnvironment(ROOT, 'docker-compose.yml')
        .withProjectName(PROJECT)
        .withEnvironment(composeEnv as Record<string, string>)
        .withDefaultWaitStrategy(tc.Wait.forHealthCheck())
        .withStartupTimeout(120_000)
        .up(['backend', 'proxy', 'workers']);
    } catch (err) {
      throw new Error(`docker compose up failed: ${(err as Error).message}\n--- container output ---\n${logs.text()}`);
    } finally {
      logs.stop();
    }
    proxy = env.getContainer('proxy-1');
    workers = env.getContainer('workers-1');
    port = proxy.getMappedPort(8080);
  });

  after(teardown);

  it('balances requests through the proxy over all three backend replicas', async () => {
    const ids = (await compose(['ps', '-q', 'backend'])).stdout.trim().split('\n').filter(Boolean);
    assert.equal(ids.length, 3, 'three backend replicas run');
    // The backend's default id is backend-<hostname>-<port>, and a container's hostname is its short id.
    const expected = new Set(ids.map((id) => `backend-${id.slice(0, 12)}-3000`));
    const seen = new Map<string, number>();
    for (let i = 0; i < 30; i++) {
      const r = await get(port, '/');
      assert.equal(r.status, 200);
      assert.equal(r.body, `hello from ${r.backend}\n`);
      seen.set(r.backend, (seen.get(r.backend) ?? 0) + 1);
    }
    assert.deepEqual(new Set(seen.keys()), expected, `answers came from ${JSON.stringify([...seen])}`);
  });

  it('spreads traffic over five backends within seconds of --scale backend=5, and scaling back to 3 fails no GET, without a reload', async (t) => {
    const statusPort = Number((await compose(['port', 'proxy', '8081'])).stdout.trim().split(':')[1]);
    const reloads = async () => (JSON.parse((await get(statusPort, '/status.json')).body) as { counters: { reloads: number } }).counters.reloads;
    const reloadsBefore = await reloads();
    const backendIds = async () => new Set((await compose(['ps', '-q', 'backend'])).stdout.trim().split('\n').filter(Boolean).map((id) => `backend-${id.slice(0, 12)}-3000`));
    const scale = async (n: number) => {
      const r = await compose(['up', '-d', '--no-deps', '--no-recreate', '--wait', '--scale', `backend=${n}`, 'backend'], 120_000);
      assert.equal(r.code, 0, `scaling to ${n}: ${r.stderr}`);
    };

    await scale(5);
    const five = await backendIds();
    assert.equal(five.size, 5);
    const scaledAt = Date.now();
    // The master looks `backend` up every 2 s; a new replica serves once one check (every 1 s) passes.
    await waitFor('all five replicas to answer', async () => {
      const seen = new Set<string>();
      for (let i = 0; i < 30; i++) seen.add((await get(port, '/')).backend);
      return [...five].every((id) => seen.has(id)) ? true : undefined;
    }, 15_000);
    const spreadAfter = Date.now() - scaledAt;

    // Scale back under load: two clients, one GET after another, until the two extra replicas are gone.
    const results: { status: number; ms: number }[] = [];
    let loading = true;
    const deadline = Date.now() + 90_000;
    const client = async () => {
      while (loading && Date.now() < deadline) {
        const start = Date.now();
        const r = await get(port, '/').catch(() => ({ status: 0 }));
        results.push({ status: r.status, ms: Date.now() - start });
      }
    };
    const clients = [client(), client()];
    await scale(3);
    const three = await backendIds();
    await waitFor('only the remaining three to answer', async () => {
      const seen = new Set<string>();
      for (let i = 0; i < 12; i++) seen.add((await get(port, '/')).backend);
      return [...seen].every((id) => three.has(id)) ? true : undefined;
    }, 15_000);
    loading = false;
    await Promise.all(clients);
    const failed = results.filter((r) => r.status !== 200).length;
    t.diagnostic(`five answered ${spreadAfter} ms after the scale-up; scaling down: ${results.length} GETs, ${failed} failed, longest ${Math.max(...results.map((r) => r.ms))} ms`);
    assert.equal(failed, 0, 'no GET failed while two replicas went away');
    assert.ok(spreadAfter < 10_000, `all five answered within 10 s (${spreadAfter} ms)`);
    assert.equal(await reloads(), reloadsBefore, 'no reload');
  });

  it('takes a stopped backend out within its fall checks and back within its rise checks, under load, and fails no GET', async (t) => {
    const statusPort = Number((await compose(['port', 'proxy', '8081'])).stdout.trim().split(':')[1]);
    const healthOf = async (address: string) => {
      const status = JSON.parse((await get(statusPort, '/status.json')).body) as { upstreams: { servers: { address: string; health: { state: string } | null }[] }[] };
      return status.upstreams[0]!.servers.find((s) => s.address === address)?.health?.state;
    };
    const victim = (await compose(['ps', '-q', 'backend'])).stdout.trim().split('\n')[0]!;
    const victimId = `backend-${victim.slice(0, 12)}-3000`;
    const ip = (await run('docker', ['inspect', '-f', '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}', victim])).stdout.trim();

    const results: { status: number; ms: number; backend: string }[] = [];
    let loading = true;
    const deadline = Date.now() + 90_000;
    const client = async () => {
      while (loading && Date.now() < deadline) {
        const start = Date.now();
        const r = await get(port, '/').catch(() => ({ status: 0, backend: '' }));
        results.push({ status: r.status, ms: Date.now() - start, backend: r.backend });
      }
    };
    const clients = [client(), client(), client(), client()];
    await waitFor('the load to reach the victim', async () => (results.some((r) => r.backend === victimId) ? true : undefined), 10_000);
    const stoppedAt = Date.now();
    assert.equal((await run('docker', ['stop', '-t', '5', victim], composeEnv, 60_000)).code, 0);
    await waitFor('the stopped backend to be out', async () => ((await healthOf(`${ip}:3000`)) !== 'up' ? true : undefined), 20_000);
    const outAfter = Date.now() - stoppedAt;
    const startedAt = Date.now();
    const from = results.length;
    assert.equal((await run('docker', ['start', victim], composeEnv, 60_000)).code, 0);
    await waitFor('the restarted backend to get requests', async () => (results.slice(from).some((r) => r.backend === victimId) ? true : undefined), 30_000);
    const backAfter = Date.now() - startedAt;
    loading = false;
    await Promise.all(clients);
    const failed = results.filter((r) => r.status !== 200).length;
    const longest = Math.max(...results.map((r) => r.ms));
    t.diagnostic(`4 clients, ${results.length} GETs, ${failed} failed, longest ${longest} ms; out ${outAfter} ms after docker stop began, serving again ${backAfter} ms after docker start began`);
    assert.equal(failed, 0);
  });

  it('shares the handoff directory (master.sock, config.json) with the workers container through a named volume', async () => {
    const list = `const fs = require('fs'); console.log(JSON.stringify(fs.readdirSync('/run/handoff').map((n) => { const s = fs.statSync('/run/handoff/' + n); return { n, socket: s.isSocket(), file: s.isFile(), uid: s.uid, mode: s.mode & 0o777 }; })))`;
    for (const container of [proxy, workers]) {
      const entries = JSON.parse(await execIn(container, ['node', '-e', list])) as Array<{ n: string; socket: boolean; file: boolean; uid: number; mode: number }>;
      const sock = entries.find((e) => e.n === 'master.sock');
      const config = entries.find((e) => e.n === 'config.json');
      assert.ok(sock?.socket, `master.sock is a socket in ${container.getName()}: ${JSON.stringify(entries)}`);
      assert.ok(config?.file, `config.json is there in ${container.getName()}`);
      assert.equal(sock.uid, 1000, 'owned by the node user');
      assert.equal(config.mode, 0o600);
    }
    // The published config has the backend name resolved to its three addresses, as nginx does.
    const published = JSON.parse(await execIn(workers, ['cat', '/run/handoff/config.json'])) as { upstreams: Record<string, { servers: Array<{ host: string }> }> };
    assert.equal(published.upstreams.backend?.servers.length, 3);
    const volumes = (await run('docker', ['volume', 'ls', '-q', '--filter', `label=com.docker.compose.project=${PROJECT}`])).stdout.trim().split('\n');
    assert.deepEqual(volumes, [`${PROJECT}_handoff-sockets`]);
  });

  it('has the workers container serve connections accepted in the proxy container', async () => {
    // Keep-alive connections opened at once: the master spreads them over its 3 registered workers
    // (2 in the proxy container, 1 in the workers container). /delay keeps each busy meanwhile.
    const agent = new http.Agent({ keepAlive: true, maxSockets: 12 });
    try {
      let held: number[] = [];
      let marker = '';
      for (let round = 0; round < 3 && held.length === 0; round++) {
        marker = `lab-${RUN_ID}-${round}`;
        const first = await Promise.all(Array.from({ length: 12 }, () => get(port, `/delay?ms=200&probe=${marker}`, agent)));
        assert.ok(first.every((r) => r.status === 200));
        const proxyView = await procView(proxy);
        const workersView = await procView(workers);
        const accepted = new Set(proxyView.established8080);
        const worker = workersView.procs.find((p) => isHandoff(p.cmd, 'worker'));
        assert.ok(worker, `a worker process runs in the workers container: ${JSON.stringify(workersView.procs.map((p) => p.cmd))}`);
        // Socket inodes are global: the same inode in both views is the same TCP connection, one
        // that the proxy container's kernel namespace accepted on :8080, held by the other container.
        held = worker.inodes.filter((i) => accepted.has(i));
      }
      assert.ok(held.length > 0, 'the workers container holds client connections accepted on the proxy port');
      // And it serves them: every pooled connection (those it holds included) answers again.
      const again = await Promise.all(Array.from({ length: 12 }, () => get(port, '/', agent)));
      assert.ok(again.every((r) => r.status === 200));
      // Its access log (config/docker.json: accessLog stdout) has the requests it served.
      const line = new RegExp(`"GET /delay\\?ms=200&probe=${marker} HTTP/1\\.1" 200 `);
      await waitFor(
        "the request in the workers container's access log",
        async () => (line.test((await compose(['logs', '--no-color', '--no-log-prefix', 'workers'])).stdout) ? true : undefined),
        5_000,
      );
    } finally {
      agent.destroy();
    }
  });

  it('publishes the status listener (metrics, status.json) on loopback, and ./lab status reads it', async () => {
    for (const [containerPort, what] of [[8080, 'the proxy'], [8081, 'the status listener']] as const) {
      const published = (await compose(['port', 'proxy', String(containerPort)])).stdout.trim();
      assert.match(published, /^127\.0\.0\.1:\d+$/, `${what} is published on loopback by default`);
    }
    const statusPort = Number((await compose(['port', 'proxy', '8081'])).stdout.trim().split(':')[1]);
    type Status = { master: { pid: number; host: string }; workers: Array<{ id: string; host: string; origin: string; state: string }> };
    const status = await waitFor('2 workers of its own and the one of the workers container, serving', async () => {
      const s = JSON.parse((await get(statusPort, '/status.json')).body) as Status;
      return s.workers.filter((w) => w.state === 'serving').length === 3 ? s : undefined;
    }, 30_000);
    const serving = status.workers.filter((w) => w.state === 'serving');
    assert.deepEqual(serving.map((w) => w.origin).sort(), ['joined', 'spawned', 'spawned']);
    const joined = serving.find((w) => w.origin === 'joined')!;
    assert.notEqual(joined.host, status.master.host, "the joined worker names its own container's host");
    assert.match((await get(statusPort, '/metrics')).body, /^handoff_connections_accepted_total \d+$/m);
    const table = await lab(['status']);
    assert.match(table, new RegExp(`^master pid ${status.master.pid} on ${status.master.host}, `, 'm'));
    assert.match(table, new RegExp(`^${joined.id} +\\d+ +${joined.host.slice(0, 12)}`, 'm'), table);
  });

  it('takes an edit of the mounted config on ./lab reload, and keeps the old config when the new one is bad', async () => {
    const file = path.join(configDir, 'docker.json');
    const original = fs.readFileSync(file, 'utf8');
    const workersInProxy = async (n: number): Promise<void> => {
      await waitFor(`${n} workers of the master in the proxy container`, async () => (masterAndWorkers(await procView(proxy)).workers.length === n ? true : undefined), 20_000);
    };
    const master = masterAndWorkers(await procView(proxy)).master;
    try {
      fs.writeFileSync(file, original.replace(/"workers": 2,/, '"workers": 3,'));
      assert.match(await lab(['reload']), /^reloaded: reload #\d+/m);
      await workersInProxy(3);

      fs.writeFileSync(file, original.replace(/"workers": 2,/, '"workers": "many",'));
      const bad = await run(LAB, ['reload'], composeEnv, 60_000);
      assert.equal(bad.code, 1, `a rejected reload fails: ${bad.stdout}${bad.stderr}`);
      assert.match(bad.stderr, /rejected the new config[\s\S]*workers/);
      assert.equal((await get(port, '/')).status, 200, 'still serving on the old config');
    } finally {
      fs.writeFileSync(file, original);
    }
    await lab(['reload']);
    await workersInProxy(2);
    assert.equal(masterAndWorkers(await procView(proxy)).master, master, 'reloads, not restarts');
  });

  it("keeps the proxy's own health checks (GET /health every 2 s) out of the access log", async () => {
    // By now the health check has passed through the proxy many times; ordinary requests are logged.
    await get(port, '/?not-a-health-check');
    const logs = await waitFor(
      'the ordinary request in the access log',
      async () => {
        const out = (await compose(['logs', '--no-color', '--no-log-prefix', 'proxy', 'workers'])).stdout;
        return /"GET \/\?not-a-health-check HTTP\/1\.1" 200 /.test(out) ? out : undefined;
      },
      5_000,
    );
    assert.doesNotMatch(logs, /"GET \/health HTTP\/1\.1"/);
  });

  it('traces the master with ./lab trace: the fd accept4 returns is the one sendmsg passes to a worker', async () => {
    const out = await lab(['trace', '2']);
    assert.match(out, /^response: HTTP\/1\.1 200 OK$/m);
    const accepted = [...out.matchAll(/accept4\(\d+, .*\) = (\d+)$/gm)].map((m) => m[1]);
    const passed = [...out.matchAll(/sendmsg\(.*cmsg_type=SCM_RIGHTS, cmsg_data=\[(\d+)\]/gm)].map((m) => m[1]);
    assert.ok(accepted.length > 0, `an accept4 in the trace:\n${out}`);
    assert.ok(passed.some((fd) => accepted.includes(fd)), `an accepted fd handed over with SCM_RIGHTS:\n${out}`);
    assert.match(out, /close\(\d+\)\s+= 0/, 'and closed by the master once the worker has it');
  });

  it('shows with ./lab sockets which process, in which container, holds each client connection', async () => {
    // After the reloads above, the workers container's worker has rejoined (it quits with its generation).
    const statusPort = Number((await compose(['port', 'proxy', '8081'])).stdout.trim().split(':')[1]);
    await waitFor('3 current workers', async () => {
      const s = JSON.parse((await get(statusPort, '/status.json')).body) as { workers: Array<{ state: string }> };
      return s.workers.filter((w) => w.state === 'serving').length === 3 ? true : undefined;
    }, 60_000);
    // Six connections held open at once: round-robin gives each of the 3 workers some.
    const agent = new http.Agent({ keepAlive: true, maxSockets: 6 });
    try {
      const answers = await Promise.all(Array.from({ length: 6 }, () => get(port, '/delay?ms=300', agent)));
      assert.ok(answers.every((r) => r.status === 200));
      const out = await lab(['sockets']);
      const rows = out.split('\n').filter((l) => /:8080 .* inode \d+ /.test(l));
      assert.ok(rows.filter((l) => /proxy: pid \d+ fd \d+ \(worker\)/.test(l)).length >= 1, `held by a worker in the proxy container:\n${out}`);
      assert.ok(rows.filter((l) => /workers-1: pid \d+ fd \d+ /.test(l)).length >= 1, `held by the worker in the workers container:\n${out}`);
    } finally {
      agent.destroy();
    }
  });

  it('names containers and images after the project, so a second clone beside it shares nothing', async () => {
    const other = `${PROJECT}-b`;
    const otherEnv = { ...composeEnv, COMPOSE_PROJECT_NAME: other };
    const ours = (await compose(['ps', '-q'])).stdout.trim().split('\n').sort();
    try {
      await mustRun('docker', ['compose', '-p', other, 'up', '-d', '--wait', '--no-deps', '--scale', 'backend=1', 'backend'], otherEnv, 300_000);
      const theirs = (await mustRun('docker', ['compose', '-p', other, 'ps', '--format', '{{.Name}} {{.Image}}'], otherEnv)).trim();
      assert.equal(theirs, `${other}-backend-1 ${other}-backend`);
    } finally {
      await run('docker', ['compose', '-p', other, 'down', '--volumes', '--rmi', 'local', '--timeout', '5'], otherEnv);
    }
    assert.deepEqual((await compose(['ps', '-q'])).stdout.trim().split('\n').sort(), ours, 'our containers were left alone');
    assert.equal((await get(port, '/')).status, 200);
    for (const image of imagesOf(PROJECT)) assert.equal((await run('docker', ['image', 'inspect', image])).code, 0, `${image} is still there`);
    assert.equal((await run('docker', ['images', '-q', '--filter', `reference=${other}-*`])).stdout.trim(), '');
  });

  it('keeps serving when ./lab kill-worker kills a worker process in the proxy container, and the master replaces it', async () => {
    const before = masterAndWorkers(await procView(proxy));
    assert.equal(before.workers.length, 2, `the master has 2 workers: ${JSON.stringify(before)}`);
    const victim = before.workers[1]!;
    const out = await lab(['kill-worker', String(victim)]);
    assert.match(out, new RegExp(`killed worker ${victim} \\(master ${before.master} `));
    assert.match(out, /the master replaced it/);
    for (let i = 0; i < 30; i++) {
      const r = await get(port, '/');
      assert.equal(r.status, 200, `request ${i} after killing worker ${victim}`);
    }
    const after = await waitFor(
      'the master to replace the killed worker',
      async () => {
        const now = masterAndWorkers(await procView(proxy));
        return now.workers.length === 2 && !now.workers.includes(victim) ? now : undefined;
      },
      15_000,
    );
    assert.equal(after.master, before.master, 'the master itself stayed');
  });

  it('runs the load test service (./lab load) for a few seconds with no failed request', async () => {
    const stdout = await lab(['load', '--duration', '2', '--connections', '8', '--delay-ms', '50'], 180_000);
    assert.match(stdout, /What the proxy costs/);
    const report = JSON.parse(fs.readFileSync(path.join(reportsDir, 'report.json'), 'utf8')) as {
      results: Array<{ scenario: string; target: string; ok: number; errors: number; non2xx: number; workers?: Array<{ id: string; origin: string; requests: number; share: number }> }>;
      totals: { failures: number };
    };
    assert.equal(report.totals.failures, 0);
    assert.equal(report.results.length, 8, 'four scenarios, each against the proxy and directly');
    for (const res of report.results) {
      assert.ok(res.ok > 0, `${res.scenario} → ${res.target} got answers`);
      assert.equal(res.errors + res.non2xx, 0, `${res.scenario} → ${res.target}`);
      if (res.target !== 'proxy') continue;
      // The spread over workers, read from the master's status listener: the workers together
      // served every request the run got answered (the master hands each connection to one).
      const spread = res.workers ?? [];
      assert.ok(spread.length >= 2, `${res.scenario}: the spread over workers is in the report: ${JSON.stringify(spread)}`);
      assert.ok(spread.reduce((n, w) => n + w.requests, 0) >= res.ok, `${res.scenario}: workers served at least the ${res.ok} answered requests`);
      assert.ok(Math.abs(spread.reduce((n, w) => n + w.share, 0) - 1) < 0.01);
    }
    const html = fs.readFileSync(path.join(reportsDir, 'report.html'), 'utf8');
    assert.match(html, /<svg[^>]*>/);
    assert.doesNotMatch(html, /<(script|link|img|iframe|object)\b|\b(src|href)\s*=|@import|url\(/i, 'self-contained: no scripts, nothing loaded from elsewhere');
  });

  it('tears everything down, leaving no container, network, volume or image of this run', async () => {
    await teardown();
    const label = `label=com.docker.compose.project=${PROJECT}`;
    const left = {
      containers: (await mustRun('docker', ['ps', '-aq', '--filter', label])).trim(),
      networks: (await mustRun('docker', ['network', 'ls', '-q', '--filter', label])).trim(),
      volumes: (await mustRun('docker', ['volume', 'ls', '-q', '--filter', label])).trim(),
      images: (await mustRun('docker', ['images', '-q', '--filter', `reference=${PROJECT}-*`])).trim(),
    };
    assert.deepEqual(left, { containers: '', networks: '', volumes: '', images: '' });
  });
});
