// Requests built to make the proxy and the upstream disagree about where a message ends, which
// Host it is for, or which route it takes — each compared with what nginx does with it. Every
// case here got through before it was fixed (a review against nginx 1.22 found them).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { rawConversation, rawExchange } from '../helpers/http-client';
import { startProxy, type RunningProxy } from '../helpers/proxy';
import { startRawUpstream, type RawRequest, type RawUpstream } from '../helpers/raw-upstream';

const answer = (name: string) => (req: RawRequest, socket: import('node:net').Socket) => {
  const body = `${name} ${req.path}`;
  socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
};

describe('hostile requests', () => {
  let publicSide: RawUpstream;
  let adminSide: RawUpstream;
  let proxy: RunningProxy;

  before(async () => {
    publicSide = await startRawUpstream(answer('public'));
    adminSide = await startRawUpstream(answer('admin'));
    proxy = await startProxy({
      workers: 1,
      upstreams: {
        pub: { servers: [`127.0.0.1:${publicSide.port}`] },
        admin: { servers: [`127.0.0.1:${adminSide.port}`] },
      },
      routes: [
        { pathPrefix: '/', upstream: 'pub' },
        { pathPrefix: '/admin', upstream: 'admin' },
      ],
    });
  });

  after(async () => {
    await proxy.stop();
    await publicSide.close();
    await adminSide.close();
  });

  /** The requests each upstream received during `during`. */
  async function received(during: () => Promise<unknown>): Promise<{ pub: RawRequest[]; admin: RawRequest[] }> {
    const p = publicSide.requests.length;
    const a = adminSide.requests.length;
    await during();
    return { pub: publicSide.requests.slice(p), admin: adminSide.requests.slice(a) };
  }

  it('keeps Content-Length when Connection names it, so a body cannot become a second request', async () => {
    const hidden = 'GET /admin/secret HTTP/1.1\r\nHost: internal\r\n\r\n';
    const seen = await received(() =>
      rawExchange(proxy.port, `POST /public HTTP/1.1\r\nHost: a.test\r\nConnection: Content-Length\r\nContent-Length: ${hidden.length}\r\n\r\n${hidden}`, 1_500),
    );
    assert.equal(seen.pub.length, 1, 'the upstream got one request');
    assert.equal(seen.pub[0].path, '/public');
    assert.equal(seen.pub[0].body.toString('latin1'), hidden, 'with its body, under its length');
    assert.equal(seen.admin.length, 0);
  });

  it('keeps Host when Connection names it', async () => {
    const seen = await received(() => rawExchange(proxy.port, 'GET /x HTTP/1.1\r\nHost: a.test\r\nConnection: Host, close\r\n\r\n'));
    assert.match(seen.pub[0].head, /\r\nhost: a\.test\r\n/);
  });

  it("drops a chunked request's trailers instead of prepending them to the next request", async () => {
    const seen = await received(() =>
      rawConversation(proxy.port, async (socket, got) => {
        socket.write('POST /1 HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-Injected: from-trailer\r\nHost: evil.test\r\n\r\n');
        while (!got().includes('public /1')) await new Promise((r) => setTimeout(r, 10));
        // The next head in two reads: llhttp then hands its headers over in pieces.
        socket.write('GET /2 HTTP/1.1\r\nHo');
        await new Promise((r) => setTimeout(r, 50));
        socket.write('st: a.test\r\nConnection: close\r\n\r\n');
      }),
    );
    // (The test upstream frames by Content-Length only: the chunked body shows up as noise.)
    const second = seen.pub.find((r) => r.method === 'GET');
    assert.ok(second, 'the second request reached the upstream');
    assert.equal(second.path, '/2', 'not the previous URL and this one joined');
    assert.doesNotMatch(second.head, /x-injected|evil/);
    assert.match(second.head, /\r\nx-forwarded-host: a\.test\r\n/);
  });

  it('answers 400 to two Host headers and to a Host that is not a host name', async () => {
    for (const hosts of ['Host: a.test\r\nHost: evil.test\r\n', 'Host: a/b\r\n', 'Host:\r\n', 'Host: a..test\r\n']) {
      const seen = await received(async () => {
        const reply = await rawExchange(proxy.port, `GET /x HTTP/1.1\r\n${hosts}\r\n`);
        assert.match(reply, /^HTTP\/1\.1 400 /, JSON.stringify(hosts));
      });
      assert.equal(seen.pub.length + seen.admin.length, 0, 'nothing reached an upstream');
    }
  });

  it('routes on the normalised path, as nginx matches locations, and forwards the target as sent', async () => {
    for (const target of ['/public/../admin/x', '/%61dmin/x', '/public/%2e%2e/admin/x', '//admin/x', '/./admin/x']) {
      const seen = await received(() => rawExchange(proxy.port, `GET ${target} HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n`));
      assert.equal(seen.pub.length, 0, `${target} does not slip past the /admin route`);
      assert.equal(seen.admin.length, 1, target);
      assert.equal(seen.admin[0].path, target);
    }
  });

  it('routes on the path before a fragment, as nginx: a # cannot hide a dot segment', async () => {
    for (const [target, side] of [['/admin#/../x', 'admin'], ['/admin/secret#/../../x', 'admin'], ['/x#/../admin', 'pub']] as const) {
      const seen = await received(() => rawExchange(proxy.port, `GET ${target} HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n`));
      assert.equal(seen[side].length, 1, `${target} goes to ${side}`);
      assert.equal(seen[side === 'admin' ? 'pub' : 'admin'].length, 0, target);
    }
  });

  it('answers 400 to a path above the root and to a target that is not a path', async () => {
    for (const line of ['GET /../../etc/passwd HTTP/1.1', 'GET /a/%2e%2e/%2e%2e/b HTTP/1.1', 'GET /a%00b HTTP/1.1', 'OPTIONS * HTTP/1.1']) {
      const reply = await rawExchange(proxy.port, `${line}\r\nHost: a.test\r\n\r\n`);
      assert.match(reply, /^HTTP\/1\.1 400 /, line);
    }
  });

  it('refuses CONNECT as nginx does: 405, or 400 for an authority-form target', async () => {
    for (const [target, status] of [['/x', 405], [`127.0.0.1:${publicSide.port}`, 400]] as const) {
      const seen = await received(async () => {
        const reply = await rawExchange(proxy.port, `CONNECT ${target} HTTP/1.1\r\nHost: a.test\r\n\r\n`);
        assert.match(reply, new RegExp(`^HTTP/1\\.1 ${status} `), target);
      });
      assert.equal(seen.pub.length, 0);
    }
  });

  it('answers 501 to a transfer coding other than chunked, and 400 to chunked on HTTP/1.0', async () => {
    const gzip = await rawExchange(proxy.port, 'POST /x HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n');
    assert.match(gzip, /^HTTP\/1\.1 501 /);
    const old = await rawExchange(proxy.port, 'POST /x HTTP/1.0\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n');
    assert.match(old, /^HTTP\/1\.1 400 /);
  });

  it('answers a good request before pipelined garbage, then closes', async () => {
    const reply = await rawExchange(proxy.port, 'GET /first HTTP/1.1\r\nHost: a.test\r\n\r\nthis is not HTTP\r\n\r\n');
    assert.match(reply, /^HTTP\/1\.1 200 [^]*?\r\n\r\npublic \/first/, 'the good request got its own answer first');
    const rest = reply.slice(reply.indexOf('public /first') + 'public /first'.length);
    assert.ok(rest === '' || /^HTTP\/1\.1 400 /.test(rest), `then nothing, or a 400 (nginx): ${JSON.stringify(rest.slice(0, 30))}`);
  });

  it('answers 505 to an HTTP version other than 1.x', async () => {
    const seen = await received(async () => {
      const reply = await rawExchange(proxy.port, 'GET /x HTTP/2.0\r\nHost: a.test\r\n\r\n');
      assert.match(reply, /^HTTP\/1\.1 505 /);
    });
    assert.equal(seen.pub.length, 0);
  });

  it('serves an absolute-form target as origin-form, with its authority as the Host', async () => {
    const seen = await received(async () => {
      const reply = await rawExchange(proxy.port, 'GET http://other.test/admin/y?q=1 HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n');
      assert.match(reply, /^HTTP\/1\.1 200 [^]*admin \/admin\/y\?q=1$/);
    });
    assert.equal(seen.admin.length, 1);
    assert.equal(seen.admin[0].path, '/admin/y?q=1');
    assert.match(seen.admin[0].head, /\r\nhost: other\.test\r\n/);
    assert.doesNotMatch(seen.admin[0].head, /a\.test/);
  });

  it("still checks an absolute-form request's own Host headers, refuses userinfo, and ignores a fragment", async () => {
    for (const hosts of ['', 'Host: a.test\r\nHost: b.test\r\n', 'Host: a b\r\n']) {
      const reply = await rawExchange(proxy.port, `GET http://other.test/x HTTP/1.1\r\n${hosts}\r\n`);
      assert.match(reply, /^HTTP\/1\.1 400 /, JSON.stringify(hosts));
    }
    const userinfo = await rawExchange(proxy.port, 'GET http://user:pw@other.test/x HTTP/1.1\r\nHost: a.test\r\n\r\n');
    assert.match(userinfo, /^HTTP\/1\.1 400 /);
    const fragment = await rawExchange(proxy.port, 'GET http://other.test/x#f HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n');
    assert.match(fragment, /^HTTP\/1\.1 200 /);
  });
});

describe('an upstream response whose Connection header names Content-Length', () => {
  let upstream: RawUpstream;
  let proxy: RunningProxy;

  before(async () => {
    upstream = await startRawUpstream((_req, socket) => socket.write('HTTP/1.1 200 OK\r\nConnection: Content-Length\r\nContent-Length: 5\r\n\r\nhello'));
    proxy = await startProxy({ workers: 1, upstreams: { u: { servers: [`127.0.0.1:${upstream.port}`] } } });
  });

  after(async () => {
    await proxy.stop();
    await upstream.close();
  });

  it('still gives the client the length, so a keep-alive client knows where the body ends', async () => {
    const reply = await rawExchange(proxy.port, 'GET / HTTP/1.1\r\nHost: a.test\r\n\r\n', 1_000);
    assert.match(reply, /^HTTP\/1\.1 200 [^]*\r\ncontent-length: 5\r\n[^]*\r\n\r\nhello$/i);
  });
});

describe('an upstream response header with bytes above 0x7f', () => {
  let upstream: RawUpstream;
  let proxy: RunningProxy;

  before(async () => {
    upstream = await startRawUpstream((req, socket) => {
      if (req.path === '/slow') setTimeout(() => socket.write('HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nslow'), 500);
      else socket.write(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Disposition: attachment; filename="caf\xe9.txt"\r\n\r\nok', 'latin1'));
    });
    proxy = await startProxy({ workers: 1, upstreams: { u: { servers: [`127.0.0.1:${upstream.port}`] } } });
  });

  after(async () => {
    await proxy.stop();
    await upstream.close();
  });

  it('never takes the worker down: the bytes are passed on, and a request beside it is served', async () => {
    const workers = proxy.workerPids();
    const beside = rawExchange(proxy.port, 'GET /slow HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    await new Promise((r) => setTimeout(r, 100));
    const reply = await rawExchange(proxy.port, 'GET /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.match(reply, /^HTTP\/1\.1 200 [^]*\r\nContent-Disposition: attachment; filename="caf\xe9\.txt"\r\n/);
    assert.match(await beside, /^HTTP\/1\.1 200 [^]*slow$/);
    assert.deepEqual(proxy.workerPids(), workers, 'the same worker');
  });
});
