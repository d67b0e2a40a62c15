// Framings and races a proxy on raw sockets + llhttp must handle itself (node:http's would):
// pipelining, upstream Connection: close, close-delimited and chunked upstream bodies, a pooled
// connection the upstream dropped, 1xx both ways, HTTP/1.0 clients. Real sockets throughout.
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { decodeBody, patternBody, rawConversation, rawExchange, request } from '../helpers/http-client';
import { waitFor } from '../helpers/procfs';
import { startProxy, type RunningProxy } from '../helpers/proxy';
import { startRawUpstream, type RawUpstream } from '../helpers/raw-upstream';

/** Reads a whole response from the proxy slowly: a pause after every `burst` bytes. */
function slowRead(port: number, path: string, burst: number, pauseMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let sinceStop = 0;
    const socket = net.connect(port, '127.0.0.1', () => socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`));
    socket.on('data', (d: Buffer) => {
      chunks.push(d);
      sinceStop += d.length;
      if (sinceStop >= burst) {
        sinceStop = 0;
        socket.pause();
        setTimeout(() => socket.resume(), pauseMs);
      }
    });
    socket.on('error', reject);
    socket.on('end', () => resolve(Buffer.concat(chunks)));
    socket.setTimeout(20_000, () => socket.destroy(new Error('slow read timed out')));
  });
}

/** decodeBody (Content-Length or chunked) on bytes: latin1 maps each byte to one char and back. */
function bodyBytes(response: Buffer): Buffer {
  return Buffer.from(decodeBody(response.toString('latin1')), 'latin1');
}

const ok = (body: string, extra = ''): string => `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n${extra}\r\n${body}`;

describe('framing edge cases', () => {
  let upstream: RawUpstream;
  let proxy: RunningProxy;

  before(async () => {
    upstream = await startRawUpstream((req, socket) => {
      const [, route] = req.path.split('/');
      switch (route) {
        case 'echo-path':
          socket.write(ok(req.path));
          break;
        case 'stray':
          // A complete response, then the start of another one nobody asked for.
          socket.write(`${ok('first')}HTTP/1.1 200 OK\r\nContent-Le`);
          break;
        case 'conn-close':
          // Says close but leaves the socket open: only the proxy's reading of the header keeps it
          // from sending another request on this connection.
          socket.write(ok('bye', 'Connection: close\r\n'));
          break;
        case 'eof':
          // No Content-Length, no chunked: the body ends when the connection does.
          socket.write('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nclose-');
          setTimeout(() => socket.end('delimited'), 30);
          break;
        case 'chunked':
          socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n');
          setTimeout(() => socket.write('6\r\n world\r\n0\r\n\r\n'), 30);
          break;
        case 'pattern': {
          // /pattern/<bytes>/<seed>: a Content-Length body (the proxy forwards it without llhttp).
          const [, , bytes, seed] = req.path.split('/');
          const body = patternBody(Number(bytes), Number(seed));
          socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`);
          socket.write(body);
          break;
        }
        case 'pattern-chunked': {
          const [, , bytes, seed] = req.path.split('/');
          const body = patternBody(Number(bytes), Number(seed));
          socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n');
          for (let at = 0; at < body.length; at += 100_000) {
            const part = body.subarray(at, at + 100_000);
            socket.write(`${part.length.toString(16)}\r\n`);
            socket.write(part);
            socket.write('\r\n');
          }
          socket.write('0\r\n\r\n');
          break;
        }
        case 'dated':
          socket.write(ok('dated', 'Date: Tue, 01 Jan 2030 00:00:00 GMT\r\nServer: Apache/2.4.1 (Unix)\r\nX-Accel-Redirect: /internal\r\nX-Pad: avoid browser bug\r\nX-Kept: yes\r\n'));
          break;
        case 'early-hints':
          socket.write('HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n');
          setTimeout(() => socket.write(ok('final')), 20);
          break;
        case 'echo-body':
          socket.write(ok(req.body.toString('latin1'), `X-Saw-Expect: ${/\r\nexpect:/.test(req.head)}\r\n`));
          break;
        case 'stale':
          // The second request on any connection finds it closed: the keep-alive race.
          if (req.nth > 1) socket.destroy();
          else socket.write(ok(`fresh-${req.nth}`));
          break;
        default:
          socket.write('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
      }
    });
    proxy = await startProxy({
      workers: 1,
      upstreams: { raw: { servers: [`127.0.0.1:${upstream.port}`], keepalive: 4 } },
      timeouts: { read: '2s', clientHeader: '2s' },
    });
  });
  after(async () => {
    await proxy?.stop();
    await upstream?.close();
  });

  it('answers pipelined requests in order on one connection', async () => {
    const raw = await rawExchange(
      proxy.port,
      'GET /echo-path/1 HTTP/1.1\r\nHost: x\r\n\r\nGET /echo-path/2 HTTP/1.1\r\nHost: x\r\n\r\n' +
        'GET /echo-path/3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    );
    const bodies = raw.split('HTTP/1.1 200 OK').slice(1).map((r) => decodeBody(`HTTP/1.1 200 OK${r}`));
    assert.deepEqual(bodies, ['/echo-path/1', '/echo-path/2', '/echo-path/3']);
    assert.match(raw.split('HTTP/1.1 200 OK')[3], /Connection: close/i, 'the last response says close, as the client asked');
  });

  it("an upstream's Connection: close ends that upstream connection, not the client's", async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const replies = [];
    for (let i = 0; i < 3; i++) replies.push(await request(`${proxy.url}/conn-close`, { agent }));
    replies.push(await request(`${proxy.url}/echo-path/next`, { agent }));
    agent.destroy();
    assert.deepEqual(replies.map((r) => r.body.toString()), ['bye', 'bye', 'bye', '/echo-path/next']);
    assert.equal(new Set(replies.map((r) => r.localPort)).size, 1, 'the client connection was kept');
    assert.equal(replies[0].headers.connection, 'keep-alive');
    const closedConns = upstream.requests.filter((r) => r.path === '/conn-close').map((r) => r.conn);
    const reusedAfterClose = upstream.requests.filter((r, i) => closedConns.includes(r.conn) && upstream.requests.findIndex((q) => q.conn === r.conn && q.path === '/conn-close') < i);
    assert.deepEqual(reusedAfterClose, [], 'no request was sent on an upstream connection after its Connection: close');
  });

  it('re-frames a close-delimited upstream body as chunked for HTTP/1.1, and closes for HTTP/1.0', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const a = await request(`${proxy.url}/eof`, { agent });
    const b = await request(`${proxy.url}/echo-path/after-eof`, { agent });
    agent.destroy();
    assert.equal(a.body.toString(), 'close-delimited');
    assert.equal(a.headers['transfer-encoding'], 'chunked');
    assert.equal(a.localPort, b.localPort, 'the client connection survives a close-delimited upstream body');
    const old = await rawExchange(proxy.port, 'GET /eof HTTP/1.0\r\nHost: x\r\n\r\n');
    assert.match(old, /^HTTP\/1\.1 200 OK\r\n/);
    assert.doesNotMatch(old, /transfer-encoding/i, 'no chunked framing for an HTTP/1.0 client');
    assert.match(old, /Connection: close\r\n/i);
    assert.ok(old.endsWith('\r\n\r\nclose-delimited'), 'the body ends with the connection');
  });

  it('streams a chunked upstream response', async () => {
    const reply = await request(`${proxy.url}/chunked`);
    assert.equal(reply.body.toString(), 'hello world');
    assert.equal(reply.headers['transfer-encoding'], 'chunked');
  });

  it('retries a request once when a pooled upstream connection turns out to be closed', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const first = await request(`${proxy.url}/stale`, { agent });
    const second = await request(`${proxy.url}/stale`, { agent });
    agent.destroy();
    assert.equal(first.body.toString(), 'fresh-1');
    assert.equal(second.status, 200, 'the stale connection was retried, not answered with 502');
    assert.equal(second.body.toString(), 'fresh-1', 'on a new upstream connection');
    // The race is not the server's fault: it is not marked down, so the next request goes there too.
    assert.equal((await request(`${proxy.url}/echo-path/x`)).status, 200);
  });

  it('drops interim 1xx responses from the upstream and passes the final one', async () => {
    const raw = await rawExchange(proxy.port, 'GET /early-hints HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.match(raw, /^HTTP\/1\.1 200 OK\r\n/);
    assert.doesNotMatch(raw, /103/);
    assert.equal(decodeBody(raw), 'final');
  });

  it('answers Expect: 100-continue itself and forwards the body without Expect', async () => {
    const raw = await rawConversation(proxy.port, async (socket, received) => {
      socket.write('POST /echo-body HTTP/1.1\r\nHost: x\r\nContent-Length: 7\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n');
      await waitFor('100 Continue', () => received().includes('100 Continue'), 2_000);
      socket.write('payload');
    });
    assert.match(raw, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 OK\r\n/);
    assert.match(raw, /X-Saw-Expect: false/i, 'Expect is not forwarded: the upstream would answer 100 again');
    assert.equal(decodeBody(raw.slice(raw.indexOf('HTTP/1.1 200'))), 'payload');
  });

  it('refuses an HTTP/1.1 request without Host (400) and a head over 32 KiB (431); takes one of 24 KiB, as nginx', async () => {
    assert.match(await rawExchange(proxy.port, 'GET /echo-path/x HTTP/1.1\r\n\r\n'), /^HTTP\/1\.1 400 /);
    const cookies = Array.from({ length: 3 }, (_, i) => `Cookie: c${i}=${'a'.repeat(8_000)}\r\n`).join('');
    const big = await rawExchange(proxy.port, `GET /echo-path/cookies HTTP/1.1\r\nHost: x\r\nConnection: close\r\n${cookies}\r\n`);
    assert.match(big, /^HTTP\/1\.1 200 /);
    const huge = await rawExchange(proxy.port, `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(40_000)}\r\n\r\n`);
    assert.match(huge, /^HTTP\/1\.1 431 /);
    const many = Array.from({ length: 400 }, (_, i) => `X-H${i}: ${'b'.repeat(90)}\r\n`).join('');
    assert.match(await rawExchange(proxy.port, `GET / HTTP/1.1\r\nHost: x\r\n${many}\r\n`), /^HTTP\/1\.1 431 /);
    // Split where the next read looks like a request line ("Bearer x" is not one), or in a
    // chunked body's trailers: still the headers' fault.
    const twoReads = (first: string, second: string): Promise<string> =>
      rawConversation(proxy.port, async (socket) => {
        socket.write(first);
        await new Promise((r) => setTimeout(r, 100));
        socket.write(second);
      });
    assert.match(await twoReads('GET / HTTP/1.1\r\nHost: x\r\nAuthorization: ', `Bearer ${'t'.repeat(40_000)}\r\n\r\n`), /^HTTP\/1\.1 431 /);
    assert.match(await twoReads('POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\nX-Trailer: ', `${'t'.repeat(40_000)}\r\n\r\n`), /^HTTP\/1\.1 431 /);
  });

  // nginx: 414 when the request line is what does not fit (a URI too long), not the headers.
  it('answers 414 to a request line over 32 KiB, in one read, split over two, or after a kept-alive request', async () => {
    const uri = `/${'u'.repeat(40_000)}`;
    assert.match(await rawExchange(proxy.port, `GET ${uri} HTTP/1.1\r\nHost: x\r\n\r\n`), /^HTTP\/1\.1 414 /);
    const split = await rawConversation(proxy.port, async (socket) => {
      socket.write(`GET ${uri.slice(0, 20_000)}`);
      await new Promise((r) => setTimeout(r, 100));
      socket.write(`${uri.slice(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`);
    });
    // Told from the line the head was cut in, however many reads it came in (head-overflow.ts).
    assert.match(split, /^HTTP\/1\.1 414 /);
    const inMethod = await rawConversation(proxy.port, async (socket) => {
      socket.write('GE');
      await new Promise((r) => setTimeout(r, 100));
      socket.write(`T ${uri} HTTP/1.1\r\nHost: x\r\n\r\n`);
    });
    assert.match(inMethod, /^HTTP\/1\.1 414 /);
    // On a kept-alive connection, after a request whose head had a line of its own.
    const second = await rawConversation(proxy.port, async (socket, received) => {
      socket.write('GET /echo-path/first HTTP/1.1\r\nHost: x\r\n\r\n');
      await waitFor('the first answer', () => received().endsWith('/echo-path/first'), 2_000);
      socket.write(`GET ${uri} HTTP/1.1\r\nHost: x\r\n\r\n`);
    });
    assert.match(second, /^HTTP\/1\.1 200 [^]*\/echo-path\/firstHTTP\/1\.1 414 /);
  });
  // Upstream reads land in one buffer per connection, reused for the next read: bytes of it that a
  // slow client has not taken yet must be written before the upstream is read again.
  it('a slow client gets a large body byte-exact (Content-Length and chunked)', async () => {
    const size = 8 * 1024 * 1024 + 123;
    const [plain, chunked] = await Promise.all([
      slowRead(proxy.port, `/pattern/${size}/7`, 512 * 1024, 25),
      slowRead(proxy.port, `/pattern-chunked/${size}/9`, 512 * 1024, 25),
    ]);
    assert.match(plain.toString('latin1', 0, 100), /^HTTP\/1\.1 200 OK\r\n/);
    const body = bodyBytes(plain);
    assert.equal(body.length, size);
    assert.ok(body.equals(patternBody(size, 7)), 'the Content-Length body arrived byte for byte');
    assert.ok(bodyBytes(chunked).equals(patternBody(size, 9)), 'the chunked body arrived byte for byte');
    // And the connections those bodies came on still serve the next request properly.
    const after = await request(`${proxy.url}/pattern/1000/3`);
    assert.ok(after.body.equals(patternBody(1000, 3)));
  });

  it("gives every response the proxy's own Date and Server, hiding the upstream's and its X-Accel-*, as nginx", async () => {
    const undated = await request(`${proxy.url}/echo-path/undated`);
    const date = String(undated.headers.date);
    assert.match(date, /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/, 'an IMF-fixdate');
    assert.ok(Math.abs(Date.parse(date) - Date.now()) < 5_000, `${date} is now`);
    const dated = await rawExchange(proxy.port, 'GET /dated HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    const dates = dated.match(/^date: .*$/gim) ?? [];
    assert.equal(dates.length, 1, 'one Date');
    assert.ok(Math.abs(Date.parse(dates[0].slice(6)) - Date.now()) < 5_000, `${dates[0]}: the proxy's clock, not the upstream's`);
    assert.deepEqual(dated.match(/^server: .*$/gim), ['Server: handoff']);
    assert.doesNotMatch(dated, /x-accel|x-pad/i);
    assert.match(dated, /\r\nX-Kept: yes\r\n/);
    const own = await rawExchange(proxy.port, 'GET /echo-path/x HTTP/1.1\r\n\r\n');
    assert.match(own, /^HTTP\/1\.1 400 [^]*\r\nDate: [A-Z][a-z]{2}, /);
  });

  it('drops an upstream connection that sent more than the response, instead of pooling it', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const first = await request(`${proxy.url}/stray`, { agent });
    // A POST: it has a body, so a broken pooled connection would not be retried but answered 502.
    const second = await request(`${proxy.url}/echo-path/after-stray`, { agent, method: 'POST', body: 'x' });
    agent.destroy();
    assert.equal(first.body.toString(), 'first');
    assert.equal(second.status, 200, 'the next request did not inherit the stray bytes');
    assert.equal(second.body.toString(), '/echo-path/after-stray');
  });
});
