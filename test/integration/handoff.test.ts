// The handoff is real: the master accepts on the listening socket, workers own the connections, and a
// worker that dies with connections queued to it loses none of them.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import net from 'node:net';
import { after, afterEach, before, describe, it } from 'node:test';
import { startBackend, type RunningBackend } from '../helpers/backend';
import { request } from '../helpers/http-client';
import { socketInodes, TCP_ESTABLISHED, TCP_LISTEN, tcpSockets, waitFor } from '../helpers/procfs';
import { expectFdsAtBaseline, startProxy, type RunningProxy } from '../helpers/proxy';

/** Opens `n` keep-alive client connections, each with one finished request, and keeps them open. */
async function openConnections(url: string, n: number): Promise<{ agent: http.Agent; ports: number[] }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: n });
  const replies = await Promise.all(Array.from({ length: n }, () => request(`${url}/delay?ms=100`, { agent })));
  return { agent, ports: replies.map((r) => r.localPort) };
}

describe('the handoff', () => {
  let backend: RunningBackend;
  let proxy: RunningProxy | undefined;

  before(async () => {
    backend = await startBackend({ id: 'b1' });
  });
  afterEach(async () => {
    await proxy?.stop();
    proxy = undefined;
  });
  after(async () => backend?.stop());

  it('master owns the listening socket, workers own the accepted connections', async () => {
    proxy = await startProxy({ workers: 2, upstreams: { app: { servers: [`127.0.0.1:${backend.port}`] } } });
    const workers = proxy.workerPids();
    assert.equal(workers.length, 2);
    const listening = tcpSockets().find((s) => s.localPort === proxy!.port && s.state === TCP_LISTEN);
    assert.ok(listening, 'the proxy port is listening');
    assert.ok(socketInodes(proxy.pid).has(listening.inode), 'the master holds the listening socket');
    // Each worker keeps a copy, its lifeboat (LISTENER), to accept on only if the master dies
    // (test/faults/master-killed-workers-keep-serving.test.ts); the connections below still go
    // through the master's accept.
    for (const w of workers) await waitFor(`worker ${w} to hold a copy of the listening socket`, () => socketInodes(w).has(listening.inode));
    assert.equal(fs.statSync(proxy.handoffDir).mode & 0o777, 0o700, 'the handoff directory is private');
    assert.equal(fs.statSync(path.join(proxy.handoffDir, 'master.sock')).mode & 0o777, 0o600, 'the socket is private');
    assert.equal(fs.statSync(path.join(proxy.handoffDir, 'config.json')).mode & 0o777, 0o600, 'the published config is private');

    const { agent, ports } = await openConnections(proxy.url, 8);
    const master = socketInodes(proxy.pid);
    const perWorker = new Map(workers.map((w) => [w, socketInodes(w)]));
    const owners = new Map<number, number>();
    for (const port of new Set(ports)) {
      const accepted = tcpSockets().find((s) => s.localPort === proxy!.port && s.remotePort === port && s.state === TCP_ESTABLISHED);
      assert.ok(accepted, `the server side of client port ${port} exists`);
      assert.ok(!master.has(accepted.inode), 'the master closed its copy after the ack');
      const owner = workers.find((w) => perWorker.get(w)!.has(accepted.inode));
      assert.ok(owner, `a worker owns the connection from client port ${port}`);
      owners.set(owner, (owners.get(owner) ?? 0) + 1);
    }
    agent.destroy();
    assert.equal(owners.size, 2, `connections spread across both workers: ${JSON.stringify([...owners])}`);
  });

  it('round-robin policy alternates workers', async () => {
    proxy = await startProxy({ workers: 2, handoff: { policy: 'round-robin' }, upstreams: { app: { servers: [`127.0.0.1:${backend.port}`] } } });
    const { agent, ports } = await openConnections(proxy.url, 6);
    const workers = proxy.workerPids();
    const counts = workers.map((w) => {
      const mine = socketInodes(w);
      return ports.filter((p) => tcpSockets().some((s) => s.localPort === proxy!.port && s.remotePort === p && mine.has(s.inode))).length;
    });
    agent.destroy();
    assert.deepEqual(counts, [3, 3]);
  });

  it('worker-dies-with-fds-in-flight: its unacknowledged connections are re-sent, none lost', async () => {
    proxy = await startProxy({
      workers: 2,
      handoff: { maxInFlightPerWorker: 4 },
      upstreams: { app: { servers: [`127.0.0.1:${backend.port}`] } },
    });
    const baseline = proxy.fdCounts();
    const [victim] = proxy.workerPids();
    // A stopped worker cannot ack: connections handed to it stay in flight, queued in its channel.
    process.kill(victim, 'SIGSTOP');
    try {
      const clients = Array.from({ length: 12 }, () => request(`${proxy!.url}/`));
      // Give the master time to accept all twelve and hand some to the stopped worker.
      await new Promise((r) => setTimeout(r, 300));
      process.kill(victim, 'SIGKILL');
      const replies = await Promise.all(clients);
      assert.deepEqual(replies.map((r) => r.status), Array(12).fill(200), 'every client was served');
      await waitFor('a replacement worker', () => proxy!.workerPids().length === 2 && !proxy!.workerPids().includes(victim), 5_000);
      await waitFor('the master to say who left', () => /\[warn\].*worker w\d+ \(pid \d+ on .+, spawned\) left: killed by SIGKILL; [1-9]\d* unacknowledged connection\(s\) re-sent/.test(proxy!.stderr()));
      assert.match(proxy.stderr(), new RegExp(`worker w\\d+ \\(pid ${victim} on `));
    } finally {
      try {
        process.kill(victim, 'SIGKILL');
      } catch {
        // already dead
      }
    }
    const masterBaseline = new Map([[proxy.pid, baseline.get(proxy.pid)!]]);
    await expectFdsAtBaseline(proxy, masterBaseline);
  });

  it('keeps accepted connections waiting in the backlog while every worker is full, then serves them', async () => {
    proxy = await startProxy({
      workers: 1,
      handoff: { maxInFlightPerWorker: 2 },
      limits: { maxConnectionsPerWorker: 3 },
      upstreams: { app: { servers: [`127.0.0.1:${backend.port}`] } },
    });
    // Three slow requests fill the worker; the next three must wait, not fail.
    const started = Date.now();
    const replies = await Promise.all(Array.from({ length: 6 }, () => request(`${proxy!.url}/delay?ms=300`)));
    assert.deepEqual(replies.map((r) => r.status), Array(6).fill(200));
    assert.ok(Date.now() - started >= 550, 'the second three waited for the first three to finish');
  });

  it('a full worker that loses a connection is handed the parked one at once (STATUS), with nothing else happening', async () => {
    proxy = await startProxy({
      workers: 1,
      limits: { maxConnectionsPerWorker: 2 },
      upstreams: { app: { servers: [`127.0.0.1:${backend.port}`] } },
    });
    const { agent } = await openConnections(proxy.url, 2);
    // Past the worker's once-a-second report: from here on only a STATUS after a close tells the
    // master that this worker has room again (no request is served, no connection acknowledged).
    await new Promise((r) => setTimeout(r, 1_300));
    const parked = net.connect(proxy.port, '127.0.0.1');
    let got = '';
    const answered = new Promise<string>((resolve, reject) => {
      parked.on('data', (d) => {
        got += d.toString('latin1');
        if (got.includes('\r\n\r\n')) resolve(got);
      });
      parked.on('error', reject);
    });
    parked.write('GET /delay?ms=1 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(got, '', 'the worker is full: the third connection waits in the master');
    agent.destroy(); // the worker now has room for one
    const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('the parked connection was not served within 900 ms')), 900));
    try {
      const head = await Promise.race([answered, timeout]);
      assert.match(head, /^HTTP\/1\.1 200 /);
    } finally {
      parked.destroy();
    }
  });

  it('a worker started by hand joins through the handoff directory', async () => {
    proxy = await startProxy({ workers: 1, upstreams: { app: { servers: [`127.0.0.1:${backend.port}`] } } });
    const { spawn } = await import('node:child_process');
    const { CLI } = await import('../helpers/proxy');
    const extra = spawn(process.execPath, [CLI, 'worker', '--handoff-dir', proxy.handoffDir], { stdio: 'ignore' });
    try {
      await waitFor('the extra worker to register', () => /\(2 registered\)/.test(proxy!.stderr()));
      const { agent } = await openConnections(proxy.url, 6);
      const mine = socketInodes(extra.pid!);
      const served = tcpSockets().filter((s) => s.localPort === proxy!.port && s.state === TCP_ESTABLISHED && mine.has(s.inode));
      agent.destroy();
      assert.ok(served.length > 0, 'the hand-started worker serves connections');
    } finally {
      extra.kill('SIGKILL');
    }
  });

  it('answers a client that connects while no worker is registered yet', async () => {
    proxy = await startProxy({ workers: 1, upstreams: { app: { servers: [`127.0.0.1:${backend.port}`] } } });
    const [worker] = proxy.workerPids();
    process.kill(worker, 'SIGKILL');
    const reply = await request(`${proxy.url}/`);
    assert.equal(reply.status, 200, 'the connection waited for the respawned worker');
    const socket = net.connect(proxy.port, '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    socket.destroy();
  });

  it('a second master on the same handoff dir is refused, naming the first, which keeps serving', async () => {
    proxy = await startProxy({ workers: 1, upstreams: { app: { servers: [`127.0.0.1:${backend.port}`] } } });
    const { spawnSync } = await import('node:child_process');
    const { CLI } = await import('../helpers/proxy');
    // Another port, the same directory: only the directory is in the way.
    const second = spawnSync(process.execPath, [CLI, '-c', proxy.configFile, '--listen', '127.0.0.1:0'], { encoding: 'utf8', timeout: 10_000 });
    assert.equal(second.status, 1, second.stderr);
    assert.match(second.stderr, new RegExp(`handoff dir ${proxy.handoffDir} is in use by the master with pid ${proxy.pid}`));
    assert.ok(fs.existsSync(path.join(proxy.handoffDir, 'master.sock')), "the first master's socket is still there");
    assert.equal((await request(`${proxy.url}/`)).status, 200);
  });
});
