// An upstream connection holds a read buffer only while it reads a response or while a client's
// write queue still holds bytes of it (the "lent" rule): connections waiting for their response or
// idle in the pool read into the worker's shared scratch buffer and hold none, and a buffer given
// back is reused by the next connection. Real sockets to a raw upstream; readBuffersHeld() counts.
import assert from 'node:assert/strict';
import type net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { readBuffersHeld } from '../../proxy/upstream/read-buffers';
import { UpstreamPool } from '../../proxy/upstream/upstream-pool';
import { waitFor } from '../helpers/procfs';
import { Exchange } from '../helpers/upstream-exchange';
import { startRawUpstream, type RawUpstream } from '../helpers/raw-upstream';

describe('upstream read buffers', () => {
  let upstream: RawUpstream;
  /** Responses held back until released (the upstream is "slow"). */
  let holding = false;
  const held: Array<() => void> = [];

  before(async () => {
    upstream = await startRawUpstream((req, socket: net.Socket) => {
      // The body: the path's letter, many times, so a slice overwritten by another response shows.
      const body = Buffer.alloc(3000, req.path.slice(1, 2));
      const send = () => socket.write(Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`), body]));
      if (holding) held.push(send);
      else send();
    });
  });
  after(async () => {
    await upstream?.close();
  });

  it('connections waiting for their response or idle in the pool hold no read buffer', async () => {
    const pool = new UpstreamPool('127.0.0.1', upstream.port, 4);
    const before = readBuffersHeld();
    holding = true;
    const exchanges = Array.from({ length: 12 }, (_, i) => new Exchange(pool, `/${'abcdefghijkl'[i]}`, false));
    await waitFor('every request reached the upstream', () => held.length === 12);
    assert.equal(readBuffersHeld(), before, 'twelve connections wait for their response and hold no buffer');
    holding = false;
    for (const send of held.splice(0)) send();
    await waitFor('every response read', () => exchanges.every((x) => x.ended));
    exchanges.forEach((x, i) => assert.equal(x.body(), 'abcdefghijkl'[i].repeat(3000)));
    assert.equal(readBuffersHeld(), before, 'four idle in the pool, eight closed: none holds a buffer');
    pool.close();
  });

  it('a buffer lent to a client is neither reused nor read into until the client has written it', async () => {
    const pool = new UpstreamPool('127.0.0.1', upstream.port, 8);
    const before = readBuffersHeld();
    const lent = new Exchange(pool, '/x', true);
    await waitFor('the lent response read', () => lent.ended);
    assert.notEqual(lent.free, null, 'the read was lent');
    assert.equal(readBuffersHeld(), before + 1, 'the lent buffer is held');
    // Many responses on new and reused connections while the lent bytes wait in the "client's" queue.
    for (let round = 0; round < 5; round++) {
      const others = Array.from({ length: 6 }, () => new Exchange(pool, '/y', false));
      await waitFor('the other responses read', () => others.every((x) => x.ended));
      for (const x of others) assert.equal(x.body(), 'y'.repeat(3000));
    }
    assert.equal(lent.body(), 'x'.repeat(3000), 'the lent bytes are intact');
    lent.free!();
    assert.equal(readBuffersHeld(), before + 1, 'idle after its lent read, the connection keeps its buffer: its socket still reads into it');
    pool.close();
    await waitFor('closed, it gives the buffer back', () => readBuffersHeld() === before);
  });

  it('a connection closed while its buffer is lent gives the buffer back only once the client has written it', async () => {
    const pool = new UpstreamPool('127.0.0.1', upstream.port, 0);
    const before = readBuffersHeld();
    const lent = new Exchange(pool, '/z', true);
    await waitFor('the lent response read', () => lent.ended);
    assert.equal(readBuffersHeld(), before + 1, 'keepalive 0: the connection is closed, its buffer still lent');
    const other = new Exchange(pool, '/w', false);
    await waitFor('another response read', () => other.ended);
    assert.equal(lent.body(), 'z'.repeat(3000), 'the lent bytes are intact');
    lent.free!();
    assert.equal(readBuffersHeld(), before);
    pool.close();
  });
});
