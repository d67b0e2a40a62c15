// A worker short of fds: it caps its connections to what its open-files limit leaves room for
// (each needs an upstream fd too), and what it cannot take — at its cap, or arriving without its
// fd (MSG_CTRUNC) — goes back to the master (REJECT), which serves the client elsewhere.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { startBackend, type RunningBackend } from '../helpers/backend';
import { request } from '../helpers/http-client';
import { waitFor } from '../helpers/procfs';
import { CLI, startProxy, type RunningProxy } from '../helpers/proxy';

describe('a worker out of file descriptors', () => {
  let backend: RunningBackend;
  let proxy: RunningProxy;
  before(async () => {
    backend = await startBackend({ id: 'fds' });
    proxy = await startProxy({ workers: 1, handoff: { policy: 'round-robin' }, upstreams: { app: { servers: [`127.0.0.1:${backend.port}`] } } });
  });
  after(async () => {
    await proxy?.stop();
    await backend?.stop();
  });

  it('rejects what it cannot take, and every client is served by another worker', async () => {
    // A hand-started worker with a soft limit of 40 fds joins; round robin sends it every other connection.
    const starved = spawn('bash', ['-c', `ulimit -n 40 && exec "$0" "$@"`, process.execPath, CLI, 'worker', '--handoff-dir', proxy.handoffDir], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, HANDOFF_LOG_LEVEL: 'info' },
    });
    let starvedLog = '';
    starved.stderr!.on('data', (d: Buffer) => (starvedLog += d.toString()));
    try {
      await waitFor('the starved worker to register', () => /\(2 registered\)/.test(proxy.stderr()));
      const agent = new http.Agent({ keepAlive: true, maxSockets: 60 });
      const replies = await Promise.all(Array.from({ length: 60 }, () => request(`${proxy.url}/delay?ms=300`, { agent })));
      agent.destroy();
      assert.deepEqual(replies.map((r) => r.status), Array(60).fill(200), 'every client was served');
      assert.match(starvedLog, /exceed the open files limit \(40\): taking at most \d+/, 'the worker sized itself to its fd limit');
      // It told the master its limit when it registered, so the master keeps the rest in the
      // backlog or gives them to the other worker instead of offering them to it.
      assert.doesNotMatch(starvedLog, /at the connection limit/, 'the master offered it no more than its limit');
      assert.doesNotMatch(proxy.stderr(), /could not take/, 'no connection was given up on');
      assert.equal(starved.exitCode, null, 'and it is still running');
    } finally {
      starved.kill('SIGKILL');
    }
  });
});
