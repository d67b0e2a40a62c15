// Pipelined requests are proxied one at a time, the next once the previous response has left, as
// nginx does: a client that pipelines cannot make a worker open an upstream connection per request
// (a review found 16,000 from one connection that never read, and other clients' 502s once the
// worker was out of fds), and a head that waits its turn is not timed out for waiting.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { rawConversation } from '../helpers/http-client';
import { waitFor } from '../helpers/procfs';
import { expectFdsAtBaseline, startProxy, type RunningProxy } from '../helpers/proxy';
import { startRawUpstream, type RawUpstream } from '../helpers/raw-upstream';

/** Less than one upstream read: each answer arrives whole, and is finished before the client takes it. */
const MID = 32 * 1024;
/** More than the buffers between proxy and client take at once: its answer has to be flushed. */
const LARGE = 4 * 1024 * 1024;

/** Polls `done` for at most 4 s (waitFor's, failing with `what` if it never comes true). */
const until = (what: string, done: () => boolean): Promise<void> => waitFor(what, done, 4_000);

describe('pipelined requests', () => {
  let upstream: RawUpstream;
  let proxy: RunningProxy;
  let inFlight = 0;
  let mostInFlight = 0;

  before(async () => {
    upstream = await startRawUpstream((req, socket) => {
      if (req.path === '/large') {
        socket.write(Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${LARGE}\r\n\r\n`), Buffer.alloc(LARGE, 'l')]));
        return;
      }
      if (req.path === '/mid') {
        socket.write(Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${MID}\r\n\r\n`), Buffer.alloc(MID, 'm')]));
        return;
      }
      inFlight++;
      mostInFlight = Math.max(mostInFlight, inFlight);
      const delay = req.path === '/slow' ? 800 : req.path === '/slower' ? 1_600 : 20;
      setTimeout(() => {
        inFlight--;
        socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${req.path.length}\r\n\r\n${req.path}`);
      }, delay);
    });
    proxy = await startProxy({
      workers: 1,
      upstreams: { raw: { servers: [`127.0.0.1:${upstream.port}`], keepalive: 4 } },
      // Host a only: any other gets the proxy's own 404.
      routes: [{ host: 'a', pathPrefix: '/', upstream: 'raw' }],
      timeouts: { clientHeader: '1s', clientSend: '1s' },
      limits: { maxBodySize: '1k' },
    });
  });
  after(async () => {
    await proxy?.stop();
    await upstream?.close();
  });

  it('reach the upstream one at a time, on one connection, and are answered in order', async () => {
    mostInFlight = 0;
    const before = upstream.connections();
    const paths = Array.from({ length: 20 }, (_, i) => `/r${i}`);
    const raw = await rawConversation(proxy.port, async (s, received) => {
      s.write(paths.map((p) => `GET ${p} HTTP/1.1\r\nHost: a\r\n\r\n`).join(''));
      await until('the last answer', () => received().includes('/r19'));
      s.end();
    }, 5_000);
    const bodies = [...raw.matchAll(/\r\n\r\n(\/r\d+)/g)].map((m) => m[1]);
    assert.deepEqual(bodies, paths);
    assert.equal(mostInFlight, 1, 'never two of them at the upstream at once');
    // Two at most: the next exchange starts inside the read that ended the previous response, before
    // that connection is back in the pool.
    assert.ok(upstream.connections() - before <= 2, `${upstream.connections() - before} new upstream connections`);
  });

  it('from a client that never reads its answers open no upstream connection each, and the client is cut off after clientSend', async () => {
    // Warm-up: the worker's pooled upstream connection and lazily loaded modules are part of the baseline.
    await rawConversation(proxy.port, async (s) => void s.write('GET /mid HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n'), 3_000);
    const baseline = proxy.fdCounts();
    const before = upstream.connections();
    const client = net.connect(proxy.port, '127.0.0.1');
    client.on('error', () => {});
    await new Promise<void>((r) => client.once('connect', () => r()));
    client.pause(); // never reads: 800 answers of 32 KiB (25 MiB) fill every buffer between us
    for (let round = 0; round < 4; round++) {
      client.write('GET /mid HTTP/1.1\r\nHost: a\r\n\r\n'.repeat(200));
      await new Promise((r) => setTimeout(r, 100));
    }
    try {
      // clientSend is 1 s: the stalled client is closed after one to two periods.
      await expectFdsAtBaseline(proxy, baseline, 4_000);
      assert.ok(upstream.connections() - before <= 2, `${upstream.connections() - before} upstream connections for one client`);
    } finally {
      client.destroy();
    }
  });

  it('behind an answer the client reset before it came, are never sent upstream', async () => {
    // Two upstream connections idle in the pool, so that a request started after the answer would
    // reach the upstream at once, before the worker hears of the reset.
    await Promise.all(['/w1', '/w2'].map((p) => rawConversation(proxy.port, async (s) => void s.write(`GET ${p} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`))));
    const seen = upstream.requests.length;
    const client = net.connect(proxy.port, '127.0.0.1');
    client.on('error', () => {});
    await new Promise<void>((r) => client.once('connect', () => r()));
    client.write('GET /slow HTTP/1.1\r\nHost: a\r\n\r\nPOST /create HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello');
    await until('/slow at the upstream', () => upstream.requests.length > seen);
    client.resetAndDestroy(); // the worker learns of it when /slow's answer is written
    await new Promise((r) => setTimeout(r, 1_200)); // /slow is answered after 0.8 s
    assert.deepEqual(upstream.requests.slice(seen).map((r) => `${r.method} ${r.path}`), ['GET /slow']);
  });

  it('a head that arrives in parts behind slow requests is answered, not timed out while it waits its turn', async () => {
    // Three requests the upstream answers after 0.8 s each, then half a head; the rest of it follows
    // at once, but the client is not read again until the third request starts (after 1.6 s), past
    // clientHeader (1 s) and at least one deadline sweep (every 250 ms here).
    const raw = await rawConversation(proxy.port, async (s, received) => {
      // First one answered request, so that the worker reads the next write as it comes, in one read
      // (a cold worker may read both writes at once, and then no head is left half-received).
      s.write('GET /warm HTTP/1.1\r\nHost: a\r\n\r\n');
      await until('the warm-up answer', () => received().includes('/warm'));
      s.write('GET /slow HTTP/1.1\r\nHost: a\r\n\r\n'.repeat(3) + 'GET /last HTTP/1.1\r\nHo');
      await new Promise((r) => setTimeout(r, 100));
      s.write('st: a\r\n\r\n');
      await until('the last answer', () => received().includes('/last') || s.destroyed);
      s.end();
    }, 6_000);
    const bodies = [...raw.matchAll(/\r\n\r\n(\/slow|\/last)/g)].map((m) => m[1]);
    assert.deepEqual(bodies, ['/slow', '/slow', '/slow', '/last']);
  });

  it('behind an answer that had to be flushed, a request the upstream is slow to answer is still answered', async () => {
    // The flush ran under clientSend (1 s); the next request's wait is the upstream's (1.6 s here).
    const raw = await rawConversation(proxy.port, async (s, received) => {
      s.write('GET /large HTTP/1.1\r\nHost: a\r\n\r\nGET /slower HTTP/1.1\r\nHost: a\r\n\r\n');
      await until('the slower answer', () => received().endsWith('/slower') || s.destroyed);
      s.end();
    }, 6_000);
    assert.ok(raw.length > LARGE, `the large answer came (${raw.length} bytes)`);
    assert.ok(raw.endsWith('\r\n\r\n/slower'), `then the slow one: ${JSON.stringify(raw.slice(-80))}`);
  });

  it("from a client that never reads, answers the proxy gives itself (404) do not hold the connection either", async () => {
    await rawConversation(proxy.port, async (s) => void s.write('GET / HTTP/1.1\r\nHost: nowhere\r\nConnection: close\r\n\r\n'), 3_000);
    const baseline = proxy.fdCounts();
    const client = net.connect(proxy.port, '127.0.0.1');
    client.on('error', () => {});
    await new Promise<void>((r) => client.once('connect', () => r()));
    client.pause();
    for (let round = 0; round < 10; round++) {
      client.write('GET / HTTP/1.1\r\nHost: nowhere\r\n\r\n'.repeat(2_000));
      await new Promise((r) => setTimeout(r, 50));
    }
    try {
      await expectFdsAtBaseline(proxy, baseline, 4_000);
    } finally {
      client.destroy();
    }
  });

  it('a request queued behind another whose body goes over maxBodySize does not cost that other its answer', async () => {
    const chunked = `${(2048).toString(16)}\r\n${'x'.repeat(2048)}\r\n0\r\n\r\n`;
    const raw = await rawConversation(proxy.port, async (s) => {
      s.write(`GET /slow HTTP/1.1\r\nHost: a\r\n\r\nPOST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n${chunked}`);
    }, 4_000);
    assert.match(raw, /^HTTP\/1\.1 200 [^]*?\r\n\r\n\/slow/, 'the request before it got its answer');
  });
});
