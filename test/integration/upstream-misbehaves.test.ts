// Upstreams that break HTTP in the response: each client still gets its own answer or a 502, no
// client gets bytes of another exchange, and the worker lives on. Found by a review of the
// response side; nginx is the reference for what a proxy does with each.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { rawConversation, rawExchange, request } from '../helpers/http-client';
import { startProxy, type RunningProxy } from '../helpers/proxy';
import { startRawUpstream, type RawUpstream } from '../helpers/raw-upstream';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('an upstream that misbehaves in its response', () => {
  let upstream: RawUpstream;
  let proxy: RunningProxy;
  /** Connections on which the upstream has started sending bytes nobody asked for. */
  const poisoned = new Set<number>();

  before(async () => {
    upstream = await startRawUpstream((req, socket) => {
      if (poisoned.has(req.conn)) {
        // It goes on with what it began while idle: a whole response before the real one.
        socket.write('HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nEVIL');
      }
      if (req.path === '/stray-after') {
        socket.write('HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na');
        setTimeout(() => {
          poisoned.add(req.conn);
          socket.write('junk\r\n');
        }, 50);
      } else if (req.path === '/control-in-reason') {
        socket.write('HTTP/1.1 200 O\x01K\r\nContent-Length: 2\r\n\r\nok');
      } else if (req.path === '/slow') {
        socket.write('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc');
        setTimeout(() => socket.write('defghij'), 300);
      } else if (req.path === '/switches') {
        socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n');
      } else if (req.path === '/status-099') {
        socket.write('HTTP/1.1 099 X\r\nContent-Length: 2\r\n\r\nok');
      } else {
        socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${req.path.length + 5}\r\n\r\nresp ${req.path}`);
      }
    });
    proxy = await startProxy({ workers: 1, upstreams: { raw: { servers: [`127.0.0.1:${upstream.port}`], keepalive: 4 } }, timeouts: { read: '2s' } });
  });
  after(async () => {
    await proxy?.stop();
    await upstream?.close();
  });

  it('bytes it sends on an idle pooled connection never reach the next client (the connection is closed)', async () => {
    assert.equal((await request(`${proxy.url}/stray-after`)).body.toString(), 'a');
    await sleep(150); // the stray bytes arrive while the connection idles in the pool
    const next = await request(`${proxy.url}/b`);
    assert.equal(next.body.toString(), 'resp /b', 'the next client got its own answer, not the rest of the stray bytes');
  });

  it("a control byte in its reason phrase ends neither the worker nor another client's response", async () => {
    const [worker] = proxy.workerPids();
    const victim = request(`${proxy.url}/slow`);
    await sleep(100);
    const raw = await rawExchange(proxy.port, 'GET /control-in-reason HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    // The byte is passed on, as nginx does.
    assert.match(raw, /^HTTP\/1\.1 200 O\x01K\r\n/);
    assert.equal((await victim).body.toString(), 'abcdefghij', 'the other response completed');
    assert.deepEqual(proxy.workerPids(), [worker], 'the same worker');
  });

  it('a 101 to a request that did not ask to upgrade gets 502 at once', async () => {
    const started = Date.now();
    const raw = await rawConversation(proxy.port, async (s) => void s.write('GET /switches HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'), 4_000);
    assert.match(raw, /^HTTP\/1\.1 502 /);
    assert.ok(Date.now() - started < 1_500, `answered after ${Date.now() - started} ms (read timeout: 2 s)`);
  });

  it('a status below 100 gets 502 at once', async () => {
    const started = Date.now();
    const raw = await rawConversation(proxy.port, async (s) => void s.write('GET /status-099 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'), 4_000);
    assert.match(raw, /^HTTP\/1\.1 502 /);
    assert.ok(Date.now() - started < 1_500, `answered after ${Date.now() - started} ms (read timeout: 2 s)`);
  });
});
