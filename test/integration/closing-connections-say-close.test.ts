// A response whose connection closes after it says `Connection: close`: a client (or a pooling
// proxy in front) that is promised keep-alive sends its next request on that connection and
// meets a reset instead of an answer. Each case here used to promise keep-alive, then close.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { rawConversation, rawExchange } from '../helpers/http-client';
import { startProxy, type RunningProxy } from '../helpers/proxy';

/** The Connection header of the first response in `reply`. */
function connectionOf(reply: string): string | undefined {
  const head = reply.slice(0, reply.indexOf('\r\n\r\n'));
  return /\r\nconnection: *([^\r]*)/i.exec(head)?.[1];
}

describe('a response on a connection that closes after it', () => {
  /** An origin that answers each head as soon as it has it, body or not (as one refusing an upload does). */
  let origin: net.Server;
  let originPort = 0;
  let proxy: RunningProxy;

  before(async () => {
    origin = net.createServer((socket) => {
      let seen = '';
      socket.on('error', () => {});
      socket.on('data', (d: Buffer) => {
        seen += d.toString('latin1');
        while (seen.includes('\r\n\r\n')) {
          const [line] = seen.split('\r\n');
          seen = seen.slice(seen.indexOf('\r\n\r\n') + 4);
          const body = line.split(' ')[1];
          socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
        }
      });
    });
    await new Promise<void>((r) => origin.listen(0, '127.0.0.1', r));
    originPort = (origin.address() as net.AddressInfo).port;
    proxy = await startProxy({ workers: 1, upstreams: { backend: { servers: [`127.0.0.1:${originPort}`] } } });
  });

  after(async () => {
    await proxy?.stop();
    if (origin !== undefined) await new Promise((r) => origin.close(r));
  });

  it('says close when malformed bytes behind the request mean the connection ends after it', async () => {
    const reply = await rawExchange(proxy.port, 'GET /first HTTP/1.1\r\nHost: a.test\r\n\r\nthis is not HTTP\r\n\r\n');
    assert.match(reply, /^HTTP\/1\.1 200 [^]*\r\n\r\n\/first/);
    assert.equal(connectionOf(reply), 'close');
  });

  it('says close when the answer comes before the request body, which then cannot be told from a next request', async () => {
    const reply = await rawConversation(proxy.port, async (socket, got) => {
      socket.write('POST /early HTTP/1.1\r\nHost: a.test\r\nContent-Length: 100\r\n\r\npart of it');
      while (!got().includes('/early')) await new Promise((r) => setTimeout(r, 10));
    });
    assert.match(reply, /^HTTP\/1\.1 200 [^]*\r\n\r\n\/early$/, 'the answer, then the connection closed');
    assert.equal(connectionOf(reply), 'close');
  });

  it('says close when a request too large by its length is pipelined behind the one answered', async () => {
    const proxySmall = await startProxy({ workers: 1, upstreams: { backend: { servers: [`127.0.0.1:${originPort}`] } }, limits: { maxBodySize: 4 } });
    try {
      const reply = await rawExchange(
        proxySmall.port,
        'GET /one HTTP/1.1\r\nHost: a.test\r\n\r\nPOST /two HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n9\r\n123456789\r\n0\r\n\r\n',
      );
      assert.match(reply, /^HTTP\/1\.1 200 [^]*\r\n\r\n\/one/);
      assert.equal(connectionOf(reply), 'close', reply.slice(0, 200));
    } finally {
      await proxySmall.stop();
    }
  });

  it('keeps promising keep-alive when the connection does stay open', async () => {
    const reply = await rawConversation(proxy.port, async (socket, got) => {
      socket.write('GET /a HTTP/1.1\r\nHost: a.test\r\n\r\n');
      while (!got().includes('/a')) await new Promise((r) => setTimeout(r, 10));
      socket.write('GET /b HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n');
    });
    assert.equal(connectionOf(reply), 'keep-alive');
    assert.match(reply, /\r\n\r\n\/aHTTP\/1\.1 200 [^]*\r\nConnection: close\r\n\r\n\/b$/);
  });
});
