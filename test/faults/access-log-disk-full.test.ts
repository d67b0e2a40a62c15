// A full disk under the access log: the lines that cannot be written are lost, one alert says
// so, and the workers go on serving: no worker crashes, so none is respawned. Once there is room
// again, lines are written again and a notice says how many were lost (nginx logs an alert and
// keeps serving; it tries each line again). The disk is real: a 256 KiB tmpfs mounted here,
// filled up, then freed; and /dev/full, where every write fails with ENOSPC, from the start.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startBackend, type RunningBackend } from '../helpers/backend';
import { deadPort, request } from '../helpers/http-client';
import { waitFor } from '../helpers/procfs';
import { startProxy, type RunningProxy } from '../helpers/proxy';

/** Writes until the file system says ENOSPC: nothing more fits. */
function fillUp(file: string): void {
  const fd = fs.openSync(file, 'w');
  const block = Buffer.alloc(4096, 0x2e);
  try {
    for (;;) fs.writeSync(fd, block);
  } catch (err) {
    assert.equal((err as NodeJS.ErrnoException).code, 'ENOSPC');
  } finally {
    fs.closeSync(fd);
  }
}

/** Requests, one after another, until `done` holds (for at most 10 s): every one must be answered 200. */
async function serveUntil(proxy: RunningProxy, tag: string, done: () => boolean, max = 400): Promise<number> {
  const deadline = Date.now() + 10_000;
  for (let i = 0; i < max && Date.now() < deadline; i++) {
    const r = await request(`${proxy.url}/?${tag}=${i}`);
    assert.equal(r.status, 200, `request ${i} of ${tag}`);
    if (done()) return i + 1;
  }
  throw new Error(`still waiting after ${max} requests or 10 s (${tag}); stderr:\n${proxy.stderr()}`);
}

describe('the access log on a full disk', () => {
  let backend: RunningBackend;
  let mount = '';
  before(async () => {
    backend = await startBackend({ id: 'disk-full' });
    mount = fs.mkdtempSync(path.join(os.tmpdir(), 'handoff-full-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', mount]);
  });
  after(async () => {
    await backend?.stop();
    if (mount) {
      execFileSync('umount', [mount]);
      fs.rmdirSync(mount);
    }
  });

  it('drops lines with one alert while the disk is full, serves every request from the same processes, and writes again once there is room', { timeout: 30_000 }, async () => {
    const log = path.join(mount, 'access.log');
    const proxy = await startProxy({
      workers: 2,
      handoff: { policy: 'round-robin' },
      upstreams: { app: { servers: [`127.0.0.1:${backend.port}`] } },
      extra: { accessLog: 'stdout' },
      stdoutTo: log,
    });
    try {
      const master = proxy.pid;
      const workers = proxy.workerPids().sort();
      assert.equal(workers.length, 2);
      await serveUntil(proxy, 'before', () => proxy.stdout().includes('?before=0 '));

      fillUp(path.join(mount, 'filler'));
      // The log's last page may still hold a few lines; then its writes fail.
      await serveUntil(proxy, 'full', () => /\[alert\].*writing the access log to stdout failed \(ENOSPC/.test(proxy.stderr()));
      const linesWhenFull = proxy.stdout().split('\n').length;
      for (let i = 0; i < 30; i++) assert.equal((await request(`${proxy.url}/?still-full=${i}`)).status, 200);
      assert.equal(proxy.stdout().split('\n').length, linesWhenFull, 'nothing more reached the full disk');
      assert.equal(proxy.stdout().includes('?still-full='), false);
      assert.equal(process.kill(master, 0), true);
      assert.deepEqual(proxy.workerPids().sort(), workers, 'no worker crashed and was replaced');
      assert.doesNotMatch(proxy.stderr(), /exited|signal|respawn/i);

      fs.unlinkSync(path.join(mount, 'filler'));
      // Each worker tries again a second after its last failure.
      const count = (pattern: RegExp): number => proxy.stderr().match(pattern)?.length ?? 0;
      const failed = count(/writing the access log to stdout failed/g);
      await waitFor('every worker that failed to write again', async () => {
        assert.equal((await request(`${proxy.url}/?room=again`)).status, 200);
        return count(/writing the access log to stdout works again, after \d+ line\(s\) were dropped/g) === failed;
      }, 8_000);
      assert.match(proxy.stdout(), /GET \/\?room=again HTTP\/1\.1" 200 /);
      const dropped = [...proxy.stderr().matchAll(/works again, after (\d+) line\(s\) were dropped since [\d:]+ \(ENOSPC/g)].map((m) => Number(m[1]));
      assert.ok(dropped.reduce((a, b) => a + b, 0) > 0, `the lines the full disk cost are counted: ${dropped.join(', ')}`);
      assert.deepEqual(proxy.workerPids().sort(), workers);
      assert.equal(proxy.process.exitCode, null);
    } finally {
      await proxy.stop();
    }
  });

  it('stdout on /dev/full from the start: master and workers start, serve, and stay the same processes', { timeout: 30_000 }, async () => {
    const port = await deadPort();
    const proxy = await startProxy({
      workers: 2,
      upstreams: { app: { servers: [`127.0.0.1:${backend.port}`] } },
      extra: { accessLog: 'stdout', listeners: [`127.0.0.1:${port}`] },
      stdoutTo: '/dev/full',
    });
    try {
      const workers = proxy.workerPids().sort();
      await serveUntil(proxy, 'devfull', () => /\[alert\].*writing the access log to stdout failed \(ENOSPC/.test(proxy.stderr()));
      for (let i = 0; i < 20; i++) assert.equal((await request(`${proxy.url}/?more=${i}`)).status, 200);
      assert.deepEqual(proxy.workerPids().sort(), workers, 'no worker crashed and was replaced');
      assert.equal(proxy.process.exitCode, null, 'the master is still there');
    } finally {
      await proxy.stop();
    }
  });
});
