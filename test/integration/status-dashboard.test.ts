// The master's status listener: Prometheus metrics, JSON, and the live dashboard in a real
// browser (Debian's chromium driven by playwright-core).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { startBackend, type RunningBackend } from '../helpers/backend';
import { deadPort, request } from '../helpers/http-client';
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
    assert.match(metrics, /^handoff_workers\{generation="current"\} 2$/m);
    // Workers report requests with their ACKs and STATUS messages (at least once a second).
    const served = () => [...metrics.matchAll(/^handoff_worker_requests_total\{pid="\d+"\} (\d+)$/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
    assert.ok(served() >= 9, `requests served per worker add up: ${served()}\n${metrics}`);
    const status = JSON.parse((await request(`${statusUrl}/status.json`)).body.toString()) as { workers: { pid: number }[]; transport: string };
    assert.equal(status.transport, 'seqpacket');
    assert.deepEqual(status.workers.map((w) => w.pid).sort(), proxy.workerPids().sort());
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
      const pids = await page.locator('#workers tr').evaluateAll((rows) => rows.map((r) => Number(r.getAttribute('data-pid'))));
      assert.deepEqual(pids.sort(), proxy.workerPids().sort());
    } finally {
      await browser?.close();
    }
  });
});
