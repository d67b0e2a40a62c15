// A chunked request body goes upstream a client read at a time, not a chunk at a time: written a
// chunk at a time, a client that packs thousands of 1-byte chunks into one write costs three writes
// per chunk (size line, byte, CRLF), each a syscall on a connection with Nagle off: a few bytes in
// cost the worker three writes out. The worker's own count of write syscalls shows it.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decodeBody, rawConversation } from '../helpers/http-client';
import { writeSyscalls } from '../helpers/procfs';
import { startProxy, type RunningProxy } from '../helpers/proxy';
import { startRawUpstream, type RawUpstream } from '../helpers/raw-upstream';

const CHUNKS = 3_000;

describe('a chunked request body of many tiny chunks', () => {
  let upstream: RawUpstream;
  let proxy: RunningProxy;

  before(async () => {
    upstream = await startRawUpstream((req, socket) => {
      socket.write(Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${req.body.length}\r\n\r\n`), req.body]));
    });
    proxy = await startProxy({ workers: 1, upstreams: { u: { servers: [`127.0.0.1:${upstream.port}`], keepalive: 4 } } });
  });
  after(async () => {
    await proxy?.stop();
    await upstream?.close();
  });

  it(`reaches the upstream whole, in a few writes rather than ${CHUNKS * 3}`, async () => {
    const [worker] = proxy.workerPids();
    // A connected upstream connection in the pool (net would gather the writes made while it
    // connects into one anyway).
    await rawConversation(proxy.port, async (socket) => void socket.write('GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n'));
    const bytes = Array.from({ length: CHUNKS }, (_, i) => String.fromCharCode(97 + (i % 26))).join('');
    const chunks = [...bytes].map((b) => `1\r\n${b}\r\n`).join('');
    const request = `POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${chunks}0\r\n\r\n`;
    const writesBefore = writeSyscalls(worker);
    const answer = await rawConversation(proxy.port, async (socket) => void socket.write(request));
    const writes = writeSyscalls(worker) - writesBefore;
    assert.match(answer, /^HTTP\/1\.1 200 OK/);
    assert.equal(decodeBody(answer), bytes);
    assert.equal(upstream.requests.length, 2);
    assert.equal(upstream.connections(), 1);
    // One write per client read of the 18 KB request (it may come in a few), the answer, and
    // a log line or two; a write per chunk would be thousands.
    assert.ok(writes < 100, `the worker made ${writes} write syscalls`);
  });
});
