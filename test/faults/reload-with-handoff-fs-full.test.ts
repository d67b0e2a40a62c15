// A SIGHUP when the handoff directory's filesystem is full (the new config.json cannot be
// written) must not take the master down: the reload fails in one line, config.json stays the
// old one, whole, and the old workers keep serving. With room again, the next reload goes through.
// The full filesystem is a real one: a tiny tmpfs mounted as the handoff directory (we are root).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startBackend, type RunningBackend } from '../helpers/backend';
import { request } from '../helpers/http-client';
import { isAlive, waitFor } from '../helpers/procfs';
import { startProxy, type RunningProxy } from '../helpers/proxy';

const mountRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'handoff-fs-full-'));
const handoffDir = path.join(mountRoot, 'handoff');
fs.mkdirSync(handoffDir, { mode: 0o700 });
const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=256k,mode=0700', 'tmpfs', handoffDir], { encoding: 'utf8' });
const skip = mounted.status === 0 ? false : `mounting a tmpfs is not permitted here: ${(mounted.stderr || mounted.error?.message || '').trim()}`;

describe('reload with the handoff filesystem full', { skip }, () => {
  let a: RunningBackend;
  let b: RunningBackend;
  let proxy: RunningProxy;
  const filler = path.join(handoffDir, 'filler');

  before(async () => {
    a = await startBackend({ id: 'old' });
    b = await startBackend({ id: 'new' });
    proxy = await startProxy({ workers: 1, upstreams: { app: { servers: [`127.0.0.1:${a.port}`] } }, handoff: { dir: handoffDir } });
  });
  after(async () => {
    await proxy?.stop();
    await a?.stop();
    await b?.stop();
    spawnSync('umount', [handoffDir]);
    fs.rmSync(mountRoot, { recursive: true, force: true });
  });

  it('the reload fails in one line, config.json stays whole and old, the same master and workers serve; with room, the next reload works', async () => {
    const workers = proxy.workerPids();
    const published = fs.readFileSync(path.join(handoffDir, 'config.json'), 'utf8');
    const config = JSON.parse(fs.readFileSync(proxy.configFile, 'utf8')) as { upstreams: unknown };
    config.upstreams = { app: { servers: [`127.0.0.1:${b.port}`] } };
    fs.writeFileSync(proxy.configFile, JSON.stringify(config));

    const fd = fs.openSync(filler, 'w');
    try {
      for (;;) fs.writeSync(fd, Buffer.alloc(4096));
    } catch (err) {
      assert.equal((err as NodeJS.ErrnoException).code, 'ENOSPC', 'the tmpfs is full');
    } finally {
      fs.closeSync(fd);
    }
    process.kill(proxy.pid, 'SIGHUP');
    await waitFor('the reload to fail', () => /reload failed/.test(proxy.stderr()));

    const line = proxy.stderr().split('\n').find((l) => /reload failed/.test(l))!;
    assert.match(line, /reload failed, the current configuration stays: cannot publish the new configuration: .*ENOSPC/, 'one line says why');
    assert.ok(isAlive(proxy.pid), 'the master is still running');
    assert.deepEqual(proxy.workerPids(), workers, 'the old workers stay');
    assert.equal(fs.readFileSync(path.join(handoffDir, 'config.json'), 'utf8'), published, 'config.json is the old one, whole');
    assert.deepEqual(fs.readdirSync(handoffDir).filter((n) => n.endsWith('.tmp')), [], 'no half-written temporary file is left');
    const during = await request(`${proxy.url}/`);
    assert.equal(during.status, 200, 'the client is served');
    assert.equal(during.headers['x-backend-id'], 'old', 'by the old config');

    fs.rmSync(filler);
    process.kill(proxy.pid, 'SIGHUP');
    await waitFor('the new config in force', async () => (await request(`${proxy.url}/`)).headers['x-backend-id'] === 'new', 10_000);
    assert.ok(isAlive(proxy.pid), 'the same master, never restarted');
  });
});
