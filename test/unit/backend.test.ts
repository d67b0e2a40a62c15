// Tests for the sample upstream (backend/). They run the real compiled server as a child
// process through test/helpers/backend.ts and talk to it over real HTTP and WebSocket.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';
import { BACKEND_SERVER_PATH, startBackend } from '../helpers/backend';
import type { RunningBackend } from '../helpers/backend';

const MiB = 1024 * 1024;

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

interface RequestOptions {
  method?: string;
  headers?: http.OutgoingHttpHeaders;
  body?: Buffer | string;
  agent?: http.Agent | false;
}

/** One HTTP request with a fresh connection (unless an agent is given); buffers the response. */
function request(backend: RunningBackend, path: string, opts: RequestOptions = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: backend.host, port: backend.port, path, method: opts.method ?? 'GET', headers: opts.headers, agent: opts.agent ?? false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

async function getJson<T>(backend: RunningBackend, path: string): Promise<T> {
  const reply = await request(backend, path);
  assert.equal(reply.status, 200);
  return JSON.parse(reply.body.toString('utf8')) as T;
}

interface Stats {
  requests: number;
  connectionsOpen: number;
  connectionsTotal: number;
  pendingDelays: number;
  websocketsOpen: number;
}

async function waitFor(what: string, predicate: () => Promise<boolean>, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Sends raw bytes and returns everything the server sends back until it closes. */
function rawExchange(backend: RunningBackend, payload: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(backend.port, backend.host, () => socket.write(payload));
    let received = '';
    socket.setEncoding('latin1');
    socket.on('data', (text: string) => (received += text));
    socket.on('end', () => resolve(received));
    socket.on('error', reject);
  });
}

describe('backend routes', () => {
  let backend: RunningBackend;
  before(async () => {
    backend = await startBackend({ id: 'b1' });
  });
  after(() => backend.stop());

  test('GET / names the instance in body and X-Backend-Id', async () => {
    const reply = await request(backend, '/');
    assert.equal(reply.status, 200);
    assert.equal(reply.body.toString(), 'hello from b1\n');
    assert.equal(reply.headers['x-backend-id'], 'b1');
  });

  test('unknown paths are 404 and still carry X-Backend-Id', async () => {
    const reply = await request(backend, '/nope?x=1');
    assert.equal(reply.status, 404);
    assert.equal(reply.headers['x-backend-id'], 'b1');
    assert.match(reply.body.toString(), /not found: \/nope/);
  });

  test('/health and /headers', async () => {
    const health = await request(backend, '/health');
    assert.equal(health.status, 200);
    assert.equal(health.body.toString(), 'ok');
    const headers = await getJson<Record<string, string>>(backend, '/headers');
    assert.equal(headers['host'], `${backend.host}:${backend.port}`);
    const forwarded = await request(backend, '/headers', { headers: { 'X-Forwarded-For': '10.0.0.1' } });
    assert.equal(JSON.parse(forwarded.body.toString())['x-forwarded-for'], '10.0.0.1');
  });

  test('/echo describes a small request including raw header case and body text', async () => {
    const body = 'hello, échō';
    const reply = await request(backend, '/echo?a=1', {
      method: 'POST',
      headers: { 'X-Custom-Case': 'Value', 'Content-Type': 'text/plain' },
      body,
    });
    assert.equal(reply.status, 200);
    assert.match(String(reply.headers['content-type']), /^application\/json/);
    const echo = JSON.parse(reply.body.toString());
    assert.equal(echo.method, 'POST');
    assert.equal(echo.url, '/echo?a=1');
    assert.equal(echo.httpVersion, '1.1');
    assert.equal(echo.headers['x-custom-case'], 'Value');
    assert.ok(echo.rawHeaders.some(([name, value]: [string, string]) => name === 'X-Custom-Case' && value === 'Value'));
    assert.equal(echo.body, body);
    assert.equal(echo.bodyBytes, Buffer.byteLength(body));
    assert.equal(echo.bodySha256, sha256(Buffer.from(body)));
  });

  test('/echo hashes a 10 MiB body without echoing its text', async () => {
    const body = randomBytes(10 * MiB);
    const reply = await request(backend, '/echo', { method: 'PUT', body });
    const echo = JSON.parse(reply.body.toString());
    assert.equal(echo.body, null);
    assert.equal(echo.bodyBytes, body.length);
    assert.equal(echo.bodySha256, sha256(body));
  });

  test('/echo/stream round-trips 10 MiB byte-exact and streams before the upload ends', async () => {
    const body = randomBytes(10 * MiB);
    const received = await new Promise<Reply>((resolve, reject) => {
      const req = http.request(
        { host: backend.host, port: backend.port, path: '/echo/stream', method: 'POST', agent: false, headers: { 'Content-Type': 'application/x-test' } },
        (res) => {
          const chunks: Buffer[] = [];
          let sentRest = false;
          res.on('data', (chunk: Buffer) => {
            chunks.push(chunk);
            // Only send the rest once the first bytes came back: a buffering echo would hang here.
            if (!sentRest) {
              sentRest = true;
              req.end(body.subarray(MiB));
            }
          });
          res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.write(body.subarray(0, MiB));
    });
    assert.equal(received.status, 200);
    assert.equal(received.headers['content-type'], 'application/x-test');
    assert.equal(received.headers['transfer-encoding'], 'chunked');
    assert.equal(received.body.length, body.length);
    assert.equal(sha256(received.body), sha256(body));
  });

  test('/bytes sends n pattern bytes with Content-Length, or chunked on request', async () => {
    const n = 3 * 64 * 1024 + 1234; // several full chunks plus a partial one
    const reply = await request(backend, `/bytes?n=${n}`);
    assert.equal(reply.status, 200);
    assert.equal(reply.headers['content-length'], String(n));
    assert.equal(reply.body.length, n);
    for (let i = 0; i < n; i++) if (reply.body[i] !== (i & 0xff)) assert.fail(`byte ${i} is ${reply.body[i]}`);

    const chunked = await request(backend, `/bytes?n=${n}&chunked=1`);
    assert.equal(chunked.headers['transfer-encoding'], 'chunked');
    assert.equal(chunked.headers['content-length'], undefined);
    assert.ok(chunked.body.equals(reply.body));

    const empty = await request(backend, '/bytes?n=0');
    assert.equal(empty.status, 200);
    assert.equal(empty.body.length, 0);
  });

  test('/bytes streams a large body to completion', async () => {
    const reply = await request(backend, `/bytes?n=${64 * MiB}`);
    assert.equal(reply.body.length, 64 * MiB);
    assert.equal(reply.body[64 * MiB - 1], 0xff);
  });

  test('/bytes and /delay reject bad values with 400', async () => {
    for (const path of ['/bytes', '/bytes?n=-1', '/bytes?n=abc', '/bytes?n=1.5', `/bytes?n=${2 ** 30 + 1}`, '/bytes?n=1&chunked=maybe',
      '/delay', '/delay?ms=-5', '/delay?ms=1e3', '/delay?ms=600001']) {
      const reply = await request(backend, path);
      assert.equal(reply.status, 400, path);
      assert.equal(reply.headers['x-backend-id'], 'b1');
    }
  });

  test('/status/:code answers with that code; 204 and 304 have no body', async () => {
    const teapot = await request(backend, '/status/418');
    assert.equal(teapot.status, 418);
    assert.match(teapot.body.toString(), /^418 /);
    assert.equal((await request(backend, '/status/503', { method: 'POST', body: 'x' })).status, 503);
    for (const code of [204, 304]) {
      const reply = await request(backend, `/status/${code}`);
      assert.equal(reply.status, code);
      assert.equal(reply.body.length, 0);
      assert.equal(reply.headers['content-length'], undefined);
    }
    const redirect = await request(backend, '/status/302?location=/elsewhere');
    assert.equal(redirect.status, 302);
    assert.equal(redirect.headers['location'], '/elsewhere');
    for (const bad of ['/status/100', '/status/199', '/status/600', '/status/abc', '/status/2000', '/status/']) {
      assert.equal((await request(backend, bad)).status, 400, bad);
    }
  });

  test('HEAD works on GET routes: headers without a body', async () => {
    const root = await request(backend, '/', { method: 'HEAD' });
    assert.equal(root.status, 200);
    assert.equal(root.headers['content-length'], String('hello from b1\n'.length));
    assert.equal(root.body.length, 0);
    const bytes = await request(backend, `/bytes?n=${MiB}`, { method: 'HEAD' });
    assert.equal(bytes.headers['content-length'], String(MiB));
    assert.equal(bytes.body.length, 0);
    for (const path of ['/health', '/headers', '/status/200', '/delay?ms=1', '/nope']) {
      const reply = await request(backend, path, { method: 'HEAD' });
      assert.equal(reply.body.length, 0, path);
      assert.equal(reply.headers['x-backend-id'], 'b1', path);
    }
  });

  test('/delay waits, and frees its timer when the client goes away', async () => {
    const started = Date.now();
    const reply = await request(backend, '/delay?ms=100');
    assert.equal(reply.body.toString(), 'delayed 100ms');
    assert.ok(Date.now() - started >= 95);

    const req = http.get({ host: backend.host, port: backend.port, path: '/delay?ms=60000', agent: false });
    req.on('error', () => undefined);
    await waitFor('the delay to be armed', async () => (await getJson<Stats>(backend, '/stats')).pendingDelays === 1);
    req.destroy();
    await waitFor('the delay timer to be cleared', async () => (await getJson<Stats>(backend, '/stats')).pendingDelays === 0);
    assert.equal((await request(backend, '/health')).status, 200);
  });

  test('keep-alive: sequential requests reuse one connection', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const before = (await getJson<Stats>(backend, '/stats')).connectionsTotal;
      for (let i = 0; i < 5; i++) {
        const reply = await request(backend, '/', { agent });
        assert.equal(reply.status, 200);
        // Longer than the proxy's idle pool timeout, so pooled connections rarely die under it.
        assert.equal(reply.headers['keep-alive'], 'timeout=65');
      }
      const afterStats = await getJson<Stats>(backend, '/stats');
      // +1 for the agent's connection, +1 for this /stats request itself.
      assert.equal(afterStats.connectionsTotal, before + 2);
    } finally {
      agent.destroy();
    }
  });

  test('a client reset mid-upload does not hurt the backend', async () => {
    await new Promise<void>((resolve, reject) => {
      const socket = net.connect(backend.port, backend.host, () => {
        socket.write('POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n' + 'a'.repeat(1000));
        setTimeout(() => {
          socket.resetAndDestroy();
          resolve();
        }, 50);
      });
      socket.on('error', reject);
    });
    const stream = http.request({ host: backend.host, port: backend.port, path: '/echo/stream', method: 'POST', agent: false });
    stream.on('error', () => undefined);
    stream.write(randomBytes(256 * 1024));
    await sleep(50);
    stream.destroy();
    await sleep(50);
    assert.equal((await request(backend, '/health')).status, 200);
  });

  test('HTTP/1.0 clients get close-delimited bodies, absolute-form targets are routed', async () => {
    const http10 = await rawExchange(backend, 'GET /bytes?n=10&chunked=1 HTTP/1.0\r\n\r\n');
    assert.match(http10, /^HTTP\/1\.1 200/);
    assert.doesNotMatch(http10, /transfer-encoding/i);
    assert.ok(http10.endsWith('\r\n\r\n' + Buffer.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]).toString('latin1')));
    const absolute = await rawExchange(backend, 'GET http://example.test/health HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n');
    assert.match(absolute, /^HTTP\/1\.1 200[\s\S]*\r\n\r\nok$/);
  });

  test('/ws echoes text as text and binary as binary', async () => {
    const ws = new WebSocket(`ws://${backend.host}:${backend.port}/ws`);
    const upgradeId = new Promise<string | undefined>((resolve) => ws.once('upgrade', (res) => resolve(res.headers['x-backend-id'] as string)));
    await new Promise<void>((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    assert.equal(await upgradeId, 'b1');
    const messages: Array<{ data: Buffer; isBinary: boolean }> = [];
    const gotTwo = new Promise<void>((resolve) =>
      ws.on('message', (data, isBinary) => {
        messages.push({ data: data as Buffer, isBinary });
        if (messages.length === 2) resolve();
      }),
    );
    const binary = randomBytes(200_000);
    ws.send('hello ws');
    ws.send(binary);
    await gotTwo;
    assert.deepEqual(messages[0], { data: Buffer.from('hello ws'), isBinary: false });
    assert.equal(messages[1]!.isBinary, true);
    assert.ok(messages[1]!.data.equals(binary));
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    ws.close(1000);
    assert.equal(await closed, 1000);
  });

  test('upgrades on other paths are refused with 404', async () => {
    const ws = new WebSocket(`ws://${backend.host}:${backend.port}/not-ws`);
    ws.on('error', () => undefined);
    const status = await new Promise<number>((resolve) =>
      ws.once('unexpected-response', (req, res) => {
        resolve(res.statusCode!);
        req.destroy();
      }),
    );
    assert.equal(status, 404);
  });
});

describe('backend process', () => {
  /** Runs the server with args to completion (for flag errors / --help). */
  function runToExit(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, [BACKEND_SERVER_PATH, ...args], { env: { ...process.env, ...env } });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
      child.on('close', (code) => {
        clearTimeout(killer);
        resolve({ code, stdout, stderr });
      });
    });
  }

  test('bad flags and values exit 2 with a message and the usage', async () => {
    const cases: Array<[string[], NodeJS.ProcessEnv, RegExp]> = [
      [['--bogus'], {}, /unknown option '--bogus'/],
      [['--port', 'abc'], {}, /invalid --port 'abc'/],
      [['--port=70000'], {}, /invalid --port '70000'/],
      [['--port'], {}, /'--port' needs a value/],
      [['--id', 'has space'], {}, /invalid --id/],
      [['stray'], {}, /unexpected argument 'stray'/],
      [[], { PORT: 'nope' }, /invalid PORT 'nope'/],
    ];
    for (const [args, env, message] of cases) {
      const result = await runToExit(args, env);
      assert.equal(result.code, 2, args.join(' '));
      assert.match(result.stderr, message);
      assert.match(result.stderr, /Usage:/);
      assert.equal(result.stdout, '');
    }
  });

  test('--help prints the usage and exits 0', async () => {
    const result = await runToExit(['--help']);
    assert.equal(result.code, 0);
    assert.match(result.stdout, /^Usage:/);
  });

  test('default id is backend-<hostname>-<port>; env vars are honoured', async () => {
    const backend = await startBackend({ env: { INSTANCE_ID: '' } });
    after(() => backend.stop());
    assert.match(backend.id, new RegExp(`^backend-.+-${backend.port}$`));
    assert.equal((await request(backend, '/')).headers['x-backend-id'], backend.id);
    const fromEnv = await startBackend({ env: { INSTANCE_ID: 'env-id' } });
    after(() => fromEnv.stop());
    assert.equal(fromEnv.id, 'env-id');
  });

  test('startBackend rejects with stderr when the port is taken', async () => {
    const first = await startBackend();
    after(() => first.stop());
    await assert.rejects(startBackend({ port: first.port }), /exited before listening[\s\S]*EADDRINUSE/);
  });

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    test(`${signal} with an idle keep-alive connection exits 0 promptly`, async () => {
      const backend = await startBackend({ id: 'sig' });
      after(() => backend.stop());
      const agent = new http.Agent({ keepAlive: true });
      assert.equal((await request(backend, '/', { agent })).status, 200);
      const started = Date.now();
      backend.kill(signal);
      const exit = await backend.exited;
      agent.destroy();
      assert.deepEqual(exit, { code: 0, signal: null });
      assert.ok(Date.now() - started < 1000, `took ${Date.now() - started} ms`);
    });
  }

  test('SIGTERM closes open WebSockets with 1001 and exits 0', async () => {
    const backend = await startBackend({ id: 'ws-sig' });
    after(() => backend.stop());
    const ws = new WebSocket(`ws://${backend.host}:${backend.port}/ws`);
    ws.on('error', () => undefined);
    await new Promise((resolve) => ws.once('open', resolve));
    const closeCode = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    const started = Date.now();
    backend.kill('SIGTERM');
    assert.equal(await closeCode, 1001);
    assert.deepEqual(await backend.exited, { code: 0, signal: null });
    assert.ok(Date.now() - started < 1000, `took ${Date.now() - started} ms`);
  });

  test('SIGTERM with a request in flight still exits 0 within ~2 s', async () => {
    const backend = await startBackend({ id: 'busy' });
    after(() => backend.stop());
    const pending = request(backend, '/delay?ms=60000').catch((err: Error) => err);
    await waitFor('the delay to be armed', async () => (await getJson<Stats>(backend, '/stats')).pendingDelays === 1);
    const started = Date.now();
    backend.kill('SIGTERM');
    const exit = await backend.exited;
    assert.deepEqual(exit, { code: 0, signal: null });
    assert.ok(Date.now() - started < 2500, `took ${Date.now() - started} ms`);
    assert.ok((await pending) instanceof Error, 'the cut request fails on the client');
  });
});
