// The keep-alive pool holds at most `keepalive` idle connections whenever the worker waits for
// events, but closes the surplus at the end of the event-loop turn, not at once: requests read in
// the same turn as the responses that freed connections reuse them instead of opening new ones.
// The least recently used go, as nginx closes the last of its cache. Real sockets to a raw upstream.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { UpstreamPool } from '../../proxy/upstream/upstream-pool';
import { waitFor } from '../helpers/procfs';
import { startRawUpstream, type RawUpstream } from '../helpers/raw-upstream';
import { Exchange } from '../helpers/upstream-exchange';

const turnEnds = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('the keep-alive pool past keepalive', () => {
  let upstream: RawUpstream;

  before(async () => {
    upstream = await startRawUpstream((_req, socket) => socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'));
  });
  after(async () => {
    await upstream?.close();
  });

  it('reuses the connections released in the same turn, then keeps only the most recently used', async () => {
    const pool = new UpstreamPool('127.0.0.1', upstream.port, 2);
    const exchanges = Array.from({ length: 6 }, () => new Exchange(pool, '/', false, false));
    await waitFor('six responses', () => exchanges.every((x) => x.ended));
    const conns = exchanges.map((x) => x.conn);
    assert.equal(upstream.connections(), 6);

    for (const conn of conns) pool.release(conn, true);
    const again = conns.map(() => pool.acquire());
    assert.deepEqual(new Set(again), new Set(conns), 'six requests in the same turn take the six released connections, no new one');

    for (const conn of conns) pool.release(conn, true);
    assert.ok(conns.every((c) => c.usable), 'until the turn ends, the surplus stays open');
    await turnEnds();
    assert.deepEqual(conns.map((c) => c.usable), [false, false, false, false, true, true], 'the four least recently used are closed');
    assert.equal(pool.acquire(), conns[5]);
    assert.equal(pool.acquire(), conns[4]);
    pool.close();
    for (const conn of conns) conn.destroy();
  });

  it('keepalive 0 keeps none, not even for the rest of the turn', async () => {
    const pool = new UpstreamPool('127.0.0.1', upstream.port, 0);
    const x = new Exchange(pool, '/', false, false);
    await waitFor('the response', () => x.ended);
    pool.release(x.conn, true);
    assert.equal(x.conn.usable, false);
    pool.close();
  });
});
