// SIGHUP reloads like nginx: all-or-nothing, new workers with the new config, old workers finish
// what they have — and not one request fails while it happens.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { startBackend, type RunningBackend } from '../helpers/backend';
import { request } from '../helpers/http-client';
import { isAlive, waitFor } from '../helpers/procfs';
import { startProxy, type RunningProxy } from '../helpers/proxy';

describe('reload (SIGHUP)', () => {
  let a: RunningBackend;
  let b: RunningBackend;
  let proxy: RunningProxy;

  before(async () => {
    a = await startBackend({ id: 'gen-a' });
    b = await startBackend({ id: 'gen-b' });
    proxy = await startProxy({ workers: 2, upstreams: { app: { servers: [`127.0.0.1:${a.port}`] } } });
  });
  after(async () => {
    await proxy?.stop();
    await a?.stop();
    await b?.stop();
  });

  const rewriteConfig = (change: (config: Record<string, unknown>) => void) => {
    const config = JSON.parse(fs.readFileSync(proxy.configFile, 'utf8')) as Record<string, unknown>;
    change(config);
    fs.writeFileSync(proxy.configFile, JSON.stringify(config));
  };

  it('reload-drops-nothing: keep-alive clients under load see no error while workers are replaced', async () => {
    const oldWorkers = proxy.workerPids();
    rewriteConfig((c) => (c.upstreams = { app: { servers: [`127.0.0.1:${b.port}`] } }));
    const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
    const seen = new Map<string, number>();
    const failures: string[] = [];
    const deadline = Date.now() + 3_000;
    let sentHup = false;
    const client = async () => {
      for (let i = 0; i < 5_000 && Date.now() < deadline; i++) {
        try {
          const reply = await request(`${proxy.url}/`, { agent });
          if (reply.status !== 200) failures.push(`status ${reply.status}`);
          const id = String(reply.headers['x-backend-id']);
          seen.set(id, (seen.get(id) ?? 0) + 1);
        } catch (err) {
          failures.push((err as Error).message);
        }
      }
    };
    const load = Promise.all(Array.from({ length: 8 }, client));
    await new Promise((r) => setTimeout(r, 800));
    process.kill(proxy.pid, 'SIGHUP');
    sentHup = true;
    await load;
    agent.destroy();
    assert.ok(sentHup);
    assert.deepEqual(failures, [], 'no request failed during the reload');
    assert.ok((seen.get('gen-a') ?? 0) > 0 && (seen.get('gen-b') ?? 0) > 0, `answers from before and after: ${JSON.stringify([...seen])}`);
    for (const w of oldWorkers) await waitFor(`old worker ${w} to exit`, () => !isAlive(w));
    const fresh = await request(`${proxy.url}/`);
    assert.equal(fresh.headers['x-backend-id'], 'gen-b', 'the new config is in force');
  });

  it('a bad config keeps the old config and the old workers', async () => {
    const workers = proxy.workerPids();
    rewriteConfig((c) => (c.upstreams = { app: { servers: ['not an address'] } }));
    process.kill(proxy.pid, 'SIGHUP');
    await waitFor('the reload error', () => /reload failed, the current configuration stays/.test(proxy.stderr()));
    assert.match(proxy.stderr(), /upstreams\.app\.servers\[0\]/);
    assert.deepEqual(proxy.workerPids().sort(), workers.sort(), 'the same workers');
    assert.equal((await request(`${proxy.url}/`)).headers['x-backend-id'], 'gen-b');
  });

  it('refuses to change the listeners on a reload, naming why', async () => {
    rewriteConfig((c) => {
      c.upstreams = { app: { servers: [`127.0.0.1:${b.port}`] } };
      c.listeners = ['127.0.0.1:1'];
    });
    process.kill(proxy.pid, 'SIGHUP');
    await waitFor('the refusal', () => /listeners change only on a restart/.test(proxy.stderr()));
    assert.equal((await request(`${proxy.url}/`)).status, 200);
  });
});
