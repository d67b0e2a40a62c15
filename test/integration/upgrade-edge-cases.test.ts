// Upgrade requests the upstream does not turn into a tunnel, and upgrades pipelined behind other
// requests: each client still gets exactly its own answer, complete or visibly cut, never hung.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { patternBody, rawConversation } from '../helpers/http-client';
import { waitFor } from '../helpers/procfs';
import { expectFdsAtBaseline, startProxy, type RunningProxy } from '../helpers/proxy';
import { startRawUpstream, type RawUpstream } from '../helpers/raw-upstream';

const UPGRADE = 'Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n';

describe('upgrade edge cases', () => {
  let upstream: RawUpstream;
  let proxy: RunningProxy;

  before(async () => {
    upstream = await startRawUpstream((req, socket) => {
      if (req.path === '/declined-then-reset') {
        // Declines the upgrade with a 300-byte body, sends 200 bytes of it, then resets.
        socket.write(`HTTP/1.1 200 OK\r\nContent-Length: 300\r\n\r\n${'a'.repeat(200)}`);
        setTimeout(() => socket.resetAndDestroy(), 50);
      } else if (req.path === '/declined-then-silent') {
        socket.write(`HTTP/1.1 200 OK\r\nContent-Length: 300\r\n\r\n${'b'.repeat(100)}`);
      } else if (req.path === '/declined') {
        socket.write('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n');
      } else if (req.path === '/switches') {
        socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nServer: Apache/2.4.1\r\n' +
          'Date: Tue, 01 Jan 2030 00:00:00 GMT\r\nX-Accel-Buffering: no\r\n\r\n');
        setTimeout(() => socket.end(), 100);
      } else if (req.path === '/never-answers') {
        // reads the upgrade request, answers nothing
      } else if (req.path === '/h2c') {
        // An h2c-capable server: it switches whenever it is asked to (and would then take HTTP/2
        // requests for any path, whatever the proxy's routes say).
        if (req.head.includes('\r\nupgrade:')) socket.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n');
        else socket.write('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nplain');
      } else if (req.path === '/after') {
        socket.write('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nafter');
      } else if (req.path === '/slow-post') {
        setTimeout(() => socket.write('HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nposted!'), 200);
      }
    });
    proxy = await startProxy({ workers: 1, upstreams: { raw: { servers: [`127.0.0.1:${upstream.port}`] } }, timeouts: { read: '1s', connect: '5s', keepAlive: '1s' } });
  });
  after(async () => {
    await proxy?.stop();
    await upstream?.close();
  });

  it('a declined upgrade whose body is cut ends the connection without an error page appended', async () => {
    const raw = await rawConversation(proxy.port, async (s) => void s.write(`GET /declined-then-reset HTTP/1.1\r\nHost: x\r\n${UPGRADE}\r\n`), 5_000);
    assert.match(raw, /^HTTP\/1\.1 200 /);
    const body = raw.slice(raw.indexOf('\r\n\r\n') + 4);
    assert.equal(body, 'a'.repeat(200), 'the 200 bytes that came, and nothing else');
  });

  it('a declined upgrade whose upstream goes silent is closed after the read timeout', async () => {
    const started = Date.now();
    const raw = await rawConversation(proxy.port, async (s) => void s.write(`GET /declined-then-silent HTTP/1.1\r\nHost: x\r\n${UPGRADE}\r\n`), 8_000);
    assert.match(raw, /^HTTP\/1\.1 200 /);
    assert.ok(Date.now() - started < 4_000, `closed after ${Date.now() - started} ms, the read timeout is 1 s`);
  });

  it("a 101 carries the proxy's Server and Date and hides the upstream's, as every other response", async () => {
    const raw = await rawConversation(proxy.port, async (s) => void s.write(`GET /switches HTTP/1.1\r\nHost: x\r\n${UPGRADE}\r\n`), 3_000);
    const head = raw.slice(0, raw.indexOf('\r\n\r\n') + 2);
    assert.match(head, /^HTTP\/1\.1 101 /);
    assert.deepEqual(head.match(/^server: .*$/gim), ['Server: handoff']);
    const dates = head.match(/^date: .*$/gim) ?? [];
    assert.equal(dates.length, 1);
    assert.ok(Math.abs(Date.parse(dates[0].slice(6)) - Date.now()) < 5_000, dates[0]);
    assert.doesNotMatch(head, /x-accel/i);
    assert.match(head, /\r\nUpgrade: websocket\r\n/i);
  });

  it('an upgrade the upstream never answers gets 504 after the read timeout, logged as a read timeout', async () => {
    const started = Date.now();
    const raw = await rawConversation(proxy.port, async (s) => void s.write(`GET /never-answers HTTP/1.1\r\nHost: x\r\n${UPGRADE}\r\n`), 8_000);
    const took = Date.now() - started;
    assert.match(raw, /^HTTP\/1\.1 504 /);
    assert.ok(took < 4_000, `answered after ${took} ms: the read timeout is 1 s (connect: 5 s)`);
    assert.match(proxy.stderr(), /timed out while reading the response header while upgrading/);
  });

  it('a declined upgrade leaves no socket behind once the client closes its side', async () => {
    const declined = (): Promise<string> =>
      rawConversation(proxy.port, async (s) => {
        s.write(`GET /declined HTTP/1.1\r\nHost: x\r\n${UPGRADE}\r\n`);
        s.end();
      }, 5_000);
    assert.match(await declined(), /^HTTP\/1\.1 400 /); // warm-up: lazily loaded modules open files too
    const baseline = proxy.fdCounts();
    for (let i = 0; i < 5; i++) assert.match(await declined(), /^HTTP\/1\.1 400 /);
    await expectFdsAtBaseline(proxy, baseline);
  });

  it('an Upgrade to h2c (or any protocol not in `upgrades`) is a plain request: the upstream never sees it', async () => {
    const seen = upstream.requests.length;
    const raw = await rawConversation(proxy.port, async (s) => {
      s.write('GET /h2c HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n' +
        'GET /after HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    }, 3_000);
    assert.match(raw, /^HTTP\/1\.1 200 [^]*?\r\n\r\nplain/, 'a plain 200, not a 101');
    const forwarded = upstream.requests.slice(seen).find((r) => r.path === '/h2c');
    assert.ok(forwarded, 'the upstream got the request');
    assert.doesNotMatch(forwarded.head, /\r\n(upgrade|http2-settings):/);
    assert.doesNotMatch(forwarded.head, /\r\nconnection:[^\r]*upgrade/);
    const rest = raw.slice(raw.indexOf('plain') + 'plain'.length);
    // The proxy reads on: the request pipelined behind it is HTTP again.
    assert.match(rest, /^HTTP\/1\.1 200 [^]*?\r\n\r\nafter$/);
  });

  it('an Upgrade that offers websocket and h2c together is not tunnelled either', async () => {
    const raw = await rawConversation(proxy.port, async (s) => void s.write('GET /h2c HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket, h2c\r\n\r\n'), 3_000);
    assert.match(raw, /^HTTP\/1\.1 200 [^]*?\r\n\r\nplain/);
  });

  const H2C = 'Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n';

  it('an h2c request with a body is refused (400) and the upstream gets none of it', async () => {
    const seen = upstream.requests.length;
    for (const framing of ['Content-Length: 5\r\n\r\nhello', 'Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n']) {
      const raw = await rawConversation(proxy.port, async (s) => void s.write(`POST /h2c HTTP/1.1\r\nHost: x\r\n${H2C}${framing}`), 3_000);
      assert.match(raw, /^HTTP\/1\.1 400 /, framing);
    }
    assert.equal(upstream.requests.length, seen, 'nothing forwarded (a body the upstream would wait for, or read as the next request)');
  });

  it('a malformed request after a plain-served h2c request gets its 400', async () => {
    const raw = await rawConversation(proxy.port, async (s, received) => {
      s.write(`GET /h2c HTTP/1.1\r\nHost: x\r\n${H2C}\r\n`);
      await waitFor('the plain answer', () => received().includes('plain'), 1_000);
      // llhttp leaves its upgrade flag set after such a request, and Node's binding reports no
      // parse error while it is: this bad request went unanswered until clientHeader (60 s).
      if (!s.destroyed) s.write('XXXX / HTTP/1.1\r\nHost: x\r\n\r\n');
    }, 3_000);
    assert.match(raw, /^HTTP\/1\.1 200 [^]*?\r\n\r\nplain/);
    const rest = raw.slice(raw.indexOf('plain') + 'plain'.length);
    // The proxy reads on after the h2c answer, and must refuse the rest.
    assert.match(rest, /^HTTP\/1\.1 400 /);
  });

  it('an h2c request pipelined behind one in flight is answered after it', async () => {
    const raw = await rawConversation(proxy.port, async (s) => {
      s.write(`POST /slow-post HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi` + `GET /h2c HTTP/1.1\r\nHost: x\r\n${H2C}\r\n`);
    }, 3_000);
    assert.match(raw, /^HTTP\/1\.1 200 [^]*?\r\n\r\nposted!HTTP\/1\.1 200 [^]*?\r\n\r\nplain/);
  });

  it('a client that keeps its side open after a plain-served h2c answer does not keep the fd', async () => {
    const warm = await rawConversation(proxy.port, async (s) => void s.write(`GET /h2c HTTP/1.1\r\nHost: x\r\n${H2C}\r\n`), 3_000);
    assert.match(warm, /plain/); // warm-up: lazily loaded modules open files too
    const baseline = proxy.fdCounts();
    const clients: net.Socket[] = [];
    try {
      // One after another, so that all reuse the one pooled upstream connection of the warm-up.
      for (let i = 0; i < 5; i++) {
        const socket = net.connect({ port: proxy.port, host: '127.0.0.1', allowHalfOpen: true });
        clients.push(socket);
        socket.on('error', () => {});
        await new Promise<void>((resolve) => {
          socket.on('data', (d) => d.includes('plain') && resolve());
          socket.write(`GET /h2c HTTP/1.1\r\nHost: x\r\n${H2C}\r\n`);
        });
      }
      // They never send their FIN: the proxy lets go after keepAlive (1 s here), at most 5 s.
      await new Promise((r) => setTimeout(r, 300));
      await expectFdsAtBaseline(proxy, baseline, 3_500);
      assert.ok(clients.every((c) => !c.destroyed), 'the clients kept their side open throughout');
    } finally {
      for (const c of clients) c.destroy();
    }
  });

  it('an upgrade pipelined behind a request in flight leaves that request its own answer', async () => {
    const raw = await rawConversation(proxy.port, async (s) => {
      s.write(`POST /slow-post HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi` + `GET /ws HTTP/1.1\r\nHost: x\r\n${UPGRADE}\r\n`);
    }, 5_000);
    assert.match(raw, /^HTTP\/1\.1 200 [^]*?\r\n\r\nposted!/, 'the POST got its own 200 first, not an answer meant for the upgrade');
    // Then the connection closes: nothing comes after the POST's answer.
    const rest = raw.slice(raw.indexOf('posted!') + 'posted!'.length);
    assert.equal(rest, '', `after the POST's answer: ${JSON.stringify(rest.slice(0, 40))}`);
  });

  // Client reads land in a buffer the whole worker shares; once a socket is a tunnel, what it
  // reads must be copied out, and reading must stop while the upstream side is full.
  it('a tunnel carries 16 MiB each way byte-exact, through a client and an upstream that read slowly', async () => {
    const echo = net.createServer((socket) => {
      let head = Buffer.alloc(0);
      const onHead = (d: Buffer): void => {
        head = Buffer.concat([head, d]);
        const end = head.indexOf('\r\n\r\n');
        if (end === -1) return;
        socket.off('data', onHead);
        socket.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n');
        const early = head.subarray(end + 4);
        if (early.length > 0) socket.write(early);
        // Echo, slowly: a pause after every MiB, so the proxy's side of this socket fills up.
        let sinceStop = 0;
        socket.on('data', (d: Buffer) => {
          socket.write(d);
          sinceStop += d.length;
          if (sinceStop >= 1 << 20) {
            sinceStop = 0;
            socket.pause();
            setTimeout(() => socket.resume(), 20);
          }
        });
      };
      socket.on('data', onHead);
      socket.on('error', () => {});
    });
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
    const tunnelProxy = await startProxy({ workers: 1, upstreams: { echo: { servers: [`127.0.0.1:${(echo.address() as net.AddressInfo).port}`] } } });
    try {
      const sent = patternBody(16 * 1024 * 1024, 11);
      const received = await new Promise<Buffer>((resolve, reject) => {
        const chunks: Buffer[] = [];
        let total = 0;
        let sinceStop = 0;
        const socket = net.connect(tunnelProxy.port, '127.0.0.1', () => {
          // The first bytes ride in the same write as the head, as a client's first frame may.
          socket.write(Buffer.concat([Buffer.from(`GET /ws HTTP/1.1\r\nHost: x\r\n${UPGRADE}\r\n`), sent.subarray(0, 1000)]));
          socket.write(sent.subarray(1000));
        });
        socket.on('data', (d: Buffer) => {
          chunks.push(d);
          total += d.length;
          sinceStop += d.length;
          if (sinceStop >= 2 << 20) {
            sinceStop = 0;
            socket.pause();
            setTimeout(() => socket.resume(), 20);
          }
          if (total < sent.length) return;
          const all = Buffer.concat(chunks);
          const end = all.indexOf('\r\n\r\n');
          if (end !== -1 && total - end - 4 >= sent.length) {
            socket.destroy();
            resolve(all.subarray(end + 4));
          }
        });
        socket.on('error', reject);
        socket.setTimeout(20_000, () => socket.destroy(new Error('tunnel timed out')));
      });
      assert.equal(received.length, sent.length);
      assert.ok(received.equals(sent), 'every byte came back, in order');
    } finally {
      await tunnelProxy.stop();
      await new Promise<void>((r) => echo.close(() => r()));
    }
  });
});
