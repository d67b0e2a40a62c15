// Every handoff transport serves the same traffic: seqpacket (the addon, the default), ipc
// (Node's handle passing) and reuseport (workers accept themselves; no master in the path).
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { startBackend, type RunningBackend } from '../helpers/backend';
import { request } from '../helpers/http-client';
import { socketInodes, TCP_ESTABLISHED, TCP_LISTEN, tcpSockets } from '../helpers/procfs';
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
});
