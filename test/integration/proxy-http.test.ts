// HTTP/1.1 through the real master and workers to the real sample backend, on loopback.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { startBackend, type RunningBackend } from '../helpers/backend';
import { deadPort, decodeBody, rawConversation, rawExchange, request, sha256 } from '../helpers/http-client';
import { waitFor } from '../helpers/procfs';
import { expectFdsAtBaseline, startProxy, type RunningProxy } from '../helpers/proxy';

describe('proxying HTTP/1.1', () => {
  let backend: RunningBackend;
  let proxy: RunningProxy;
  let baseline: Map<number, number>;

  before(async () => {
    backend = await startBackend({ id: 'b1' });
    proxy = await startProxy({
      upstreams: { app: { servers: [`127.0.0.1:${backend.port}`], keepalive: 8 } },
      timeouts: { read: '500ms', clientHeader: '1s' },
    });
    // Warm both workers first: Node opens a few fds lazily on its first proxied request (one
    // /dev/null among them) and keeps them for the life of the process. Those are not leaks.
    const agent = new http.Agent({ keepAlive: true });
    await Promise.all([request(`${proxy.url}/delay?ms=50`, { agent }), request(`${proxy.url}/delay?ms=50`, { agent })]);
    agent.destroy();
    await new Promise((r) => setTimeout(r, 100));
    baseline = proxy.fdCounts();
  });
  after(async () => {
    await proxy?.stop();
    await backend?.stop();
  });

  it('serves a GET with the backend instance id', async () => {
    const reply = await request(`${proxy.url}/`);
    assert.equal(reply.status, 200);
    assert.equal(reply.headers['x-backend-id'], 'b1');
    assert.match(reply.body.toString(), /b1/);
  });

  it('streams a 10 MiB POST body both ways byte-exact', async () => {
    const body = crypto.randomBytes(10 * 1024 * 1024);
    const reply = await request(`${proxy.url}/echo/stream`, { method: 'POST', body, headers: { 'content-type': 'application/octet-stream' } });
    assert.equal(reply.status, 200);
    assert.equal(reply.body.length, body.length);
    assert.equal(sha256(reply.body), sha256(body));
  });

  it('streams a chunked request body of unknown length', async () => {
    const reply = await new Promise<Buffer>((resolve, reject) => {
      const req = http.request(`${proxy.url}/echo/stream`, { method: 'PUT', agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve(Buffer.concat(chunks)));
      });
      req.on('error', reject);
      for (let i = 0; i < 50; i++) req.write(`chunk-${i};`);
      req.end();
    });
    assert.equal(reply.toString(), Array.from({ length: 50 }, (_, i) => `chunk-${i};`).join(''));
  });

  it('reuses keep-alive connections on both sides', async () => {
    const backendConnections = async () =>
      (JSON.parse((await request(`${backend.url}/stats`)).body.toString()) as { connectionsTotal: number }).connectionsTotal;
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const ports = new Set<number>();
    const before = await backendConnections();
    for (let i = 0; i < 20; i++) ports.add((await request(`${proxy.url}/`, { agent })).localPort);
    agent.destroy();
    assert.equal(ports.size, 1, 'the proxy kept the client connection open across 20 requests');
    // One client connection is served by one worker, which reuses its pooled upstream connection
    // (the /stats request itself is one more backend connection).
    const opened = (await backendConnections()) - before;
    assert.ok(opened <= 2, `20 requests opened ${opened - 1} upstream connection(s), not 20`);
    // New client connections, each possibly on another worker: still no new upstream connection
    // per request beyond one per worker.
    const again = await backendConnections();
    for (let i = 0; i < 10; i++) await request(`${proxy.url}/`);
    const more = (await backendConnections()) - again;
    assert.ok(more <= 3, `10 sequential requests on new client connections opened ${more - 1} upstream connection(s)`);
  });

  it('answers 504 when the upstream is slower than the read timeout', async () => {
    const started = Date.now();
    const reply = await request(`${proxy.url}/delay?ms=3000`);
    assert.equal(reply.status, 504);
    assert.match(reply.body.toString(), /504 Gateway Time-out|504 Gateway Timeout/);
    assert.ok(Date.now() - started < 2_500, 'the read timeout (500ms) cut the wait short');
  });

  it('passes HEAD, 204 and 304 through without a body', async () => {
    const head = await request(`${proxy.url}/bytes?n=1000`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers['content-length'], '1000');
    assert.equal(head.body.length, 0);
    for (const code of [204, 304]) {
      const reply = await request(`${proxy.url}/status/${code}`);
      assert.equal(reply.status, code);
      assert.equal(reply.body.length, 0);
    }
    // A keep-alive connection stays usable after bodiless responses.
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const a = await request(`${proxy.url}/status/204`, { agent });
    const b = await request(`${proxy.url}/`, { agent });
    agent.destroy();
    assert.equal(a.localPort, b.localPort);
    assert.equal(b.status, 200);
  });

  it('applies the forwarding header rules', async () => {
    // Raw bytes: node's client refuses to send some of these hop-by-hop headers at all.
    const raw = await rawExchange(
      proxy.port,
      'GET /headers HTTP/1.1\r\n' +
        'Host: app.example:8080\r\n' +
        'X-Forwarded-For: 203.0.113.7\r\n' +
        'X-Forwarded-Proto: https\r\n' +
        'Connection: close, X-Secret-Hop\r\n' +
        'X-Secret-Hop: must not pass\r\n' +
        'Keep-Alive: timeout=5\r\n' +
        'TE: trailers\r\n' +
        'Trailer: X-Checksum\r\n' +
        'Proxy-Authorization: Basic Zm9vOmJhcg==\r\n' +
        'Proxy-Connection: keep-alive\r\n' +
        'Via: 1.0 fred\r\n' +
        'X-Kept: yes\r\n\r\n',
    );
    assert.match(raw, /^HTTP\/1\.1 200 /);
    const seen = JSON.parse(decodeBody(raw)) as Record<string, string>;
    assert.equal(seen.host, 'app.example:8080', 'Host is passed through');
    assert.equal(seen['x-forwarded-for'], '203.0.113.7, 127.0.0.1');
    assert.equal(seen['x-forwarded-proto'], 'http', 'the client cannot choose the forwarded proto');
    assert.equal(seen['x-forwarded-host'], 'app.example:8080');
    assert.equal(seen.via, '1.0 fred, 1.1 handoff');
    assert.equal(seen['x-kept'], 'yes');
    for (const hop of ['x-secret-hop', 'keep-alive', 'te', 'trailer', 'proxy-authorization', 'proxy-connection', 'upgrade']) {
      assert.equal(seen[hop], undefined, `${hop} is hop-by-hop`);
    }
    assert.notEqual(seen.connection, 'close, X-Secret-Hop', "the client's Connection header stays with the client");
  });

  it('answers a malformed request with 400 and serves the next client', async () => {
    const bad = await rawExchange(proxy.port, 'GET / HTTP/1.1\r\nHost: x\r\nBad Header Line\r\n\r\n');
    assert.match(bad, /^HTTP\/1\.1 400 /);
    const smuggle = await rawExchange(proxy.port, 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n');
    assert.match(smuggle, /^HTTP\/1\.1 400 /, 'Content-Length with Transfer-Encoding is refused');
    const next = await request(`${proxy.url}/`);
    assert.equal(next.status, 200);
  });

  it('closes a client that is too slow to send its request head with 408', async () => {
    const started = Date.now();
    const reply = await rawExchange(proxy.port, 'GET / HTTP/1.1\r\nHost: x\r\n', 6_000);
    assert.match(reply, /^HTTP\/1\.1 408 /);
    assert.ok(Date.now() - started < 4_000, `closed after ${Date.now() - started} ms, client_header_timeout is 1s`);
  });

  it('aborts the upstream request when the client goes away', async () => {
    const pendingDelays = async () => (JSON.parse((await request(`${backend.url}/stats`)).body.toString()) as { pendingDelays: number }).pendingDelays;
    const socket = net.connect(proxy.port, '127.0.0.1');
    socket.on('error', () => {});
    socket.write('GET /delay?ms=20000 HTTP/1.1\r\nHost: x\r\n\r\n');
    await waitFor('the upstream request to start', async () => (await pendingDelays()) === 1);
    socket.destroy();
    await waitFor('the upstream request to be aborted', async () => (await pendingDelays()) === 0);
  });

  it('returns every fd of master and workers to its baseline (run last)', async () => {
    // Idle pooled upstream sockets are legitimately open; once the backend goes away they must
    // all be closed, and then nothing may be left above the count before the first request.
    await backend.stop();
    await expectFdsAtBaseline(proxy, baseline, 5_000);
  });
});

describe('upstream failures', () => {
  let proxy: RunningProxy;
  let flaky: net.Server;
  let flakyPort: number;

  before(async () => {
    // An upstream that promises 100000 bytes, sends 10, and dies.
    // /flaky/hop answers with hop-by-hop headers that must not reach the client.
    flaky = net.createServer((socket) => {
      socket.on('error', () => {});
      socket.once('data', (d) => {
        if (d.toString().startsWith('GET /flaky/hop')) {
          socket.end(
            'HTTP/1.1 200 OK\r\nConnection: close, X-Up-Hop\r\nX-Up-Hop: secret\r\nKeep-Alive: timeout=99\r\n' +
              'Upgrade: nonsense\r\nProxy-Connection: keep-alive\r\nX-End-To-End: kept\r\nContent-Length: 2\r\n\r\nok',
          );
          return;
        }
        socket.write('HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n0123456789');
        setTimeout(() => socket.destroy(), 50);
      });
    });
    await new Promise<void>((r) => flaky.listen(0, '127.0.0.1', r));
    flakyPort = (flaky.address() as net.AddressInfo).port;
    proxy = await startProxy({
      workers: 1,
      upstreams: {
        down: { servers: [`127.0.0.1:${await deadPort()}`] },
        flaky: { servers: [`127.0.0.1:${flakyPort}`] },
      },
      routes: [
        { pathPrefix: '/down', upstream: 'down' },
        { pathPrefix: '/flaky', upstream: 'flaky' },
      ],
      limits: { maxBodySize: '1k' },
      extra: { accessLog: 'stdout' },
    });
  });
  after(async () => {
    await proxy?.stop();
    flaky?.close();
  });

  it('answers 502 with an error page when the upstream refuses the connection', async () => {
    const reply = await request(`${proxy.url}/down/x`);
    assert.equal(reply.status, 502);
    assert.match(reply.body.toString(), /<h1>502 Bad Gateway<\/h1>/);
    await waitFor('an error log line', () => /ECONNREFUSED.*while connecting to upstream/.test(proxy.stderr()));
  });

  it('never passes off a truncated body as complete when the upstream dies mid-response', async () => {
    await assert.rejects(request(`${proxy.url}/flaky`), /aborted|ECONNRESET|socket hang up|premature/i);
    const raw = await rawExchange(proxy.port, 'GET /flaky HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.match(raw, /Content-Length: 100000/i);
    assert.ok(raw.endsWith('0123456789'), 'the client got the 10 bytes and then the connection closed');
  });

  it('strips hop-by-hop headers from the upstream response', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const reply = await request(`${proxy.url}/flaky/hop`, { agent });
    const again = await request(`${proxy.url}/flaky/hop`, { agent });
    agent.destroy();
    assert.equal(reply.body.toString(), 'ok');
    assert.equal(reply.headers['x-end-to-end'], 'kept');
    for (const hop of ['x-up-hop', 'upgrade', 'proxy-connection']) assert.equal(reply.headers[hop], undefined, `${hop} is hop-by-hop`);
    assert.notEqual(reply.headers['keep-alive'], 'timeout=99');
    assert.equal(reply.localPort, again.localPort, "the upstream's Connection: close does not close the client's connection");
  });

  it('answers 404 for a path no route matches', async () => {
    const reply = await request(`${proxy.url}/nowhere`, { headers: { 'user-agent': 'test "agent"' } });
    assert.equal(reply.status, 404);
  });

  it('keeps a keep-alive connection open after a 404, as nginx does, for the next request', async () => {
    const raw = await rawConversation(proxy.port, async (socket, received) => {
      socket.write('GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n');
      await waitFor('the first 404', () => /<\/html>/.test(received()));
      socket.write('GET /elsewhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    });
    const replies = raw.split(/(?=HTTP\/1\.1 )/);
    assert.equal(replies.length, 2, 'both requests answered on one connection');
    assert.match(replies[0], /^HTTP\/1\.1 404 [^]*\r\nConnection: keep-alive\r\n/i);
    assert.match(replies[1], /^HTTP\/1\.1 404 [^]*\r\nConnection: close\r\n/i);
  });

  it('refuses a body over client_max_body_size with 413, declared or chunked', async () => {
    const declared = await request(`${proxy.url}/down/upload`, { method: 'POST', body: Buffer.alloc(2048) });
    assert.equal(declared.status, 413);
    const chunked = await rawExchange(proxy.port, `POST /down/upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n800\r\n${'a'.repeat(2048)}\r\n0\r\n\r\n`);
    assert.match(chunked, /^HTTP\/1\.1 413 /);
  });

  it('writes an access-log line per request in the combined format, then the worker that served it', async () => {
    await waitFor('the access log', () => proxy.stdout().includes('GET /nowhere'));
    assert.match(proxy.stdout(), /^127\.0\.0\.1 - - \[\d\d\/\w{3}\/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] "GET \/nowhere HTTP\/1\.1" 404 \d+ "-" "test \\x22agent\\x22" worker=w\d+ upstream_addr="-" upstream_status="-" request_time=\d+\.\d{3} upstream_response_time="-"$/m);
    assert.match(proxy.stdout(), /"GET \/down\/x HTTP\/1\.1" 502 /);
  });
});

describe('client timeouts', () => {
  let backend: RunningBackend;
  let proxy: RunningProxy;
  before(async () => {
    backend = await startBackend({ id: 't' });
    proxy = await startProxy({
      workers: 1,
      upstreams: { app: { servers: [`127.0.0.1:${backend.port}`] } },
      timeouts: { clientBody: '700ms', keepAlive: '600ms' },
    });
  });
  after(async () => {
    await proxy?.stop();
    await backend?.stop();
  });

  it('closes a client whose request body stalls longer than client_body_timeout with 408', async () => {
    const started = Date.now();
    const reply = await rawExchange(proxy.port, 'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab', 5_000);
    assert.match(reply, /^HTTP\/1\.1 408 /);
    assert.ok(Date.now() - started < 3_000, `answered after ${Date.now() - started} ms, client_body_timeout is 700ms`);
  });

  it('closes an idle keep-alive client connection after the keep-alive timeout', async () => {
    const socket = net.connect(proxy.port, '127.0.0.1');
    socket.on('error', () => {});
    let data = '';
    socket.on('data', (d) => (data += d.toString()));
    socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    const started = Date.now();
    await new Promise((r) => socket.once('close', r));
    const idle = Date.now() - started;
    assert.match(data, /^HTTP\/1\.1 200 /);
    assert.match(data, /Keep-Alive: timeout=0|Keep-Alive: timeout=1/i);
    assert.ok(idle >= 400 && idle < 3_000, `closed after ${idle} ms, keepAlive is 600ms`);
  });
});
