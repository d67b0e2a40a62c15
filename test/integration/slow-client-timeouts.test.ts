// A client that stops reading a large response holds up the upstream too: the proxy does not read
// what it cannot pass on. That wait is the client's, as in nginx: `timeouts.clientSend` (nginx's
// send_timeout) bounds it, and `timeouts.read` (proxy_read_timeout), which is about a silent
// upstream, must not cut the response meanwhile.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { patternBody, request } from '../helpers/http-client';
import { waitFor } from '../helpers/procfs';
import { startProxy, type RunningProxy } from '../helpers/proxy';
import { startRawUpstream, type RawUpstream } from '../helpers/raw-upstream';

// More than loopback's socket buffers can hold between the proxy and a client that stopped
// reading (here tcp_wmem's 4 MiB plus what tcp_rmem autotunes to, up to 32 MiB): with less, the
// kernel may take a whole response, the proxy never waits, and these tests could not fail.
const SIZE = 64 * 1024 * 1024;
const body = patternBody(SIZE, 5);

/**
 * GETs `path` (/big by default), reads 256 KiB, stops reading for `stallMs`, then reads on. Resolves
 * with the body bytes received and whether the connection ended before the whole body came.
 */
function stallingRead(port: number, stallMs: number, path = '/big'): Promise<{ received: Buffer; cut: boolean }> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let total = 0;
    let stalled = false;
    socket.on('data', (d: Buffer) => {
      chunks.push(d);
      total += d.length;
      if (!stalled && total >= 256 * 1024) {
        stalled = true;
        socket.pause();
        setTimeout(() => socket.resume(), stallMs);
      }
    });
    const finish = (): void => {
      const raw = Buffer.concat(chunks);
      const received = raw.subarray(raw.indexOf('\r\n\r\n') + 4);
      resolve({ received, cut: received.length < SIZE });
    };
    socket.on('error', () => {});
    socket.on('close', finish);
    socket.on('connect', () => socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`));
  });
}

describe('a client that stops reading', () => {
  let upstream: RawUpstream;
  let proxy: RunningProxy;

  before(async () => {
    upstream = await startRawUpstream((req, socket) => {
      if (req.path === '/big') socket.write(Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${SIZE}\r\n\r\n`), body]));
      // Half of what it announces, then silence.
      else if (req.path === '/half') socket.write(Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${2 * SIZE}\r\n\r\n`), body]));
      else socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    });
    proxy = await startProxy({
      workers: 1,
      upstreams: { raw: { servers: [`127.0.0.1:${upstream.port}`] } },
      timeouts: { read: '300ms', clientSend: '1500ms' },
    });
  });

  after(async () => {
    await proxy?.stop();
    await upstream?.close();
  });

  it('gets the whole body after a pause longer than the read timeout (but within clientSend)', async () => {
    const { received, cut } = await stallingRead(proxy.port, 900);
    assert.equal(cut, false, `received ${received.length} of ${SIZE} bytes`);
    assert.ok(received.equals(body), 'byte for byte');
    assert.doesNotMatch(proxy.stderr(), /upstream timed out|prematurely closed/);
  });

  it('still times out an upstream that goes silent once the client has caught up', async () => {
    const started = Date.now();
    const { received } = await stallingRead(proxy.port, 900, '/half');
    assert.equal(received.length, SIZE, 'everything the upstream sent arrived, then the connection closed');
    assert.ok(Date.now() - started < 5_000, `closed after ${Date.now() - started} ms, not left hanging`);
    await waitFor('the error log line', () => /upstream timed out|prematurely closed/.test(proxy.stderr()));
  });

  it('is cut off after clientSend, reported as the client timing out, and the upstream stays healthy', async () => {
    const logged = proxy.stderr().length;
    const { cut } = await stallingRead(proxy.port, 4_000);
    assert.equal(cut, true, 'the connection ended before the body did');
    const log = (): string => proxy.stderr().slice(logged);
    await waitFor('the error log line', () => /client timed out while sending response to client/.test(log()));
    assert.doesNotMatch(log(), /upstream timed out|prematurely closed/, 'not blamed on the upstream');
    // Not marked failed: the only server answers the next request at once (not 502).
    const next = await request(`${proxy.url}/small`);
    assert.equal(next.status, 200);
  });
});
