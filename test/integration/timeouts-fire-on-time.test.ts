// A timeout fires when it is due, as nginx's do (its timers are exact), not up to a sweep period
// later: timeouts.read of 2 s answers 504 at 2.0 s, not at 2.4-2.5 s. Each kind of timeout is
// probed by several connections started 100 ms apart, so their deadlines fall at different
// moments of the worker's sweep: a proxy that only fires deadlines at its periodic sweep (every
// 500 ms for 2 s timeouts) lets most of them run late, whatever the phase.
import assert from 'node:assert/strict';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { after, before, describe, it } from 'node:test';
import { startProxy, type RunningProxy } from '../helpers/proxy';
import { startRawUpstream, type RawUpstream } from '../helpers/raw-upstream';

const TIMEOUT_MS = 2_000;
// Both sides read millisecond clocks, and the proxy starts some deadlines a fraction of a
// millisecond before the client can see that it did: a reaction a few ms under 2 s is on time.
const EARLIEST_MS = TIMEOUT_MS - 10;
// What a shared, loaded 2-core machine may add to a timer that is armed for the right moment.
const LATEST_MS = TIMEOUT_MS + 100;
const PROBES = 5;
const STAGGER_MS = 100;

type Start = (socket: net.Socket, received: () => string, mark: () => void) => void;

/**
 * Opens a connection, lets `start` talk and mark the moment the timeout starts, and resolves with
 * the ms from that mark until `reacted` holds (checked on every read, and at the proxy's FIN).
 */
function probe(port: number, start: Start, reacted: (received: string, closed: boolean) => boolean): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let received = '';
    let markedAt = 0;
    const giveUp = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no reaction within 5 s; received ${JSON.stringify(received)}`));
    }, 5_000);
    const look = (closed: boolean): void => {
      if (markedAt === 0 || !reacted(received, closed)) return;
      clearTimeout(giveUp);
      resolve(performance.now() - markedAt);
      socket.destroy();
    };
    socket.on('data', (d: Buffer) => {
      received += d.toString('latin1');
      look(false);
    });
    socket.on('error', () => {});
    socket.on('end', () => look(true));
    socket.on('close', () => look(true));
    socket.on('connect', () => start(socket, () => received, () => (markedAt = performance.now())));
  });
}

/** `PROBES` probes, started `STAGGER_MS` apart, all at once: their reaction times. */
async function staggered(run: () => Promise<number>): Promise<number[]> {
  return Promise.all(Array.from({ length: PROBES }, (_, i) => new Promise<void>((r) => setTimeout(r, i * STAGGER_MS)).then(run)));
}

function assertOnTime(what: string, times: number[]): void {
  const shown = times.map((t) => t.toFixed(0)).join(', ');
  for (const t of times) assert.ok(t >= EARLIEST_MS && t <= LATEST_MS, `${what} fired after ${shown} ms; expected each within ${EARLIEST_MS}-${LATEST_MS} ms`);
}

describe('timeouts fire on time', () => {
  let upstream: RawUpstream;
  let proxy: RunningProxy;

  before(async () => {
    // /silent is read and never answered; anything else is answered at once.
    upstream = await startRawUpstream((req, socket) => {
      if (req.path !== '/silent') socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    });
    // The other timeouts keep their 60 s defaults: the sweep period follows the shortest.
    proxy = await startProxy({
      workers: 1,
      upstreams: { raw: { servers: [`127.0.0.1:${upstream.port}`] } },
      timeouts: { read: '2s', clientHeader: '2s', clientBody: '2s', keepAlive: '2s' },
    });
  });

  after(async () => {
    await proxy?.stop();
    await upstream?.close();
  });

  it('answers 504 when timeouts.read (proxy_read_timeout) runs out, at 2 s', async () => {
    const times = await staggered(() => probe(proxy.port, (socket, _received, mark) => {
      socket.write('GET /silent HTTP/1.1\r\nHost: x\r\n\r\n', () => mark());
    }, (received) => received.startsWith('HTTP/1.1 504 ')));
    assertOnTime('the upstream read timeout', times);
  });

  it('answers 408 when timeouts.clientHeader runs out, at 2 s', async () => {
    const times = await staggered(() => probe(proxy.port, (socket, _received, mark) => {
      // The worker starts the deadline when it gets the connection, a moment after this.
      mark();
      socket.write('GET / HTTP/1.1\r\nHost: x\r\n');
    }, (received) => received.startsWith('HTTP/1.1 408 ')));
    assertOnTime('the client header timeout', times);
  });

  it('answers 408 when timeouts.clientBody runs out between two reads of the body, at 2 s', async () => {
    const times = await staggered(() => probe(proxy.port, (socket, _received, mark) => {
      socket.write('POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab', () => mark());
    }, (received) => received.startsWith('HTTP/1.1 408 ')));
    assertOnTime('the client body timeout', times);
  });

  it('closes an idle keep-alive connection when timeouts.keepAlive runs out, at 2 s', async () => {
    const times = await staggered(() => probe(proxy.port, (socket, received, mark) => {
      socket.write('GET /ok HTTP/1.1\r\nHost: x\r\n\r\n');
      socket.on('data', () => {
        if (received().endsWith('\r\n\r\nok')) mark();
      });
    }, (_received, closed) => closed));
    assertOnTime('the keep-alive timeout', times);
  });
});
