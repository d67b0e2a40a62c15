// The master's status listener: Prometheus metrics, JSON, and the live dashboard in a real
// browser (Debian's chromium driven by playwright-core) at a projector's 1280×720. The browser
// test keeps its screenshots in test-artifacts/dashboard/ (git-ignored); with
// UPDATE_GUIDE_SCREENSHOT=1 it also refreshes the guide's docs/workshop/img/dashboard.png.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startBackend, type RunningBackend } from '../helpers/backend';
import { deadPort, request } from '../helpers/http-client';
import { waitFor } from '../helpers/procfs';
import { duplicateSeries, parsePrometheus, samplesOf } from '../helpers/prometheus';
import { CLI, startProxy, type RunningProxy } from '../helpers/proxy';

const CHROMIUM = '/usr/bin/chromium';
const REPO = path.resolve(__dirname, '../../..');
const ARTIFACTS = path.join(REPO, 'test-artifacts', 'dashboard');
const GUIDE_SCREENSHOT = path.join(REPO, 'docs', 'workshop', 'img', 'dashboard.png');
/** The host the hand-started worker reports: the "workers" container of the lab. */
const OTHER_HOST = 'workers-container';

interface Status {
  workers: { id: string; pid: number; origin: string; host: string | null }[];
  events: { kind: string; seq: number; worker?: { id: string; pid: number }; why?: string; resent?: number }[];
}

/**
 * Traffic until stopped, at most `limit` requests (each on a new connection, so each is a
 * handoff), `concurrency` at a time.
 */
function drive(url: string, concurrency: number, limit: number): { stop: () => Promise<number> } {
  let sent = 0;
  let stopped = false;
  const lane = async () => {
    while (!stopped && sent < limit) {
      sent++;
      await request(url).catch(() => undefined);
    }
  };
  const lanes = Array.from({ length: concurrency }, lane);
  return { stop: async () => { stopped = true; await Promise.all(lanes); return sent; } };
}

describe('status listener and dashboard', () => {
  let backend: RunningBackend;
  let backend2: RunningBackend;
  let proxy: RunningProxy;
  let statusUrl: string;

  before(async () => {
    backend = await startBackend({ id: 's1' });
    backend2 = await startBackend({ id: 's2' });
    const statusPort = await deadPort();
    proxy = await startProxy({
      upstreams: { app: { servers: [`127.0.0.1:${backend.port}`, { address: `127.0.0.1:${backend2.port}`, weight: 2 }] } },
      extra: { status: `127.0.0.1:${statusPort}` },
    });
    statusUrl = `http://127.0.0.1:${statusPort}`;
  });
  after(async () => {
    await proxy?.stop();
    await backend?.stop();
    await backend2?.stop();
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
    assert.ok(samplesOf(samples, 'handoff_worker_state').length === 8, 'four states for each of two workers');
    assert.deepEqual(duplicateSeries(samples), []);
  });

  it('/status.json lists the upstream servers as configured, and the workers that joined as events', async () => {
    const status = JSON.parse((await request(`${statusUrl}/status.json`)).body.toString()) as {
      upstreams: { name: string; servers: { address: string; weight: number }[] }[];
      events: { kind: string; seq: number; worker?: { id: string } }[];
    };
    assert.deepEqual(status.upstreams.map((u) => ({ name: u.name, servers: u.servers.map((s) => `${s.address} ${s.weight}`).sort() })),
      [{ name: 'app', servers: [`127.0.0.1:${backend.port} 1`, `127.0.0.1:${backend2.port} 2`].sort() }]);
    const joined = status.events.filter((e) => e.kind === 'worker-joined').map((e) => e.worker!.id);
    assert.deepEqual(joined, ['w1', 'w2']);
  });


  it('/status.json and /metrics sum the workers\' requests per upstream server, spread by weight, and no failures', async () => {
    type Servers = { address: string; requests: number | null; failures: number | null; downUntil: number | null }[];
    const servers = async () => (JSON.parse((await request(`${statusUrl}/status.json`)).body.toString()) as { upstreams: { servers: Servers }[] }).upstreams[0].servers;
    const total = (list: Servers) => list.reduce((sum, server) => sum + (server.requests ?? 0), 0);
    const start = total(await servers());
    for (let i = 0; i < 60; i++) assert.equal((await request(`${proxy.url}/`)).status, 200);
    // Workers report once a second.
    await waitFor('the workers to report 60 more', async () => total(await servers()) >= start + 60);
    const list = await servers();
    const heavy = list.find((server) => server.address === `127.0.0.1:${backend2.port}`)!;
    const share = heavy.requests! / total(list);
    // Smooth weighted round robin per worker: weight 2 of 3 gets two of every three picks, within
    // one pick per worker however the workers split the traffic.
    assert.ok(share > 0.55 && share < 0.78, `weight 2 of 3 got ${share}: ${JSON.stringify(list)}`);
    assert.deepEqual(list.map((server) => [server.failures, server.downUntil]), [[0, 0], [0, 0]]);
    const samples = samplesOf(parsePrometheus((await request(`${statusUrl}/metrics`)).body.toString()), 'handoff_upstream_requests_total');
    assert.deepEqual(samples.map((sample) => sample.labels.server).sort(), list.map((server) => server.address).sort());
  });

  it('the dashboard at 1280×720: per-worker figures move with traffic, a worker of another container gets its own group, a killed worker is replaced and the timeline says how many connections were re-sent', async () => {
    assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} is needed (apt-get install chromium; .ci/run installs it)`);
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    const status = async () => JSON.parse((await request(`${statusUrl}/status.json`)).body.toString()) as Status;
    let browser: Browser | undefined;
    let joined: ChildProcess | undefined;
    let traffic: { stop: () => Promise<number> } | undefined;
    try {
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'],
      });
      const page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
      const shot = (name: string) => page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`) });
      await page.goto(`${statusUrl}/`);
      // Strings, not functions: they run in the page, and this project compiles without DOM types.
      await page.waitForFunction(`document.getElementById('state')?.textContent === 'live'`);
      const cards = (page: Page) => page.locator('#topology g.worker').evaluateAll((gs) =>
        gs.map((g) => ({ id: g.getAttribute('data-id'), pid: Number(g.getAttribute('data-pid')), host: g.closest('g.host')?.getAttribute('data-host') ?? null })));
      const first = await cards(page);
      assert.deepEqual(first.map((c) => c.id).sort(), ['w1', 'w2']);
      assert.deepEqual(first.map((c) => c.pid).sort(), proxy.workerPids().sort());

      // Per-worker figures move: every worker's req/s and handoffs/s, and the accepted/s, above 0.
      traffic = drive(`${proxy.url}/`, 4, 20_000);
      const allMoving = `(() => { const gs = [...document.querySelectorAll('#topology g.worker')];
        return Number(document.getElementById('acceptedRate').textContent) > 0 && gs.length > 0 && gs.every((g) =>
          Number(g.querySelector('.rps').textContent) > 0 &&
          Number(document.querySelector('#topology .handoffs[data-for="' + g.getAttribute('data-id') + '"]').textContent.replace('/s', '')) > 0); })()`;
      await page.waitForFunction(allMoving, undefined, { timeout: 10_000 });
      await shot('1-traffic');

      // A worker started by hand, reporting the lab's other container as its host: its own group.
      joined = spawn(process.execPath, [CLI, 'worker', '--handoff-dir', proxy.handoffDir], {
        stdio: 'ignore', env: { ...process.env, HANDOFF_WORKER_HOST: OTHER_HOST },
      });
      await page.waitForFunction(`document.querySelector('#topology g.host[data-host="${OTHER_HOST}"] g.worker') !== null`, undefined, { timeout: 10_000 });
      const inOther = (await cards(page)).filter((c) => c.host === OTHER_HOST);
      assert.deepEqual(inOther.map((c) => c.pid), [joined.pid]);
      assert.match(await page.locator(`#topology g.worker[data-id="${inOther[0].id}"]`).textContent() ?? '', /joined · gen 1/);
      assert.ok((await cards(page)).filter((c) => c.host !== OTHER_HOST).length === 2, 'the spawned two stay in the master\'s group');
      await page.waitForFunction(allMoving, undefined, { timeout: 10_000 });
      await shot('2-joined');

      // Kill a spawned worker under load: the master replaces it, and the timeline says why it
      // left and how many of its connections went to the others (the count status.json has).
      const victim = (await status()).workers.find((w) => w.origin === 'spawned')!;
      process.kill(victim.pid, 'SIGKILL');
      let left: Status['events'][number] | undefined;
      await waitFor('the master to record it leaving', async () => !!(left = (await status()).events.find((e) => e.kind === 'worker-left' && e.worker!.id === victim.id)));
      const line = `${victim.id} left: killed by SIGKILL, ${left!.resent} connection${left!.resent === 1 ? '' : 's'} re-sent to others`;
      await page.waitForFunction(`[...document.querySelectorAll('#events li')].some((li) => li.textContent.includes(${JSON.stringify(line)}))`, undefined, { timeout: 5_000 });
      let replacement: string | undefined;
      await waitFor('a replacement to join', async () => {
        replacement = (await status()).workers.find((w) => w.origin === 'spawned' && !first.some((c) => c.id === w.id))?.id;
        return replacement !== undefined;
      }, 10_000);
      await page.waitForFunction(`(() => { const g = document.querySelector('#topology g.worker[data-id="${replacement}"]');
        return g !== null && g.closest('g.host').getAttribute('data-host') !== '${OTHER_HOST}' && Number(g.querySelector('.rps').textContent) > 0; })()`, undefined, { timeout: 10_000 });
      assert.ok(!(await cards(page)).some((c) => c.id === victim.id), 'the killed worker is gone from the drawing');
      await page.waitForFunction(allMoving, undefined, { timeout: 10_000 });

      // An upstream server stops: the panel counts its failures and shows it down, in words.
      await backend2.stop();
      const row = `#upstreams tr[data-server="127.0.0.1:${backend2.port}"]`;
      await page.waitForFunction(`(() => { const tr = document.querySelector('${row}');
        return tr !== null && Number(tr.querySelector('.failures').textContent) > 0 && /^DOWN \\d+s$/.test(tr.querySelector('td.down')?.textContent ?? ''); })()`, undefined, { timeout: 10_000 });
      await page.waitForFunction(`document.querySelector('#upstreams tr[data-server="127.0.0.1:${backend.port}"] .share').textContent === '100%'`, undefined, { timeout: 5_000 });
      // Readable from the back of the room: nothing scrolls at a projector's size, body type ≥ 20px.
      const fit = await page.evaluate(`({ width: document.documentElement.scrollWidth, height: document.documentElement.scrollHeight,
        font: parseFloat(getComputedStyle(document.body).fontSize) })`) as { width: number; height: number; font: number };
      assert.ok(fit.width <= 1280 && fit.height <= 720, `fits 1280×720 without scrolling: ${JSON.stringify(fit)}`);
      assert.ok(fit.font >= 20, `body type ${fit.font}px`);
      await shot('3-replaced');
      if (process.env.UPDATE_GUIDE_SCREENSHOT === '1') fs.copyFileSync(path.join(ARTIFACTS, '3-replaced.png'), GUIDE_SCREENSHOT);
      await traffic.stop();
      traffic = undefined;

      // Two workers in two containers with the same pid: each card's req/s is its own.
      const live = await status() as unknown as { workers: Record<string, unknown>[] };
      const twin = (id: string, host: string, requestsServed: number) => ({ ...live.workers[0], id, pid: 7, host, origin: 'joined', requestsServed });
      const rates = await page.evaluate(`(() => {
        const at = (a, b) => ({ ...${JSON.stringify(live)}, workers: [${JSON.stringify(twin('w8', 'c1', 100))}, ${JSON.stringify(twin('w9', 'c2', 500))}].map((w, i) => ({ ...w, requestsServed: w.requestsServed + [a, b][i] })) });
        update(at(0, 0));
        update(at(3, 40));
        return [...document.querySelectorAll('#topology g.worker')].map((g) => g.getAttribute('data-id') + ' ' + g.querySelector('.rps').textContent);
      })()`);
      assert.deepEqual(rates, ['w8 3', 'w9 40']);

      // A worker that stopped acknowledging its handoffs: said in words, in the colour of trouble,
      // and the longer word still clear of the card's other text.
      const frozen = await page.evaluate(`(() => {
        update({ ...${JSON.stringify(live)}, workers: [{ ...${JSON.stringify(live.workers[0])}, origin: 'spawned', generation: 12, state: 'stalled' }] });
        const g = document.querySelector('#topology g.worker');
        const state = g.querySelector('text.state');
        const origin = g.querySelectorAll('text')[1].getBBox();
        return { state: g.getAttribute('data-state'), text: state.textContent, colour: state.getAttribute('fill'), clear: origin.x + origin.width < state.getBBox().x };
      })()`);
      assert.deepEqual(frozen, { state: 'stalled', text: 'stalled', colour: '#b3261e', clear: true });

      // Reloads, done and refused, in plain words on the timeline.
      const events = [
        { kind: 'reload-done', generation: 2, starting: 2, retiring: 3, seq: 90, at: Date.now() },
        { kind: 'reload-refused', error: 'upstreams.app.servers[0]: bad port', seq: 91, at: Date.now() },
      ];
      const said = await page.evaluate(`(() => {
        update({ ...${JSON.stringify(live)}, events: ${JSON.stringify(events)} });
        return [...document.querySelectorAll('#events li')].map((li) => li.className + ': ' + li.children[1].textContent);
      })()`);
      assert.deepEqual(said, [
        'refused: reload refused: upstreams.app.servers[0]: bad port (still running the old configuration)',
        'reload: reload: now generation 2: 2 workers starting, 3 retiring',
      ]);
    } finally {
      await traffic?.stop();
      joined?.kill('SIGKILL');
      await browser?.close();
    }
  });
});
