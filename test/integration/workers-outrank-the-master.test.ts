// workerPriority: the master is in the path of every new connection, so by default ("auto") its
// workers run 5 nice levels above it (proxy/worker/process-priority.ts says why). Pinned here:
// the workers' nice on start and after a reload (a new generation is spawned by the master, at
// the master's nice, and must not drift another 5), a number as nginx's worker_priority, and a
// user who may not lower a nice value: the workers serve on, and an explicit number is warned of.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startBackend, type RunningBackend } from '../helpers/backend';
import { request } from '../helpers/http-client';
import { isAlive, niceOf, waitFor } from '../helpers/procfs';
import { startProxy, type RunningProxy } from '../helpers/proxy';

const NOBODY = { uid: 65534, gid: 65534 };
const isRoot = process.getuid?.() === 0;

describe('workers outrank the master', () => {
  let backend: RunningBackend;
  const running: RunningProxy[] = [];
  const start = async (extra: Record<string, unknown>, runAs?: typeof NOBODY): Promise<RunningProxy> => {
    const proxy = await startProxy({ workers: 2, upstreams: { app: { servers: [`127.0.0.1:${backend.port}`] } }, extra, runAs });
    running.push(proxy);
    return proxy;
  };

  before(async () => {
    backend = await startBackend();
  });
  after(async () => {
    for (const proxy of running) await proxy.stop();
    await backend.stop();
  });

  it('"auto" puts every worker 5 below the master, after a reload too', { skip: !isRoot && 'lowering a nice value needs root' }, async () => {
    const proxy = await start({});
    const master = niceOf(proxy.pid);
    const first = proxy.workerPids();
    assert.deepEqual(first.map(niceOf), [master - 5, master - 5], 'the first generation');
    process.kill(proxy.pid, 'SIGHUP');
    await waitFor('a new generation', () => proxy.workerPids().some((w) => !first.includes(w)) && first.every((w) => !isAlive(w)), 10_000);
    assert.deepEqual(proxy.workerPids().map(niceOf), [master - 5, master - 5], 'the generation spawned by the reload');
    assert.equal(niceOf(proxy.pid), master, 'the master keeps its own');
    assert.equal((await request(`${proxy.url}/`)).status, 200);
  });

  it('a number sets the workers\' nice as nginx\'s worker_priority', async () => {
    const proxy = await start({ workerPriority: 7 });
    assert.deepEqual(proxy.workerPids().map(niceOf), [7, 7]);
    assert.notEqual(niceOf(proxy.pid), 7, 'the master is not a worker');
    assert.equal((await request(`${proxy.url}/`)).status, 200);
  });

  it('a user who may not lower a nice value gets a warning for a number and serves on', { skip: !isRoot && 'needs root to run as nobody' }, async () => {
    const proxy = await start({ workerPriority: -3 }, NOBODY);
    const master = niceOf(proxy.pid);
    assert.deepEqual(proxy.workerPids().map(niceOf), [master, master], 'the workers stay where they started');
    const warnings = proxy.stderr().match(/\[warn\] \d+#worker: workerPriority -3 not applied \(EACCES: [^\n]*running at nice -?\d+/g) ?? [];
    assert.equal(warnings.length, 2, `one warning per worker:\n${proxy.stderr()}`);
    assert.equal((await request(`${proxy.url}/`)).status, 200);
  });

  it('"auto" without the right to lower it says so at info level and serves on', { skip: !isRoot && 'needs root to run as nobody' }, async () => {
    const proxy = await start({}, NOBODY);
    const master = niceOf(proxy.pid);
    assert.deepEqual(proxy.workerPids().map(niceOf), [master, master]);
    assert.match(proxy.stderr(), /\[info\] \d+#worker: workerPriority "auto" \(nice -?\d+\) not applied \(EACCES/);
    assert.doesNotMatch(proxy.stderr(), /\[warn\]/);
    assert.equal((await request(`${proxy.url}/`)).status, 200);
  });
});
