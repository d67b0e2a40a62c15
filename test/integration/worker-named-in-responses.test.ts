// Which worker served a request, told the way the master tells workers apart: the master names
// each worker at registration (WELCOME), and the worker puts that name in config.workerHeader
// and at the end of its access-log line, so a response, a log line, /status.json and the
// dashboard all say "w2" for the same process. A route with accessLog false leaves no line.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { startBackend, type RunningBackend } from '../helpers/backend';
import { deadPort, rawExchange, request } from '../helpers/http-client';
import { waitFor } from '../helpers/procfs';
import { startProxy, type RunningProxy } from '../helpers/proxy';

interface Status {
  workers: { id: string; pid: number }[];
}

describe('the worker named in responses and in the access log', () => {
  let backend: RunningBackend;
  let proxy: RunningProxy;
  let statusPort: number;
  const status = async (): Promise<Status> => JSON.parse((await request(`http://127.0.0.1:${statusPort}/status.json`)).body.toString()) as Status;

  before(async () => {
    backend = await startBackend({ id: 'named' });
    statusPort = await deadPort();
    const nobody = await deadPort();
    proxy = await startProxy({
      workers: 2,
      handoff: { policy: 'round-robin' },
      upstreams: { app: { servers: [`127.0.0.1:${backend.port}`] }, gone: { servers: [`127.0.0.1:${nobody}`] } },
      routes: [
        { host: '*', pathPrefix: '/gone', upstream: 'gone' },
        { host: '*', pathPrefix: '/health', upstream: 'app', accessLog: false },
        { host: '*', pathPrefix: '/', upstream: 'app' },
      ],
      extra: { status: `127.0.0.1:${statusPort}`, workerHeader: 'X-Handoff-Worker', accessLog: 'stdout' },
    });
  });
  after(async () => {
    await proxy?.stop();
    await backend?.stop();
  });

  it('every response carries the id the master gave the worker, on a proxied answer and on its own error page', async () => {
    const ids = new Set((await status()).workers.map((w) => w.id));
    assert.equal(ids.size, 2);
    const seen = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const r = await request(`http://127.0.0.1:${proxy.port}/?n=${i}`);
      assert.equal(r.status, 200);
      const worker = String(r.headers['x-handoff-worker']);
      assert.ok(ids.has(worker), `X-Handoff-Worker: ${worker} is one of ${[...ids].join(', ')}`);
      seen.add(worker);
    }
    assert.equal(seen.size, 2, 'new connections went to both workers (round robin over the two)');
    // The proxy's own answer (no Host on HTTP/1.1: 400) names the worker too, on Connection: close.
    const raw = await rawExchange(proxy.port, 'GET / HTTP/1.1\r\n\r\n');
    assert.match(raw, /^HTTP\/1\.1 400 /);
    assert.match(raw, /\r\nConnection: close\r\nX-Handoff-Worker: w\d+\r\n/);
  });

  it('a WebSocket upgrade answer names the worker too, and so does its 502 when the upstream refuses', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${proxy.port}/ws`);
    const headers = await new Promise<Record<string, string | string[] | undefined>>((resolve, reject) => {
      ws.once('upgrade', (res) => resolve(res.headers));
      ws.once('error', reject);
    });
    ws.close();
    assert.match(String(headers['x-handoff-worker']), /^w\d+$/);
    // An upgrade whose upstream refuses: the tunnel's own 502 names the worker too.
    const raw = await rawExchange(proxy.port, 'GET /gone HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n');
    assert.match(raw, /^HTTP\/1\.1 502 [^]*\r\nConnection: close\r\nX-Handoff-Worker: w\d+\r\n\r\n/);
  });

  it('the access-log line ends with the same worker id the response header gave', async () => {
    const r = await request(`http://127.0.0.1:${proxy.port}/?probe=named-log`);
    const worker = String(r.headers['x-handoff-worker']);
    const lineOf = (): string | undefined => proxy.stdout().split('\n').find((l) => l.includes('GET /?probe=named-log HTTP/1.1'));
    await waitFor('the access-log line of the probe', () => lineOf() !== undefined);
    assert.match(lineOf()!, new RegExp(`" 200 \\d+ "-" "-" worker=${worker} `));
  });

  it('a route with accessLog false is proxied and leaves no access-log line', async () => {
    const r = await request(`http://127.0.0.1:${proxy.port}/health?probe=unlogged`);
    assert.equal(r.status, 200);
    await request(`http://127.0.0.1:${proxy.port}/?probe=after-unlogged`);
    await waitFor('the line of the request after it', () => proxy.stdout().includes('probe=after-unlogged'));
    assert.doesNotMatch(proxy.stdout(), /probe=unlogged/);
  });
});
