// A SIGHUP when the handoff directory is gone and cannot be made again (here: a file stands at its
// path) must not take the master down. As nginx's, a reload is all or nothing: it says why in
// one line, and the old config and the old workers go on serving. Once the directory can be made
// again, the master makes it by itself, and the next reload goes through.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { startBackend, type RunningBackend } from '../helpers/backend';
import { request } from '../helpers/http-client';
import { isAlive, waitFor } from '../helpers/procfs';
import { startProxy, type RunningProxy } from '../helpers/proxy';

describe('reload with the handoff dir gone', () => {
  let a: RunningBackend;
  let b: RunningBackend;
  let proxy: RunningProxy;

  before(async () => {
    a = await startBackend({ id: 'old' });
    b = await startBackend({ id: 'new' });
    proxy = await startProxy({ workers: 1, upstreams: { app: { servers: [`127.0.0.1:${a.port}`] } } });
  });
  after(async () => {
    await proxy?.stop();
    await a?.stop();
    await b?.stop();
  });

  it('a failed reload keeps the master, its config and its workers; the next one, once the dir can be made, goes through', async () => {
    const workers = proxy.workerPids();
    const config = JSON.parse(fs.readFileSync(proxy.configFile, 'utf8')) as { upstreams: unknown };
    config.upstreams = { app: { servers: [`127.0.0.1:${b.port}`] } };
    fs.writeFileSync(proxy.configFile, JSON.stringify(config));

    fs.rmSync(proxy.handoffDir, { recursive: true });
    fs.writeFileSync(proxy.handoffDir, 'not a directory');
    process.kill(proxy.pid, 'SIGHUP');
    await waitFor('the reload to fail', () => /reload failed/.test(proxy.stderr()));

    const line = proxy.stderr().split('\n').find((l) => /reload failed/.test(l))!;
    assert.match(line, /reload failed, the current configuration stays: cannot publish the new configuration: .*handoff dir .* cannot be recreated/, 'one line says why');
    assert.ok(isAlive(proxy.pid), 'the master is still running');
    assert.deepEqual(proxy.workerPids(), workers, 'the old workers stay');
    const during = await request(`${proxy.url}/`);
    assert.equal(during.status, 200, 'the client is served');
    assert.equal(during.headers['x-backend-id'], 'old', 'by the old config: nothing of the failed reload is in force');

    fs.rmSync(proxy.handoffDir);
    await waitFor('the master to make the dir again', () => fs.existsSync(`${proxy.handoffDir}/master.sock`));
    process.kill(proxy.pid, 'SIGHUP');
    await waitFor('the new config in force', async () => (await request(`${proxy.url}/`)).headers['x-backend-id'] === 'new', 10_000);
    assert.ok(isAlive(proxy.pid), 'the same master, never restarted');
    assert.notDeepEqual(proxy.workerPids(), workers, 'the reload replaced the workers');
  });
});
