// workerPriority: the master is in the path of every new connection, so by default ("auto") its
// workers run 5 nice levels above it (proxy/worker/process-priority.ts says why). Pinned here:
// each worker's event-loop thread, on start and after a reload (a new generation is spawned by
// the master, at the master's nice, and must not drift another 5), with V8's helper threads left
// behind it; reuseport, with no master in the path, left alone; a number as nginx's
// worker_priority; a user who may not lower a nice value: the workers serve on, and an explicit
// number is warned of. Each case runs only where its privilege situation holds (probed, not
// guessed from the uid), so none can pass for the wrong reason.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import { after, before, describe, it } from 'node:test';
import { startBackend, type RunningBackend } from '../helpers/backend';
import { request } from '../helpers/http-client';
import { helperThreadNices, isAlive, niceOf, waitFor } from '../helpers/procfs';
import { startProxy, type ProxyOptions, type RunningProxy } from '../helpers/proxy';

const NOBODY = { uid: 65534, gid: 65534 };
const START_NICE = os.getPriority();
const isRoot = process.getuid?.() === 0;

const EACCES_EXIT = 3;

/**
 * Asks a throwaway process of this user to take nice `nice`: 0 when it may, EACCES_EXIT when the
 * kernel refuses, anything else when the probe itself failed (and then no case should run).
 */
function probeNice(nice: number, user?: typeof NOBODY): number | null {
  const script = `try { require('os').setPriority(${nice}) } catch (e) { process.exit(e.info?.code === 'EACCES' ? ${EACCES_EXIT} : 1) }`;
  return spawnSync(process.execPath, ['-e', script], { stdio: 'ignore', ...user }).status;
}

const canLower = START_NICE >= -15 && probeNice(START_NICE - 5) === 0;
const nobodyCannotLower = isRoot && START_NICE >= -17 && probeNice(START_NICE - 3, NOBODY) === EACCES_EXIT;

describe('workers outrank the master', () => {
  let backend: RunningBackend;
  const running: RunningProxy[] = [];
  const start = async (extra: Record<string, unknown>, opts: Partial<ProxyOptions> = {}): Promise<RunningProxy> => {
    const proxy = await startProxy({ workers: 2, upstreams: { app: { servers: [`127.0.0.1:${backend.port}`] } }, extra, ...opts });
    running.push(proxy);
    return proxy;
  };
  /** Each worker's event-loop thread's nice value. */
  const workerNices = (proxy: RunningProxy): number[] => proxy.workerPids().map(niceOf);

  before(async () => {
    backend = await startBackend();
  });
  after(async () => {
    for (const proxy of running) await proxy.stop();
    await backend.stop();
  });

  it('"auto" puts each worker\'s event loop 5 below the master, after a reload too', { skip: !canLower && 'this user may not lower a nice value' }, async () => {
    const proxy = await start({});
    const master = niceOf(proxy.pid);
    const first = proxy.workerPids();
    assert.deepEqual(workerNices(proxy), [master - 5, master - 5], 'the first generation');
    // V8's helper threads, started before the worker set its priority, stay behind its event loop.
    for (const w of first) assert.ok(helperThreadNices(w).includes(master), `worker ${w}: ${helperThreadNices(w)}`);
    process.kill(proxy.pid, 'SIGHUP');
    // Two new workers, each at its priority (set before it registers), and the old ones gone.
    await waitFor('a new generation at master - 5', () => {
      const now = proxy.workerPids();
      return now.length === 2 && now.every((w) => !first.includes(w)) && first.every((w) => !isAlive(w))
        && workerNices(proxy).every((n) => n === master - 5);
    }, 10_000);
    assert.equal(niceOf(proxy.pid), master, 'the master keeps its own');
    assert.equal((await request(`${proxy.url}/`)).status, 200);
  });

  it('"auto" leaves reuseport workers where they start: no master in their path', { skip: !canLower && 'this user may not lower a nice value' }, async () => {
    const proxy = await start({}, { handoff: { transport: 'reuseport' } });
    const master = niceOf(proxy.pid);
    assert.deepEqual(workerNices(proxy), [master, master]);
    assert.equal((await request(`${proxy.url}/`)).status, 200);
  });

  it('a number sets the workers\' nice as nginx\'s worker_priority', { skip: START_NICE >= 19 && 'no higher nice value to ask for' }, async () => {
    const asked = Math.min(19, START_NICE + 3); // raising a nice value needs no privilege
    const proxy = await start({ workerPriority: asked });
    assert.deepEqual(workerNices(proxy), [asked, asked]);
    assert.equal(niceOf(proxy.pid), START_NICE, 'the master is not a worker');
    assert.equal((await request(`${proxy.url}/`)).status, 200);
  });

  it('a user who may not lower a nice value gets a warning for a number and serves on', { skip: !nobodyCannotLower && 'needs root, and a nobody who may not lower a nice value' }, async () => {
    const proxy = await start({ workerPriority: START_NICE - 3 }, { runAs: NOBODY });
    assert.deepEqual(workerNices(proxy), [START_NICE, START_NICE], 'the workers stay where they started');
    const warning = new RegExp(`\\[warn\\] \\d+#worker: workerPriority ${START_NICE - 3} not applied \\(EACCES: [^\\n]*running at nice ${START_NICE}`, 'g');
    assert.equal(proxy.stderr().match(warning)?.length, 2, `one warning per worker:\n${proxy.stderr()}`);
    assert.equal((await request(`${proxy.url}/`)).status, 200);
  });

  it('"auto" without the right to lower it says so at info level and serves on', { skip: !nobodyCannotLower && 'needs root, and a nobody who may not lower a nice value' }, async () => {
    const proxy = await start({}, { runAs: NOBODY });
    assert.deepEqual(workerNices(proxy), [START_NICE, START_NICE]);
    assert.match(proxy.stderr(), /\[info\] \d+#worker: workerPriority "auto" \(nice -?\d+\) not applied \(EACCES/);
    assert.doesNotMatch(proxy.stderr(), /\[warn\]/);
    assert.equal((await request(`${proxy.url}/`)).status, 200);
  });
});
