// Whoever can write into the handoff directory can replace config.json and so send all traffic,
// through the next worker, to a server of their choosing. So the master refuses to start on a
// directory that another user owns, or that others can write, in one line and with exit code 1,
// and leaves that directory as it found it (no chmod of someone else's directory). And a worker
// refuses a config.json that its user or root did not write, or that others could have.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startBackend, type RunningBackend } from '../helpers/backend';
import { request } from '../helpers/http-client';
import { isAlive } from '../helpers/procfs';
import { CLI, startProxy, type RunningProxy } from '../helpers/proxy';

const NOBODY = 65534;

function startMaster(dir: string) {
  return spawnSync(process.execPath, [CLI, '--listen', '127.0.0.1:0', '--upstream', '127.0.0.1:9', '--handoff-dir', dir], { encoding: 'utf8', timeout: 10_000 });
}

describe('a handoff dir another user could write', () => {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'handoff-owner-'));
  after(() => fs.rmSync(scratch, { recursive: true, force: true }));

  it('owned by another user: the master refuses to start, says why in one line, and leaves the dir untouched', () => {
    const dir = path.join(scratch, 'theirs');
    fs.mkdirSync(dir, { mode: 0o700 });
    fs.chownSync(dir, NOBODY, NOBODY);
    const run = startMaster(dir);
    assert.equal(run.status, 1, `exit code 1; stdout: ${run.stdout}`);
    assert.equal(run.stderr.trim().split('\n').length, 1, `one line: ${run.stderr}`);
    assert.match(run.stderr, new RegExp(`^handoff: \\[emerg\\] ${dir} is owned by uid ${NOBODY}, not by this master's user \\(uid 0\\)`));
    const st = fs.statSync(dir);
    assert.equal(st.uid, NOBODY, 'still theirs');
    assert.equal(st.mode & 0o777, 0o700, 'not chmodded');
    assert.deepEqual(fs.readdirSync(dir), [], 'nothing was written into it');
  });

  it('writable by its group: refused too, even though it is ours, and not chmodded', () => {
    const dir = path.join(scratch, 'group-writable');
    fs.mkdirSync(dir);
    fs.chmodSync(dir, 0o770);
    const run = startMaster(dir);
    assert.equal(run.status, 1);
    assert.match(run.stderr, new RegExp(`^handoff: \\[emerg\\] ${dir} is writable by other users \\(mode 0770\\)`));
    assert.equal(fs.statSync(dir).mode & 0o777, 0o770);
    assert.deepEqual(fs.readdirSync(dir), []);
  });
});

describe('a config.json a worker must not trust', () => {
  let backend: RunningBackend;
  let proxy: RunningProxy;

  before(async () => {
    backend = await startBackend({ id: 'real' });
    proxy = await startProxy({ workers: 1, upstreams: { app: { servers: [`127.0.0.1:${backend.port}`] } } });
  });
  after(async () => {
    await proxy?.stop();
    await backend?.stop();
  });

  const joinByHand = () =>
    spawnSync(process.execPath, [CLI, 'worker', '--handoff-dir', proxy.handoffDir, '--wait-ms', '0'], { encoding: 'utf8', timeout: 10_000 });

  it('owned by another user: the worker refuses to serve it, saying why; the master and its workers serve on', async () => {
    const file = path.join(proxy.handoffDir, 'config.json');
    fs.chownSync(file, NOBODY, NOBODY);
    const run = joinByHand();
    assert.equal(run.status, 1, `the worker exits; stderr: ${run.stderr}`);
    assert.match(run.stderr, new RegExp(`${file} is owned by uid ${NOBODY}, not by this worker's user \\(uid 0\\) or root: refusing to serve it`));
    fs.chownSync(file, 0, 0);
    assert.ok(isAlive(proxy.pid));
    assert.equal((await request(`${proxy.url}/`)).headers['x-backend-id'], 'real');
  });

  it('writable by others, or a symlink: refused as well', () => {
    const file = path.join(proxy.handoffDir, 'config.json');
    fs.chmodSync(file, 0o666);
    assert.match(joinByHand().stderr, /config\.json is writable by other users \(mode 0666\): refusing to serve it/);
    fs.chmodSync(file, 0o600);
    // Swapped in with rename(2), so config.json is never missing (the master would publish it again).
    const real = `${file}.real`;
    const link = `${file}.link`;
    fs.copyFileSync(file, real);
    fs.symlinkSync(real, link);
    fs.renameSync(link, file);
    assert.match(joinByHand().stderr, /config\.json is a symlink: refusing to read it/);
    fs.renameSync(real, file);
  });
});
