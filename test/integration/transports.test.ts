// Every handoff transport serves the same traffic: seqpacket (the addon, the default), ipc
// (Node's handle passing) and reuseport (workers accept themselves; no master in the path).
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { startBackend, type RunningBackend } from '../helpers/backend';
import { deadPort, request } from '../helpers/http-client';
import { socketInodes, TCP_ESTABLISHED, TCP_LISTEN, tcpSockets, voluntarySwitches, waitFor } from '../helpers/procfs';
import { startProxy } from '../helpers/proxy';

describe('handoff transports', () => {
  let backend: RunningBackend;
  before(async () => {
    backend = await startBackend({ id: 't1' });
  });
  after(async () => backend?.stop());

  for (const transport of ['seqpacket', 'ipc', 'reuseport'] as const) {
    it(`${transport}: serves new connections and keep-alive ones, spread over both workers`, async () => {
      const proxy = await startProxy({ workers: 2, handoff: { transport }, upstreams: { app: { servers: [`127.0.0.1:${backend.port}`] } } });
      try {
        const replies = await Promise.all(Array.from({ length: 20 }, () => request(`${proxy.url}/`)));
        assert.deepEqual(replies.map((r) => r.status), Array(20).fill(200));
        // Hold 16 connections open and see which processes own them.
        const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
        const held = await Promise.all(Array.from({ length: 16 }, () => request(`${proxy.url}/delay?ms=100`, { agent })));
        const workers = proxy.workerPids();
        const owners = new Set<number>();
        for (const reply of held) {
          const server = tcpSockets().find((s) => s.localPort === proxy.port && s.remotePort === reply.localPort && s.state === TCP_ESTABLISHED);
          const owner = server && workers.find((w) => socketInodes(w).has(server.inode));
          if (owner) owners.add(owner);
          assert.ok(server && !socketInodes(proxy.pid).has(server.inode), 'the master holds no client connection');
        }
        agent.destroy();
        assert.equal(owners.size, 2, `both workers serve connections (${transport})`);
        const listeners = tcpSockets().filter((s) => s.localPort === proxy.port && s.state === TCP_LISTEN);
        const masterListens = listeners.some((s) => socketInodes(proxy.pid).has(s.inode));
        assert.equal(masterListens, transport !== 'reuseport', 'only reuseport leaves the master out of the path');
      } finally {
        await proxy.stop();
      }
    });
  }

  it('reuseport: the master\'s per-worker connection counts follow opens and closes (the report once a second)', async () => {
    const statusPort = await deadPort();
    const proxy = await startProxy({
      workers: 2, handoff: { transport: 'reuseport' }, extra: { status: `127.0.0.1:${statusPort}` },
      upstreams: { app: { servers: [`127.0.0.1:${backend.port}`] } },
    });
    const reported = async (): Promise<number> => {
      const metrics = (await request(`http://127.0.0.1:${statusPort}/metrics`)).body.toString();
      return [...metrics.matchAll(/^handoff_worker_connections\{worker="w\d+",[^}]*\} (\d+)$/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
    };
    const agent = new http.Agent({ keepAlive: true, maxSockets: 6 });
    try {
      await Promise.all(Array.from({ length: 6 }, () => request(`${proxy.url}/delay?ms=50`, { agent })));
      await waitFor('6 open connections in /metrics', async () => (await reported()) === 6);
      agent.destroy(); // closes the 6 idle keep-alive connections: no request is served after this
      await waitFor('0 open connections in /metrics', async () => (await reported()) === 0);
    } finally {
      agent.destroy();
      await proxy.stop();
    }
  });

  it('reuseport: connections that close do not wake the master for each one', async () => {
    const proxy = await startProxy({ workers: 2, handoff: { transport: 'reuseport' }, upstreams: { app: { servers: [`127.0.0.1:${backend.port}`] } } });
    try {
      const before = voluntarySwitches(proxy.pid);
      const started = Date.now();
      // One at a time, a new connection each: every close ends in an event-loop turn of its own.
      for (let i = 0; i < 200; i++) assert.equal((await request(`${proxy.url}/`, { headers: { connection: 'close' } })).status, 200);
      const wakeups = voluntarySwitches(proxy.pid) - before;
      const seconds = (Date.now() - started) / 1000;
      // The once-a-second report from each worker, and the master's own timers: a few per second.
      assert.ok(wakeups < 10 + 10 * seconds, `the master woke ${wakeups} times in ${seconds.toFixed(1)} s for 200 connections`);
    } finally {
      await proxy.stop();
    }
  });

  it('reuseport: a worker at its connection limit leaves the next client in the backlog until one closes', async () => {
    const proxy = await startProxy({
      workers: 1,
      handoff: { transport: 'reuseport' },
      limits: { maxConnectionsPerWorker: 2 },
      upstreams: { app: { servers: [`127.0.0.1:${backend.port}`] } },
    });
    const open = (): Promise<{ socket: net.Socket; answered: Promise<string> }> =>
      new Promise((resolve, reject) => {
        const socket = net.connect(proxy.port, '127.0.0.1', () => {
          socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
          resolve({ socket, answered: new Promise((r) => socket.once('data', (d: Buffer) => r(d.toString('latin1')))) });
        });
        socket.on('error', reject);
      });
    try {
      const a = await open();
      const b = await open();
      assert.match(await a.answered, /^HTTP\/1\.1 200 /);
      assert.match(await b.answered, /^HTTP\/1\.1 200 /);
      const c = await open(); // the kernel completes the handshake; nobody accepts it yet
      const early = await Promise.race([c.answered, new Promise((r) => setTimeout(() => r('nothing yet'), 400))]);
      assert.equal(early, 'nothing yet', 'a third connection is not taken at a limit of 2');
      a.socket.destroy();
      assert.match(await c.answered, /^HTTP\/1\.1 200 /, 'taken once a connection closed');
      b.socket.destroy();
      c.socket.destroy();
    } finally {
      await proxy.stop();
    }
  });
});
