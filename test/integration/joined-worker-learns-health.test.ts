// A worker the master did not spawn (started by hand, or in another container) reads the config
// as it was published, where every server is up; the master tells it, right after it registers,
// which servers its health checks have taken out. Connections alternate between it and the
// spawned worker: none of its requests reaches the server whose checks fail.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { startBackend, type RunningBackend } from '../helpers/backend';
import { request } from '../helpers/http-client';
import { waitFor } from '../helpers/procfs';
import { CLI, startProxy, type RunningProxy } from '../helpers/proxy';
import { startRawUpstream, type RawUpstream } from '../helpers/raw-upstream';

describe('a joined worker learns the servers the checks took out', () => {
  let good: RunningBackend;
  let sick: RawUpstream;
  let proxy: RunningProxy;

  before(async () => {
    good = await startBackend({ id: 'good' });
    sick = await startRawUpstream((req, socket) => {
      if (req.path === '/health') socket.write('HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n');
      else socket.write('HTTP/1.1 200 OK\r\nX-Backend-Id: sick\r\nContent-Length: 4\r\n\r\nsick');
    });
    proxy = await startProxy({
      workers: 1,
      handoff: { policy: 'round-robin' },
      extra: { workerHeader: 'X-Handoff-Worker' },
      upstreams: { u: { servers: [`127.0.0.1:${good.port}`, `127.0.0.1:${sick.port}`], healthCheck: { path: '/health', interval: '200ms', fall: 1 } } },
    });
  });
  after(async () => {
    await proxy?.stop();
    await good?.stop();
    await sick?.close();
  });

  it('joins after the sick server went down, and sends it none of its requests', async () => {
    await waitFor('the sick server to be out', () => proxy.stderr().includes(`upstream server 127.0.0.1:${sick.port} of "u" is down: status 503`), 3_000);
    const worker = spawn(process.execPath, [CLI, 'worker', '--handoff-dir', proxy.handoffDir], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, HANDOFF_LOG_LEVEL: 'info' } });
    let stderr = '';
    worker.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    try {
      await waitFor('the worker to join', () => proxy.stderr().includes('joined (2 registered)'), 5_000);
      const before = sick.requests.filter((r) => r.path !== '/health').length;
      const byWorker = new Map<string, number>();
      for (let i = 0; i < 30; i++) {
        const reply = await request(`${proxy.url}/?i=${i}`);
        assert.equal(reply.status, 200);
        assert.equal(reply.headers['x-backend-id'], 'good');
        const id = String(reply.headers['x-handoff-worker']);
        byWorker.set(id, (byWorker.get(id) ?? 0) + 1);
      }
      assert.ok((byWorker.get('w2') ?? 0) >= 10, `the joined worker (w2) served its share: ${JSON.stringify([...byWorker])}`);
      assert.equal(sick.requests.filter((r) => r.path !== '/health').length, before);
      assert.match(stderr, new RegExp(`upstream server 127\\.0\\.0\\.1:${sick.port} of "u" is down \\(unexpected status\\)`));
    } finally {
      worker.kill('SIGTERM');
      await new Promise((r) => worker.once('exit', r));
    }
  });
});
