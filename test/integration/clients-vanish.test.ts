// Client connections run on bare libuv TCP handles (handle-socket.ts), where
// the proxy itself, not net.Socket, owns every close, write error and FIN. These clients go away
// at every point of an exchange — before a byte, mid-head, mid-body of a large response with its
// reads stalled, after their FIN with the response still streaming — and the worker must close
// each fd exactly once, keep serving, and hand the next client a byte-exact body.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { decodeBody, patternBody, rawExchange } from '../helpers/http-client';
import { expectFdsAtBaseline, startProxy, type RunningProxy } from '../helpers/proxy';
import { startRawUpstream, type RawUpstream } from '../helpers/raw-upstream';

const BIG = 4 * 1024 * 1024;
const big = patternBody(BIG, 7);

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    socket.once('connect', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Resolves once `socket` has received at least `bytes` bytes; then it stops reading. */
function receive(socket: net.Socket, bytes: number): Promise<number> {
  return new Promise((resolve) => {
    let got = 0;
    const onData = (d: Buffer): void => {
      got += d.length;
      if (got < bytes) return;
      socket.off('data', onData);
      socket.pause();
      resolve(got);
    };
    socket.on('data', onData);
  });
}

const closed = (socket: net.Socket): Promise<void> => new Promise((r) => (socket.destroyed ? r() : socket.once('close', () => r())));

describe('clients that vanish at any point leave nothing behind', () => {
  let upstream: RawUpstream;
  let proxy: RunningProxy;

  before(async () => {
    upstream = await startRawUpstream((req, socket) => {
      if (req.path === '/big') socket.write(Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${BIG}\r\n\r\n`), big]));
      else socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    });
    proxy = await startProxy({ workers: 1, upstreams: { raw: { servers: [`127.0.0.1:${upstream.port}`], keepalive: 8 } } });
  });

  after(async () => {
    await proxy?.stop();
    await upstream?.close();
  });

  it('resets and FINs before, during and after a request close every fd, and the worker serves on', async () => {
    const [worker] = proxy.workerPids();
    // Warm up: the worker's upstream pool and lazily opened fds are part of the baseline. Three at
    // once, as many as a round keeps busy, so the pool holds what a round may leave in it.
    const warm = await Promise.all([1, 2, 3].map(() => rawExchange(proxy.port, 'GET /big HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', 5_000)));
    for (const raw of warm) assert.equal(decodeBody(raw).length, BIG);
    const baseline = proxy.fdCounts();

    for (let round = 0; round < 4; round++) {
      const sockets: net.Socket[] = [];
      // Connected, then reset without a byte.
      const silent = await connect(proxy.port);
      sockets.push(silent);
      // Half a head, then reset.
      const halfHead = await connect(proxy.port);
      halfHead.write('GET /big HTTP/1.1\r\nHo');
      sockets.push(halfHead);
      // A large response read in part, the reader stalled (the worker's writes queue up), then reset.
      const stalled = await connect(proxy.port);
      stalled.write('GET /big HTTP/1.1\r\nHost: x\r\n\r\n');
      await receive(stalled, 256 * 1024);
      sockets.push(stalled);
      // A keep-alive connection answered, then idle.
      const idle = await connect(proxy.port);
      idle.write('GET /small HTTP/1.1\r\nHost: x\r\n\r\n');
      await receive(idle, 10);
      sockets.push(idle);
      await new Promise((r) => setTimeout(r, 50));
      for (const s of sockets) s.resetAndDestroy();

      // A FIN right after the request, reading nothing until the response has queued up: the
      // client half-closed, so its answer still goes out whole, then the connection closes.
      const finned = await connect(proxy.port);
      finned.end('GET /big HTTP/1.1\r\nHost: x\r\n\r\n');
      finned.pause();
      await new Promise((r) => setTimeout(r, 100));
      const chunks: Buffer[] = [];
      finned.on('data', (d: Buffer) => chunks.push(d));
      finned.resume();
      await closed(finned);
      const raw = Buffer.concat(chunks);
      const split = raw.indexOf('\r\n\r\n') + 4;
      assert.ok(raw.subarray(split).equals(big), `round ${round}: the half-closed client got the whole body`);
    }

    await expectFdsAtBaseline(proxy, baseline);
    assert.deepEqual(proxy.workerPids(), [worker], 'the same worker, never restarted');
    assert.doesNotMatch(proxy.stderr(), /request handling failed|uncaught|TypeError/i);
    const after = await rawExchange(proxy.port, 'GET /big HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', 5_000);
    assert.ok(Buffer.from(decodeBody(after), 'latin1').equals(big), 'the next client gets a byte-exact body');
  });

  it('keep-alive clients that send their FIN between requests have their connections closed', async () => {
    const finBetweenRequests = async (): Promise<void> => {
      const sockets = await Promise.all(Array.from({ length: 20 }, () => connect(proxy.port)));
      await Promise.all(
        sockets.map(async (s) => {
          s.write('GET /small HTTP/1.1\r\nHost: x\r\n\r\n');
          await receive(s, 10);
          s.resume();
          s.end();
          await closed(s);
        }),
      );
    };
    // Once first, so the upstream pool holds what 20 concurrent requests leave in it.
    await finBetweenRequests();
    const baseline = proxy.fdCounts();
    await finBetweenRequests();
    await expectFdsAtBaseline(proxy, baseline);
  });
});

// A client that sends part of a request body and then its FIN can never complete that body: the
// request is over, and the upstream connection that waits for the rest must go with it at once
// (nginx: "client prematurely closed connection"), not when the upstream or clientBody gives up.
describe('a client whose FIN cuts its request body short', () => {
  let upstreamSockets = 0;
  let upstreamClosed = 0;
  let upstream: net.Server;
  let proxy: RunningProxy;

  before(async () => {
    upstream = net.createServer((socket) => {
      upstreamSockets++;
      socket.on('error', () => {});
      socket.on('close', () => upstreamClosed++);
      socket.resume(); // takes the body, never answers
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    proxy = await startProxy({
      workers: 1,
      upstreams: { u: { servers: [`127.0.0.1:${(upstream.address() as net.AddressInfo).port}`] } },
      timeouts: { clientBody: '30s', read: '30s', send: '30s' },
    });
  });

  after(async () => {
    await proxy.stop();
    await new Promise<void>((r) => upstream.close(() => r()));
  });

  it('has its upstream connection closed at once, for a Content-Length and a chunked body', async () => {
    for (const head of ['Content-Length: 100000', 'Transfer-Encoding: chunked']) {
      const opened = upstreamSockets;
      const closedBefore = upstreamClosed;
      const socket = await connect(proxy.port);
      socket.on('error', () => {});
      socket.write(`POST /upload HTTP/1.1\r\nHost: x\r\n${head}\r\n\r\n`);
      socket.write(head.startsWith('Content') ? 'x'.repeat(5_000) : `1388\r\n${'x'.repeat(5_000)}\r\n`);
      await waitUntil(() => upstreamSockets > opened, 3_000, 'the request to reach the upstream');
      socket.end(); // FIN mid-body
      await waitUntil(() => upstreamClosed > closedBefore, 3_000, `the upstream connection to close (${head})`);
      socket.destroy();
    }
  });
});

async function waitUntil(done: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
