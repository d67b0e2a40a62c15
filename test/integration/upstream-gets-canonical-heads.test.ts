// What reaches the origin is framed from what the proxy parsed and validated, in one spelling,
// never the client's framing or Host bytes: a lenient upstream must not be able to read another
// request boundary or another host out of a request than the proxy did (and a keep-alive pool
// would spread that to other clients). Each case compares the origin's bytes with nginx's.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { rawExchange } from '../helpers/http-client';
import { startProxy, type RunningProxy } from '../helpers/proxy';
import { startRawUpstream, type RawRequest, type RawUpstream } from '../helpers/raw-upstream';

describe('the head an upstream gets', () => {
  let origin: RawUpstream;
  let proxy: RunningProxy;

  before(async () => {
    origin = await startRawUpstream((req, socket) => {
      const body = `${req.method} ${req.path} ${req.body.length}`;
      socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    });
    proxy = await startProxy({ workers: 1, upstreams: { backend: { servers: [`127.0.0.1:${origin.port}`] } } });
  });

  after(async () => {
    await proxy?.stop();
    await origin?.close();
  });

  /** The one request `bytes` put on the origin (asserting there was exactly one), and the client's answer. */
  async function forwarded(bytes: string): Promise<{ req: RawRequest; reply: string }> {
    const before = origin.requests.length;
    const reply = await rawExchange(proxy.port, bytes);
    const reqs = origin.requests.slice(before);
    assert.equal(reqs.length, 1, `one request reached the origin: ${JSON.stringify(reply.slice(0, 60))}`);
    return { req: reqs[0], reply };
  }

  /** The head's lines whose name is `name` (any case). */
  const lines = (req: RawRequest, name: string): string[] => req.rawHead.split('\r\n').filter((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`));

  it('carries Content-Length as the parsed number, in one spelling, whatever the client wrote', async () => {
    const { req, reply } = await forwarded('POST /cl HTTP/1.1\r\nHost: a.test\r\ncontent-LENGTH: 007\r\nConnection: close\r\n\r\nabcdefg');
    assert.match(reply, /^HTTP\/1\.1 200 [^]*POST \/cl 7$/);
    assert.deepEqual(lines(req, 'content-length'), ['Content-Length: 7']);
    assert.equal(req.body.toString(), 'abcdefg');
  });

  it('re-chunks a chunked body itself: no client chunk extensions, sizes or trailers reach the origin', async () => {
    const { req } = await forwarded(
      'POST /te HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: CHUNKED\r\nConnection: close\r\n\r\n003;ext="x"\r\nabc\r\n0\r\nX-Trailer: t\r\n\r\n',
    );
    assert.deepEqual(lines(req, 'transfer-encoding'), ['Transfer-Encoding: chunked']);
    assert.deepEqual(lines(req, 'content-length'), []);
    assert.equal(req.body.toString(), 'abc');
    assert.doesNotMatch(req.rawHead, /ext|x-trailer/i);
  });

  it('sends exactly one Host, canonical: lower-cased, no trailing dot, the port as a number', async () => {
    const { req } = await forwarded('GET /h HTTP/1.1\r\nhOsT: A.Test.:0080\r\nConnection: close\r\n\r\n');
    assert.deepEqual(lines(req, 'host'), ['Host: a.test:80']);
    assert.deepEqual(lines(req, 'x-forwarded-host'), ['X-Forwarded-Host: a.test:80']);
  });

  it('answers 400 to a Host whose port is not a number, and sends nothing upstream', async () => {
    for (const host of ['a.test:80x', 'a.test:8 0', 'a.test:99999', '[::1]x']) {
      const bytes = origin.bytesReceived();
      const reply = await rawExchange(proxy.port, `GET /h HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
      assert.match(reply, /^HTTP\/1\.1 400 [^]*\r\nConnection: close\r\n/, host);
      assert.equal(origin.bytesReceived(), bytes, `${host}: no byte reached the origin`);
    }
  });

  it('gives an HTTP/1.0 request without Host an HTTP/1.1 head with Host: the upstream name (nginx: $proxy_host)', async () => {
    const { req, reply } = await forwarded('GET /old HTTP/1.0\r\n\r\n');
    assert.match(reply, /^HTTP\/1\.1 200 [^]*GET \/old 0$/);
    assert.match(req.rawHead, /^GET \/old HTTP\/1\.1\r\n/);
    assert.deepEqual(lines(req, 'host'), ['Host: backend']);
    assert.deepEqual(lines(req, 'x-forwarded-host'), [], 'the proxy vouches for no client host');
    // HTTP/0.9 (no version): 505, where nginx would serve it as a body without a head.
    const bytes = origin.bytesReceived();
    assert.match(await rawExchange(proxy.port, 'GET /nine\r\n\r\n'), /^HTTP\/1\.1 505 /);
    assert.equal(origin.bytesReceived(), bytes);
  });

  it('takes an absolute-form target of HTTP/1.0 as the Host, canonical', async () => {
    const { req } = await forwarded('GET HTTP://Other.Test:8080/abs HTTP/1.0\r\n\r\n');
    assert.match(req.rawHead, /^GET \/abs HTTP\/1\.1\r\n/);
    assert.deepEqual(lines(req, 'host'), ['Host: other.test:8080']);
  });

  it('drops header names nginx ignores: underscores (CGI aliases) and other non-alphanumerics', async () => {
    const { req, reply } = await forwarded(
      'POST /u HTTP/1.1\r\nHost: a.test\r\nContent_Length: 100\r\nTransfer_Encoding: chunked\r\nX_Forwarded_For: 6.6.6.6\r\n' +
        'X.Real.IP: 6.6.6.6\r\nHost_: evil.test\r\nX-Kept: yes\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok',
    );
    assert.match(reply, /^HTTP\/1\.1 200 [^]*POST \/u 2$/);
    assert.doesNotMatch(req.rawHead, /_|6\.6\.6\.6|evil|X\.Real/);
    assert.deepEqual(lines(req, 'x-kept'), ['X-Kept: yes']);
    assert.deepEqual(lines(req, 'x-forwarded-for'), ['X-Forwarded-For: 127.0.0.1']);
  });

  it('re-emits values without the OWS around them, and refuses obs-fold with nothing sent upstream', async () => {
    const { req } = await forwarded('GET /ows HTTP/1.1\r\nHost: \t a.test \t\r\nX-A: \t v  w \t\r\nConnection: close\r\n\r\n');
    assert.deepEqual(lines(req, 'x-a'), ['X-A: v  w']);
    assert.deepEqual(lines(req, 'host'), ['Host: a.test']);
    const bytes = origin.bytesReceived();
    const reply = await rawExchange(proxy.port, 'GET /fold HTTP/1.1\r\nHost: a.test\r\nX-A: v\r\n w\r\n\r\n');
    assert.match(reply, /^HTTP\/1\.1 400 /);
    assert.equal(origin.bytesReceived(), bytes);
  });
});

describe('a head the proxy refuses', () => {
  let origin: RawUpstream;
  let proxy: RunningProxy;

  before(async () => {
    origin = await startRawUpstream((_req, socket) => socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'));
    proxy = await startProxy({ workers: 1, upstreams: { backend: { servers: [`127.0.0.1:${origin.port}`] } } });
  });

  after(async () => {
    await proxy?.stop();
    await origin?.close();
  });

  it('never reaches the origin, not even in part, when llhttp refuses it after its head callback', async () => {
    const cases: [string, number][] = [
      // A coding after chunked that JavaScript's trim() would take off (NBSP) but llhttp does not.
      ['POST /nbsp HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\xa0\r\n\r\n3\r\nabc\r\n0\r\n\r\n', 501],
      ['POST /vt HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: gzip\r\n\r\n3\r\nabc\r\n0\r\n\r\n', 501],
      // A chunked body that is malformed in the same read as its head.
      ['POST /size HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n', 400],
    ];
    for (const [bytes, status] of cases) {
      const before = origin.bytesReceived();
      const reply = await rawExchange(proxy.port, Buffer.from(bytes, 'latin1'));
      assert.match(reply, new RegExp(`^HTTP/1\\.1 ${status} [^]*\\r\\nConnection: close\\r\\n`), JSON.stringify(bytes.slice(0, 20)));
      assert.equal(origin.bytesReceived(), before, `${JSON.stringify(bytes.slice(0, 20))}: no byte reached the origin`);
    }
  });
});
