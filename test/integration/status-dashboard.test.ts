// The master's status listener: Prometheus metrics, JSON, and the live dashboard in a real
// browser (Debian's chromium driven by playwright-core).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { startBackend, type RunningBackend } from '../helpers/backend';
import { deadPort, request } from '../helpers/http-client';
import { duplicateSeries, parsePrometheus, samplesOf } from '../helpers/prometheus';
import { startProxy, type RunningProxy } from '../helpers/proxy';

const CHROMIUM = '/usr/bin/chromium';

describe('status listener and dashboard', () => {
  let backend: RunningBackend;
  let proxy: RunningProxy;
  let statusUrl: string;

  before(async () => {
    backend = await startBackend({ id: 's1' });
    const statusPort = await deadPort();
    proxy = await startProxy({ upstreams: { app: { servers: [`127.0.0.1:${backend.port}`] } }, extra: { status: `127.0.0.1:${statusPort}` } });
    statusUrl = `http://127.0.0.1:${statusPort}`;
  });
  after(async () => {
    await proxy?.stop();
    await backend?.stop();
  });

  it('counts accepted and handed-off connections in /metrics and /status.json', async () => {
    for (let i = 0; i < 10; i++) assert.equal((await request(`${proxy.url}/`)).status, 200);
    const metrics = (await request(`${statusUrl}/metrics`)).body.toString();
    const value = (name: string) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(metrics)?.[1]);
    assert.ok(value('handoff_connections_accepted_total') >= 10, metrics);
    assert.ok(value('handoff_connections_handed_off_total') >= 10, metrics);
    assert.match(metrics, /^handoff_workers\{state="serving"\} 2$/m);
    // Workers report requests with their ACKs and STATUS messages (at least once a second).
    const requests = samplesOf(parsePrometheus(metrics), 'handoff_worker_requests_total');
    const served = requests.reduce((sum, s) => sum + s.value, 0);
    assert.ok(served >= 9, `requests served per worker add up: ${served}\n${metrics}`);
    assert.deepEqual(requests.map((s) => s.labels.origin), ['spawned', 'spawned']);
    const status = JSON.parse((await request(`${statusUrl}/status.json`)).body.toString()) as {
      workers: { id: string; pid: number; state: string; handoffsSent: number }[];
      master: { transport: string; pid: number; generation: number };
    };
    assert.equal(status.master.transport, 'seqpacket');
    assert.equal(status.master.pid, proxy.pid);
    assert.deepEqual(status.workers.map((w) => w.pid).sort(), proxy.workerPids().sort());
    assert.deepEqual(status.workers.map((w) => w.state), ['serving', 'serving']);
    assert.ok(status.workers.reduce((sum, w) => sum + w.handoffsSent, 0) >= 10, 'handoffs sent per worker add up');
    assert.deepEqual(requests.map((s) => s.labels.worker).sort(), status.workers.map((w) => w.id).sort(), 'series keyed by the worker ids');
  });

  it('/metrics has no series twice (Prometheus rejects such a scrape)', async () => {
    const samples = parsePrometheus((await request(`${statusUrl}/metrics`)).body.toString());
    assert.ok(samplesOf(samples, 'handoff_worker_state').length === 6, 'three states for each of two workers');
    assert.deepEqual(duplicateSeries(samples), []);
  });

  it('/status.json lists the upstream servers as configured, and the workers that joined as events', async () => {
    const status = JSON.parse((await request(`${statusUrl}/status.json`)).body.toString()) as {
      upstreams: { name: string; servers: { address: string }[] }[];
      events: { kind: string; seq: number; worker?: { id: string } }[];
    };
    assert.deepEqual(status.upstreams, [{ name: 'app', servers: [{ address: `127.0.0.1:${backend.port}`, weight: 1 }] }]);
    const joined = status.events.filter((e) => e.kind === 'worker-joined').map((e) => e.worker!.id);
    assert.deepEqual(joined, ['w1', 'w2']);
  });

  it('the dashboard shows the workers and counts live in a browser', async () => {
    assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} is needed (apt-get install chromium; .ci/run installs it)`);
    let browser: Browser | undefined;
    try {
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'],
      });
      const page = await browser.newPage();
      await page.goto(`${statusUrl}/`);
      // Strings, not functions: they run in the page, and this project compiles without DOM types.
      await page.waitForFunction(`document.getElementById('state')?.textContent === 'live'`);
      assert.equal(await page.locator('#workers tr').count(), 2);
      const before = Number(await page.textContent('#accepted'));
      for (let i = 0; i < 5; i++) await request(`${proxy.url}/`);
      await page.waitForFunction(`Number(document.getElementById('accepted')?.textContent) >= ${before + 5}`, undefined, { timeout: 5_000 });
      const ids = await page.locator('#workers tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-id')));
      assert.deepEqual(ids.sort(), ['w1', 'w2']);
      const pids = await page.locator('#workers tr').evaluateAll((rows) => rows.map((r) => Number(r.getAttribute('data-pid'))));
      assert.deepEqual(pids.sort(), proxy.workerPids().sort());

      // Two workers in two containers with the same pid: each row's req/s is its own.
      const live = JSON.parse((await request(`${statusUrl}/status.json`)).body.toString()) as { workers: Record<string, unknown>[] };
      const twin = (id: string, host: string, requestsServed: number) => ({ ...live.workers[0], id, pid: 7, host, origin: 'joined', requestsServed });
      const rates = await page.evaluate(`(() => {
        const at = (a, b) => ({ ...${JSON.stringify(live)}, workers: [${JSON.stringify(twin('w8', 'c1', 100))}, ${JSON.stringify(twin('w9', 'c2', 500))}].map((w, i) => ({ ...w, requestsServed: w.requestsServed + [a, b][i] })) });
        update(at(0, 0));
        update(at(3, 40));
        return [...document.querySelectorAll('#workers tr')].map((r) => r.getAttribute('data-id') + ' ' + r.lastElementChild.textContent);
      })()`);
      assert.deepEqual(rates, ['w8 3', 'w9 40']);
    } finally {
      await browser?.close();
    }
  });
});
