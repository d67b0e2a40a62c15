// `handoff -s reload|reopen|quit|stop` finds the master through its pid file, as nginx -s does,
// and says in one sentence (exit 1) why it cannot: no pid file, a stale one, an unknown signal.
// The master writes the file once it has started and removes it when it exits. `-v` prints the
// version from package.json.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startBackend, type RunningBackend } from '../helpers/backend';
import { request } from '../helpers/http-client';
import { isAlive, waitFor } from '../helpers/procfs';
import { CLI, startProxy, type RunningProxy } from '../helpers/proxy';

function handoff(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 10_000 });
}

/** The one line of an error: a sentence, no usage text after it. */
function oneLine(stderr: string): string {
  const lines = stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line: ${stderr}`);
  return lines[0]!;
}

describe('handoff -s through the pid file', () => {
  let backend: RunningBackend;
  before(async () => {
    backend = await startBackend({ id: 'control' });
  });
  after(async () => backend?.stop());

  const start = (): Promise<RunningProxy> => startProxy({ workers: 1, upstreams: { app: { servers: [`127.0.0.1:${backend.port}`] } } });

  it('the master writes its pid file at start; -s reload reloads, -s quit ends it and the file is gone', async () => {
    const proxy = await start();
    try {
      const pidFile = path.join(proxy.handoffDir, 'master.pid');
      assert.equal(fs.readFileSync(pidFile, 'utf8'), `${proxy.pid}\n`);
      const [oldWorker] = proxy.workerPids();

      const reload = handoff('-c', proxy.configFile, '-s', 'reload');
      assert.equal(reload.status, 0, reload.stderr);
      await waitFor('the reload', () => /reloading: 1 new worker/.test(proxy.stderr()));
      await waitFor('the old worker to leave', () => !isAlive(oldWorker!));
      assert.equal((await request(`${proxy.url}/`)).status, 200);

      const exited = new Promise<number | null>((r) => proxy.process.once('exit', (code) => r(code)));
      const quit = handoff('-c', proxy.configFile, '-s', 'quit');
      assert.equal(quit.status, 0, quit.stderr);
      assert.equal(await exited, 0);
      assert.match(proxy.stderr(), /gracefully shutting down/);
      assert.equal(fs.existsSync(pidFile), false, 'the pid file is removed at exit');

      const gone = handoff('-c', proxy.configFile, '-s', 'reload');
      assert.equal(gone.status, 1);
      assert.match(oneLine(gone.stderr), new RegExp(`^handoff: \\[error\\] there is no pid file at ${pidFile}, so no master to signal`));
    } finally {
      await proxy.stop();
    }
  });

  it('-s stop ends the master at once, and --pid-file names another file', async () => {
    const proxy = await startProxy({ workers: 1, upstreams: { app: { servers: [`127.0.0.1:${backend.port}`] } }, extra: { pidFile: 'run.pid' } });
    try {
      const pidFile = path.join(path.dirname(proxy.configFile), 'run.pid');
      assert.equal(fs.readFileSync(pidFile, 'utf8').trim(), String(proxy.pid), 'pidFile, relative: beside the config');
      const elsewhere = handoff('-c', proxy.configFile, '--pid-file', `${pidFile}.other`, '-s', 'stop');
      assert.equal(elsewhere.status, 1);
      assert.match(oneLine(elsewhere.stderr), /no pid file at .*run\.pid\.other/);
      const exited = new Promise<number | null>((r) => proxy.process.once('exit', (code) => r(code)));
      const stop = handoff('-c', proxy.configFile, '-s', 'stop');
      assert.equal(stop.status, 0, stop.stderr);
      assert.equal(await exited, 0);
      assert.match(proxy.stderr(), /\bexiting\b/);
    } finally {
      await proxy.stop();
    }
  });

  it('a stale pid file (the master was killed) and an unknown signal are refused in one sentence, exit 1', async () => {
    const proxy = await start();
    try {
      const pidFile = path.join(proxy.handoffDir, 'master.pid');
      const exited = new Promise<void>((r) => proxy.process.once('exit', () => r()));
      const workers = proxy.workerPids();
      process.kill(proxy.pid, 'SIGKILL'); // no clean exit: the file stays
      await exited;
      // Its workers serve on as orphans (the lifeboat, proxy/worker/lifeboat.ts): ended here by pid.
      for (const w of workers) process.kill(w, 'SIGKILL');
      for (const w of workers) await waitFor(`worker ${w} to exit`, () => !isAlive(w));
      assert.equal(fs.existsSync(pidFile), true);
      const stale = handoff('-c', proxy.configFile, '-s', 'reopen');
      assert.equal(stale.status, 1);
      assert.match(oneLine(stale.stderr), new RegExp(`names process ${proxy.pid}, which is not running \\(a stale pid file`));

      const unknown = handoff('-c', proxy.configFile, '-s', 'restart');
      assert.equal(unknown.status, 1);
      assert.equal(oneLine(unknown.stderr), 'handoff: [error] unknown signal "restart": use one of reload, reopen, quit, stop');
    } finally {
      await proxy.stop();
    }
  });

  it('-v prints the version of package.json', () => {
    const { version } = JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../../package.json'), 'utf8')) as { version: string };
    const run = handoff('-v');
    assert.equal(run.status, 0);
    assert.equal(run.stdout, `handoff version: handoff/${version}\n`);
  });
});
