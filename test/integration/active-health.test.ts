// Active health checks through real processes: the master checks every server (GET /health every
// 200 ms, out after 2 failures, back after 2 passes) and tells both workers. A server whose checks
// fail gets no requests even though it would answer them; a server killed under load is out
// within its fall checks without a request failing, and back within its rise checks once it
// listens again on the same port. The figures (longest stall, failures, time out and back) go to
// the test's diagnostics.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { chromium } from 'playwright-core';
import { after, before, describe, it } from 'node:test';
import { startBackend, type RunningBackend } from '../helpers/backend';
import { deadPort, request } from '../helpers/http-client';
import { waitFor } from '../helpers/procfs';
import { parsePrometheus } from '../helpers/prometheus';
import { startProxy, type RunningProxy } from '../helpers/proxy';
import { startRawUpstream, type RawUpstream } from '../helpers/raw-upstream';

const INTERVAL_MS = 200;
const TIMEOUT_MS = 300;
const FALL = 2;
const RISE = 2;

interface ServerStatus {
  address: string;
  requests: number | null;
  health: { state: 'up' | 'down'; since: number; reason: string } | null;
}

describe(`active health checks: GET /health every ${INTERVAL_MS} ms, fall ${FALL}, rise ${RISE}`, () => {
  let a: RunningBackend;
  let b: RunningBackend;
  let sick: RawUpstream;
  let proxy: RunningProxy;
  let statusUrl: string;

  const servers = async (): Promise<ServerStatus[]> =>
    (JSON.parse((await request(`${statusUrl}/status.json`)).body.toString()) as { upstreams: { servers: ServerStatus[] }[] }).upstreams[0]!.servers;
  const healthOf = async (port: number) => (await servers()).find((s) => s.address === `127.0.0.1:${port}`)?.health?.state;

  before(async () => {
    a = await startBackend({ id: 'a' });
    b = await startBackend({ id: 'b' });
    // Answers every request, but its health endpoint says it is not fit to serve.
    sick = await startRawUpstream((req, socket) => {
      if (req.path === '/health') socket.write('HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n');
      else socket.write('HTTP/1.1 200 OK\r\nX-Backend-Id: sick\r\nContent-Length: 4\r\n\r\nsick');
    });
    const statusPort = await deadPort();
    statusUrl = `http://127.0.0.1:${statusPort}`;
    proxy = await startProxy({
      workers: 2,
      upstreams: {
        u: {
          servers: [`127.0.0.1:${a.port}`, `127.0.0.1:${b.port}`, `127.0.0.1:${sick.port}`],
          healthCheck: { path: '/health', interval: `${INTERVAL_MS}ms`, timeout: `${TIMEOUT_MS}ms`, fall: FALL, rise: RISE },
        },
      },
      extra: { status: `127.0.0.1:${statusPort}` },
    });
  });
  after(async () => {
    await proxy?.stop();
    await a?.stop();
    await b?.stop();
    await sick?.close();
  });

  it('a server whose checks fail gets no requests, though it would answer them, and the log says why in one sentence', async () => {
    await waitFor('the sick server to be out', async () => (await healthOf(sick.port)) === 'down', 3_000);
    const before = sick.requests.filter((r) => r.path !== '/health').length;
    const answeredBy = new Set<string>();
    for (let i = 0; i < 60; i++) {
      const reply = await request(`${proxy.url}/?i=${i}`);
      assert.equal(reply.status, 200);
      answeredBy.add(String(reply.headers['x-backend-id']));
    }
    assert.deepEqual([...answeredBy].sort(), ['a', 'b']);
    assert.equal(sick.requests.filter((r) => r.path !== '/health').length, before, 'no request reached the sick server');
    assert.match(proxy.stderr(), new RegExp(`upstream server 127\\.0\\.0\\.1:${sick.port} of "u" is down: status 503 \\(${FALL} checks in a row\\)`));
    const samples = parsePrometheus((await request(`${statusUrl}/metrics`)).body.toString()).filter((s) => s.name === 'handoff_upstream_check_up');
    assert.deepEqual(samples.map((s) => [s.labels.server, s.value]).sort(), [
      [`127.0.0.1:${a.port}`, 1], [`127.0.0.1:${b.port}`, 1], [`127.0.0.1:${sick.port}`, 0],
    ].sort());
    const sickRow = (await servers()).find((s) => s.address === `127.0.0.1:${sick.port}`)!;
    assert.equal(sickRow.health!.reason, 'status 503');
    assert.ok(sickRow.health!.since > 0 && sickRow.health!.since <= Date.now());
  });

  it("the dashboard's upstream panel shows the sick server OUT with the checks' reason, the others up", async () => {
    const chromiumPath = '/usr/bin/chromium';
    assert.ok(fs.existsSync(chromiumPath), `${chromiumPath} is needed (apt-get install chromium)`);
    const browser = await chromium.launch({ executablePath: chromiumPath, args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'] });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
      await page.goto(`${statusUrl}/`);
      const cell = (port: number) => `document.querySelector('#upstreams tr[data-server="127.0.0.1:${port}"] td:last-child')?.textContent ?? ''`;
      await page.waitForFunction(`/^OUT: status 503 since \\d\\d:\\d\\d:\\d\\d$/.test(${cell(sick.port)})`, undefined, { timeout: 5_000 });
      await page.waitForFunction(`/^up since /.test(${cell(a.port)})`, undefined, { timeout: 5_000 });
    } finally {
      await browser.close();
    }
  });

  it('a server killed under load is out within its fall checks and back within its rise checks, and no request fails', async (t) => {
    const results: { status: number; ms: number; id: string }[] = [];
    let loading = true;
    const deadline = Date.now() + 15_000;
    const client = async () => {
      while (loading && Date.now() < deadline) {
        const start = performance.now();
        const reply = await request(`${proxy.url}/`).catch(() => ({ status: 0, headers: {} as Record<string, string> }));
        results.push({ status: reply.status, ms: performance.now() - start, id: String(reply.headers['x-backend-id']) });
      }
    };
    const clients = Array.from({ length: 4 }, client);
    await waitFor('the load to reach b', () => results.some((r) => r.id === 'b'), 3_000);

    const port = b.port;
    const killedAt = Date.now();
    b.kill('SIGKILL');
    await b.exited;
    await waitFor('b to be out', async () => (await healthOf(port)) === 'down', 5_000);
    const outAfter = Date.now() - killedAt;

    const restartedAt = Date.now();
    b = await startBackend({ id: 'b2', port });
    await waitFor('b to be back', async () => (await healthOf(port)) === 'up', 5_000);
    const backAfter = Date.now() - restartedAt;
    await waitFor('the load to reach the restarted b', () => results.some((r) => r.id === 'b2'), 3_000);
    loading = false;
    await Promise.all(clients);

    const failed = results.filter((r) => r.status !== 200).length;
    const longest = Math.max(...results.map((r) => r.ms));
    t.diagnostic(`${results.length} requests, ${failed} failed, longest ${longest.toFixed(1)} ms; out ${outAfter} ms after the kill, back ${backAfter} ms after the restart`);
    assert.equal(failed, 0, 'a GET to a refused server goes to the next one');
    // fall checks, each up to the interval plus the check's own time, with room for a loaded machine.
    assert.ok(outAfter < FALL * (INTERVAL_MS + TIMEOUT_MS) + 1_000, `out after ${outAfter} ms`);
    assert.ok(backAfter < RISE * (INTERVAL_MS + TIMEOUT_MS) + 1_000, `back after ${backAfter} ms`);
    assert.match(proxy.stderr(), new RegExp(`upstream server 127\\.0\\.0\\.1:${port} of "u" is down: connection refused \\(${FALL} checks in a row\\)`));
    assert.match(proxy.stderr(), new RegExp(`upstream server 127\\.0\\.0\\.1:${port} of "u" is up again: status 200 \\(${RISE} checks in a row\\)`));
  });
});
