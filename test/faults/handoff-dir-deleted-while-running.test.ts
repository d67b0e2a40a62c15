// Deleting the handoff directory under a running master. Its workers keep serving (their channels
// are open sockets, as nginx keeps serving on the sockets it holds). The master notices within
// about a second, says so in one line, and makes the directory again: lock, config, master.sock.
// So a replacement worker joins, and a second master on the same path is refused as before. If a
// second master took the path first, the first says so, keeps its workers, and does not steal it
// back; once the second is gone, the first takes it again.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startBackend, type RunningBackend } from '../helpers/backend';
import { request } from '../helpers/http-client';
import { isAlive, waitFor } from '../helpers/procfs';
import { CLI, startProxy, type RunningProxy } from '../helpers/proxy';

const joinedCount = (stderr: string, pid: number) => stderr.split('\n').filter((l) => l.includes(`${pid}#master: worker`) && /joined \(/.test(l)).length;

describe('the handoff dir deleted while the master runs', () => {
  let backend: RunningBackend;
  let proxy: RunningProxy;

  before(async () => {
    backend = await startBackend({ id: 'real' });
    proxy = await startProxy({ workers: 2, upstreams: { app: { servers: [`127.0.0.1:${backend.port}`] } } });
  });
  after(async () => {
    await proxy?.stop();
    await backend?.stop();
  });

  it('the master makes it again and says so; a replacement worker joins; a second master is refused', async () => {
    const sock = path.join(proxy.handoffDir, 'master.sock');
    fs.rmSync(proxy.handoffDir, { recursive: true });
    assert.equal((await request(`${proxy.url}/`)).status, 200, 'the running workers serve meanwhile');
    await waitFor('the master to notice', () => /handoff dir .*: the directory was deleted while the master ran; recreated it/.test(proxy.stderr()), 3_000);
    for (const name of ['master.sock', 'master.lock', 'config.json', 'master.json']) {
      assert.ok(fs.existsSync(path.join(proxy.handoffDir, name)), `${name} is back`);
    }
    assert.equal(fs.statSync(proxy.handoffDir).mode & 0o777, 0o700);

    const joined = joinedCount(proxy.stderr(), proxy.pid);
    const [victim] = proxy.workerPids();
    process.kill(victim!, 'SIGKILL');
    await waitFor('a replacement worker to join', () => joinedCount(proxy.stderr(), proxy.pid) > joined, 8_000);

    const second = spawnSync(process.execPath, [CLI, '--listen', '127.0.0.1:0', '--upstream', `127.0.0.1:${backend.port}`, '--handoff-dir', proxy.handoffDir], { encoding: 'utf8', timeout: 10_000 });
    assert.equal(second.status, 1);
    assert.match(second.stderr, new RegExp(`handoff dir ${proxy.handoffDir} is in use by the master with pid ${proxy.pid}`));
    assert.ok(fs.statSync(sock).isSocket(), 'the refused master left master.sock alone');
    assert.ok(isAlive(proxy.pid), 'the same master');
    assert.equal((await request(`${proxy.url}/`)).status, 200);
  });

  it('if a second master took it first, the first says so, keeps serving, does not steal it back, and takes it again when it is free', async () => {
    // Stopped, the first master cannot notice; the second then starts on the fresh path.
    process.kill(proxy.pid, 'SIGSTOP');
    fs.rmSync(proxy.handoffDir, { recursive: true });
    const second = spawn(process.execPath, [CLI, '--listen', '127.0.0.1:0', '--upstream', `127.0.0.1:${backend.port}`, '--workers', '1', '--handoff-dir', proxy.handoffDir], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    second.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    second.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    try {
      await waitFor('the second master to be ready', () => out.includes('1 workers ready'), 8_000);
      const theirSocket = fs.statSync(path.join(proxy.handoffDir, 'master.sock')).ino;
      process.kill(proxy.pid, 'SIGCONT');
      await waitFor('the first master to say the dir is taken', () => /was deleted while this master ran, and the master with pid \d+ has taken it since/.test(proxy.stderr()), 3_000);
      assert.match(proxy.stderr(), new RegExp(`the master with pid ${second.pid} has taken it since: this master keeps serving with its running workers`));

      const joined = joinedCount(err, second.pid!);
      const [victim] = proxy.workerPids();
      process.kill(victim!, 'SIGKILL');
      await waitFor('the first master to see its worker go', () => new RegExp(`pid ${victim}.*left`).test(proxy.stderr()));
      assert.equal((await request(`${proxy.url}/`)).status, 200, 'the first master serves with the worker it has left');
      assert.equal(fs.statSync(path.join(proxy.handoffDir, 'master.sock')).ino, theirSocket, 'the first did not take master.sock back');
      assert.equal(joinedCount(err, second.pid!), joined, 'no worker of the first master joined the second');
      assert.doesNotMatch(err, /\(pid \d+ on [^,]+, joined\) joined/, 'the second master has only its own workers');
    } finally {
      process.kill(proxy.pid, 'SIGCONT');
      second.kill('SIGTERM');
      await new Promise((r) => (second.exitCode !== null ? r(null) : second.once('exit', r)));
    }
    await waitFor('the first master to take the dir again', () => /has left it, and this master holds it again/.test(proxy.stderr()), 3_000);
    await waitFor('its replacement worker to join', () => proxy.workerPids().length === 2 && /joined \(2 registered\)/.test(proxy.stderr().split('holds it again').at(-1)!), 10_000);
    assert.ok(isAlive(proxy.pid), 'the same master throughout');
  });
});
