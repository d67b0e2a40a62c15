// nginx's signals: QUIT lets in-flight requests finish, TERM exits at once; both clean up the
// handoff directory and leave no worker behind. A worker ignores HUP, as nginx's do.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startBackend, type RunningBackend } from '../helpers/backend';
import { request } from '../helpers/http-client';
import { isAlive, waitFor } from '../helpers/procfs';
import { startProxy } from '../helpers/proxy';

describe('signals', () => {
  let backend: RunningBackend;
  before(async () => {
    backend = await startBackend({ id: 'sig' });
  });
  after(async () => backend?.stop());

  it('QUIT: a request in flight finishes, then master and workers exit and the handoff dir is cleaned', async () => {
    const proxy = await startProxy({ upstreams: { app: { servers: [`127.0.0.1:${backend.port}`] } } });
    const workers = proxy.workerPids();
    const slow = request(`${proxy.url}/delay?ms=600`);
    await new Promise((r) => setTimeout(r, 150));
    const exited = new Promise<number | null>((r) => proxy.process.once('exit', (code) => r(code)));
    process.kill(proxy.pid, 'SIGQUIT');
    const reply = await slow;
    assert.equal(reply.status, 200, 'the in-flight request completed');
    assert.equal(reply.body.toString(), 'delayed 600ms');
    assert.equal(await exited, 0);
    for (const w of workers) await waitFor(`worker ${w} to exit`, () => !isAlive(w));
    assert.equal(fs.existsSync(path.join(proxy.handoffDir, 'master.sock')), false, 'the socket is removed');
    await proxy.stop();
  });

  it('TERM: exits promptly even with a request in flight', async () => {
    const proxy = await startProxy({ upstreams: { app: { servers: [`127.0.0.1:${backend.port}`] } } });
    const workers = proxy.workerPids();
    const slow = request(`${proxy.url}/delay?ms=10000`).catch((err: Error) => err);
    await new Promise((r) => setTimeout(r, 150));
    const started = Date.now();
    const exited = new Promise<number | null>((r) => proxy.process.once('exit', (code) => r(code)));
    process.kill(proxy.pid, 'SIGTERM');
    assert.equal(await exited, 0);
    assert.ok(Date.now() - started < 3_000, `exited after ${Date.now() - started} ms`);
    assert.ok((await slow) instanceof Error, 'the in-flight request was cut');
    for (const w of workers) await waitFor(`worker ${w} to exit`, () => !isAlive(w));
    await proxy.stop();
  });

  it('HUP to a worker (a whole process group hung up): the worker ignores it and serves on', async () => {
    const proxy = await startProxy({ workers: 1, upstreams: { app: { servers: [`127.0.0.1:${backend.port}`] } } });
    try {
      const [worker] = proxy.workerPids();
      process.kill(worker!, 'SIGHUP');
      await waitFor('the worker to log the HUP', () => /SIGHUP ignored/.test(proxy.stderr()));
      assert.ok(isAlive(worker!), 'the worker is still there');
      assert.deepEqual(proxy.workerPids(), [worker], 'and not replaced');
      assert.equal((await request(`${proxy.url}/`)).status, 200);
    } finally {
      await proxy.stop();
    }
  });

  it('refuses to start on a port that is taken, naming the address', async () => {
    const first = await startProxy({ workers: 1, upstreams: { app: { servers: [`127.0.0.1:${backend.port}`] } } });
    const { spawnSync } = await import('node:child_process');
    const { CLI } = await import('../helpers/proxy');
    const run = spawnSync(process.execPath, [CLI, '--listen', `127.0.0.1:${first.port}`, '--handoff-dir', `${first.handoffDir}-2`], { encoding: 'utf8', timeout: 10_000 });
    await first.stop();
    assert.equal(run.status, 1);
    assert.match(run.stderr, new RegExp(`127\\.0\\.0\\.1:${first.port}.*(in use|EADDRINUSE)`, 'i'));
  });
});
