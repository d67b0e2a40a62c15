// A request that is the client's last (Connection: close, HTTP/1.0) is answered and the socket
// closed at once, without shutdown() and a wait for the client's FIN (client-connection.ts
// finish()). That close must never turn into a reset that costs the client its response: not on
// a burst of such connections, not when the client has half-closed, and not when a request body
// is still unread (that case keeps the shutdown-and-wait path).
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { rawExchange } from '../helpers/http-client';
import { startProxy, type RunningProxy } from '../helpers/proxy';
import { startRawUpstream, type RawUpstream } from '../helpers/raw-upstream';

/** Everything the server sent, and how the connection ended ('end' or the error code). */
function closeExchange(port: number, bytes: string, halfClose = false): Promise<{ data: string; ending: string }> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    let data = '';
    let ending = 'none';
    socket.on('data', (d) => (data += d.toString('latin1')));
    socket.on('end', () => {
      if (ending === 'none') ending = 'end';
      socket.end();
    });
    socket.on('error', (err: NodeJS.ErrnoException) => (ending = err.code ?? 'error'));
    socket.on('close', () => resolve({ data, ending }));
    socket.once('connect', () => (halfClose ? socket.end(bytes) : socket.write(bytes)));
    setTimeout(() => socket.destroy(), 3_000).unref();
  });
}

describe('closing a connection after the client said it was its last request', () => {
  let upstream: RawUpstream;
  let proxy: RunningProxy;

  before(async () => {
    upstream = await startRawUpstream((req, socket) => {
      const body = `path ${req.path}`;
      socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    });
    proxy = await startProxy({
      workers: 1,
      upstreams: { raw: { servers: [`127.0.0.1:${upstream.port}`], keepalive: 4 } },
      limits: { maxBodySize: '16' },
    });
  });

  after(async () => {
    await proxy?.stop();
    await upstream?.close();
  });

  it('answers a burst of Connection: close requests whole, each ended by a FIN, never a reset', async () => {
    const replies = await Promise.all(
      Array.from({ length: 60 }, (_, i) => closeExchange(proxy.port, `GET /n${i} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`)),
    );
    replies.forEach(({ data, ending }, i) => {
      assert.equal(ending, 'end', `connection ${i} ended cleanly`);
      assert.match(data, /^HTTP\/1\.1 200 OK\r\n/);
      assert.match(data, /\r\nConnection: close\r\n/i);
      assert.ok(data.endsWith(`path /n${i}`), `connection ${i} got its whole body`);
    });
  });

  it('answers an HTTP/1.0 request and a client that half-closed after its request', async () => {
    const old = await closeExchange(proxy.port, 'GET /old HTTP/1.0\r\nHost: x\r\n\r\n');
    assert.equal(old.ending, 'end');
    assert.ok(old.data.endsWith('path /old'));
    const half = await closeExchange(proxy.port, 'GET /half HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', true);
    assert.equal(half.ending, 'end');
    assert.ok(half.data.endsWith('path /half'));
  });

  it('still delivers the refusal of a request whose body is unread (413), then closes', async () => {
    const raw = await rawExchange(proxy.port, `POST /big HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 100\r\n\r\n${'y'.repeat(40)}`);
    assert.match(raw, /^HTTP\/1\.1 413 /);
  });
});
