// An upstream that stops reading a request body: the proxy stops reading the client too (it does
// not buffer what it cannot pass on). That wait is the upstream's, as in nginx: the send timeout
// (proxy_send_timeout) ends it with 504, and the client's body timeout (client_body_timeout, which
// nginx runs only while it waits to read from the client) must not answer 408 meanwhile.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { startProxy, type RunningProxy } from '../helpers/proxy';

// More than loopback's socket buffers hold between client, proxy and upstream.
const SIZE = 48 * 1024 * 1024;

describe('an upstream that never reads the request body', () => {
  let upstream: net.Server;
  const accepted = new Set<net.Socket>();
  let proxy: RunningProxy;

  before(async () => {
    upstream = net.createServer((socket) => {
      socket.pause(); // accepts, reads nothing, answers nothing
      socket.on('error', () => {});
      accepted.add(socket);
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const port = (upstream.address() as net.AddressInfo).port;
    proxy = await startProxy({
      workers: 1,
      upstreams: { u: { servers: [`127.0.0.1:${port}`] } },
      timeouts: { clientBody: '1s', send: '3s', read: '30s' },
    });
  });

  after(async () => {
    await proxy.stop();
    // A paused socket does not keep the event loop alive: close() would wait for it in vain.
    for (const socket of accepted) socket.destroy();
    await new Promise<void>((r) => upstream.close(() => r()));
  });

  it('answers 504 after the send timeout, not 408 after the client body timeout', async () => {
    const started = Date.now();
    const reply = await new Promise<string>((resolve) => {
      const socket = net.connect(proxy.port, '127.0.0.1');
      let data = '';
      socket.on('data', (d) => (data += d.toString('latin1')));
      socket.on('error', () => {});
      socket.on('close', () => resolve(data));
      socket.on('connect', () => {
        socket.write(`POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: ${SIZE}\r\n\r\n`);
        socket.write(Buffer.alloc(SIZE, 'u'));
      });
      setTimeout(() => socket.destroy(), 15_000).unref();
    });
    const took = Date.now() - started;
    assert.match(reply, /^HTTP\/1\.1 504 /, `got ${JSON.stringify(reply.slice(0, 40))} after ${took} ms`);
    assert.ok(took >= 2_500 && took < 5_500, `answered after ${took} ms: the send timeout is 3 s`);
    assert.match(proxy.stderr(), /timed out[^\n]*sending the request/);
  });
});
