// A server the master takes out while a request's connect to it is under way: re-resolution finds
// its address gone (docker compose scaling back). The worker gives the connect up at once and
// the request goes to a server that remains, instead of waiting out timeouts.connect (5 s here)
// first. The server that never completes a handshake is a real listener on loopback whose accept
// queue is full: a process listening with backlog 1, stopped (SIGSTOP) so it never accepts,
// and filled by a few connects of the test's own; further SYNs are dropped, as for a host that
// has vanished.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { startBackend, type RunningBackend } from '../helpers/backend';
import { startDnsServer, type TestDnsServer } from '../helpers/dns-server';
import { request, type Reply } from '../helpers/http-client';
import { waitFor } from '../helpers/procfs';
import { startProxy, type RunningProxy } from '../helpers/proxy';

const LIVE = '127.0.0.2';
const VANISHED = '127.0.0.5';

/** A listener on host:port that never completes another handshake. */
async function startBlackHole(host: string, port: number): Promise<{ close(): void }> {
  const child: ChildProcess = spawn(process.execPath, ['-e', `
    require('net').createServer().listen({ host: '${host}', port: ${port}, backlog: 1 }, () => process.stdout.write('listening\\n'));
  `], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`black hole exited with ${code}`)));
  });
  child.kill('SIGSTOP');
  const fillers: net.Socket[] = [];
  const close = () => {
    for (const s of fillers) s.destroy();
    child.kill('SIGKILL');
    child.kill('SIGCONT');
  };
  // The accept queue takes backlog + 1 before the kernel drops SYNs: fill it, then check.
  for (let i = 0; i < 4; i++) fillers.push(net.connect({ host, port }).on('error', () => {}));
  const hangs = await new Promise<boolean>((resolve) => {
    const probe = net.connect({ host, port });
    const timer = setTimeout(() => { probe.destroy(); resolve(true); }, 300);
    probe.on('connect', () => { clearTimeout(timer); probe.destroy(); resolve(false); });
    probe.on('error', () => { clearTimeout(timer); resolve(false); });
  });
  if (!hangs) {
    close();
    throw new Error('the black hole completed a handshake');
  }
  return { close };
}

describe('a server taken out while a connect to it is under way', () => {
  let dns: TestDnsServer;
  let backend: RunningBackend;
  let hole: { close(): void };
  let proxy: RunningProxy;

  before(async () => {
    dns = await startDnsServer('app.test');
    backend = await startBackend({ host: LIVE, id: LIVE });
    hole = await startBlackHole(VANISHED, backend.port);
    dns.records = [LIVE, VANISHED];
    proxy = await startProxy({
      workers: 1,
      upstreams: { app: { servers: [`app.test:${backend.port}`] } },
      timeouts: { connect: '5s' },
      extra: { resolver: { valid: '200ms', addresses: [dns.address] } },
    });
  });
  after(async () => {
    await proxy?.stop();
    hole?.close();
    await backend?.stop();
    await dns?.close();
  });

  it('re-resolution removes it: the pending request goes to the server that remains at once, not after the connect timeout', async () => {
    // Round robin over two: of two requests, one waits on the vanished server's handshake.
    const started = Date.now();
    const done: (Reply | null)[] = [null, null];
    const replies = [0, 1].map((i) => request(`${proxy.url}/?i=${i}`).then((r) => (done[i] = r)));
    await waitFor('one answered by the live server', () => done.some((r) => r !== null));
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(done.filter((r) => r !== null).length, 1, 'the other waits on the handshake');
    const removedAt = Date.now();
    dns.records = [LIVE];
    const all = await Promise.all(replies);
    const waited = Date.now() - removedAt;
    for (const reply of all) {
      assert.equal(reply.status, 200);
      assert.equal(reply.headers['x-backend-id'], LIVE);
    }
    // The removal reaches the worker within a lookup or two (200 ms each); the connect timeout is 5 s.
    assert.ok(waited < 2_000, `answered ${waited} ms after the removal (${Date.now() - started} ms in all)`);
    assert.match(proxy.stderr(), /ECONNABORTED: upstream server was removed by the master while connecting to upstream/);
    assert.doesNotMatch(proxy.stderr(), /timed out while connecting/);
    // Same master, and it serves on.
    assert.equal((await request(`${proxy.url}/?after`)).status, 200);
  });
});
