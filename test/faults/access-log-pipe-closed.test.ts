// The reader of the proxy's stdout goes away (a log collector that died, `handoff | head`): every
// write to the pipe fails with EPIPE. The access-log lines are lost, one alert per worker says so,
// and master and workers go on serving as the same processes: a worker that died on it would be
// respawned only to die again at its first request. Then stderr's reader goes too: the error log
// is lost as well, and still nothing crashes.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startBackend, type RunningBackend } from '../helpers/backend';
import { request } from '../helpers/http-client';
import { isAlive, waitFor } from '../helpers/procfs';
import { startProxy } from '../helpers/proxy';

describe('the access log on a pipe whose reader closed', () => {
  let backend: RunningBackend;
  before(async () => {
    backend = await startBackend({ id: 'pipe-closed' });
  });
  after(async () => backend?.stop());

  it('drops the lines with an alert and keeps serving from the same master and workers, and a closed stderr crashes nothing either', { timeout: 30_000 }, async () => {
    const proxy = await startProxy({
      workers: 2,
      handoff: { policy: 'round-robin' },
      upstreams: { app: { servers: [`127.0.0.1:${backend.port}`] } },
      extra: { accessLog: 'stdout' },
    });
    try {
      const workers = proxy.workerPids().sort();
      assert.equal((await request(`${proxy.url}/?before=1`)).status, 200);
      await waitFor('the first line', () => proxy.stdout().includes('?before=1 '));

      proxy.process.stdout!.destroy(); // the reader of stdout is gone: writes get EPIPE
      const alerts = (): number => proxy.stderr().match(/\[alert\] \d+#worker: writing the access log to stdout failed \(EPIPE/g)?.length ?? 0;
      for (let i = 0; i < 40; i++) assert.equal((await request(`${proxy.url}/?closed=${i}`)).status, 200, `request ${i}`);
      await waitFor('an alert from each worker', () => alerts() === 2);
      for (let i = 0; i < 20; i++) assert.equal((await request(`${proxy.url}/?still=${i}`)).status, 200);
      assert.equal(alerts(), 2, 'one alert per worker, not one per line');
      assert.deepEqual(proxy.workerPids().sort(), workers, 'no worker died and was replaced');
      assert.equal(proxy.process.exitCode, null, 'the master is still there');

      proxy.process.stderr!.destroy(); // and the error log's reader too
      for (let i = 0; i < 40; i++) assert.equal((await request(`${proxy.url}/?no-stderr=${i}`)).status, 200);
      process.kill(workers[0]!, 'SIGHUP'); // a worker logs that it ignores HUP: a write to the closed stderr
      for (let i = 0; i < 20; i++) assert.equal((await request(`${proxy.url}/?after-hup=${i}`)).status, 200);
      assert.deepEqual(proxy.workerPids().sort(), workers, 'the same workers');
      assert.ok(workers.every(isAlive));
      assert.equal(proxy.process.exitCode, null, 'the same master');
    } finally {
      await proxy.stop();
    }
  });
});
