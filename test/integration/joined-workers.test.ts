// Workers started by hand (as in another container) next to the master's own: told apart by id
// and host in /status.json and /metrics, logged by id when they leave, and shown idle with the
// reason when they join under a transport they cannot serve.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import { after, before, describe, it } from 'node:test';
import { startBackend, type RunningBackend } from '../helpers/backend';
import { deadPort, request } from '../helpers/http-client';
import { duplicateSeries, parsePrometheus, samplesOf } from '../helpers/prometheus';
import { waitFor } from '../helpers/procfs';
import { CLI, startProxy, type RunningProxy } from '../helpers/proxy';

interface Status {
  workers: { id: string; pid: number; host: string | null; origin: string; state: string; idleReason: string | null; handoffsSent: number }[];
  events: { kind: string; worker?: { id: string }; why?: string; resent?: number }[];
}

async function withProxy(transport: string, body: (proxy: RunningProxy, status: () => Promise<Status>, metrics: () => Promise<string>) => Promise<void>): Promise<void> {
  const statusPort = await deadPort();
  const proxy = await startProxy({
    workers: 1, handoff: { transport }, extra: { status: `127.0.0.1:${statusPort}` },
    upstreams: { app: { servers: [`127.0.0.1:${backend.port}`] } },
  });
  const get = async (path: string) => (await request(`http://127.0.0.1:${statusPort}${path}`)).body.toString();
  try {
    await body(proxy, async () => JSON.parse(await get('/status.json')) as Status, () => get('/metrics'));
  } finally {
    await proxy.stop();
  }
}

function joinWorker(proxy: RunningProxy): { child: ChildProcess; stderr: () => string } {
  const child = spawn(process.execPath, [CLI, 'worker', '--handoff-dir', proxy.handoffDir], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  return { child, stderr: () => stderr };
}

let backend: RunningBackend;

describe('joined workers', () => {
  before(async () => {
    backend = await startBackend({ id: 'j1' });
  });
  after(async () => {
    await backend?.stop();
  });

  it('a joined worker shows its host and origin "joined" beside the spawned one, in its own series', async () => {
    await withProxy('seqpacket', async (proxy, status, metrics) => {
      const extra = joinWorker(proxy);
      try {
        await waitFor('the joined worker to register', async () => (await status()).workers.length === 2);
        const workers = (await status()).workers;
        const joined = workers.find((w) => w.pid === extra.child.pid)!;
        assert.deepEqual([joined.host, joined.origin, joined.state, joined.idleReason], [os.hostname(), 'joined', 'serving', null]);
        assert.equal(workers.find((w) => w !== joined)!.origin, 'spawned');
        assert.notEqual(joined.id, workers.find((w) => w !== joined)!.id);
        const samples = parsePrometheus(await metrics());
        assert.deepEqual(duplicateSeries(samples), []);
        const series = samplesOf(samples, 'handoff_worker_connections').find((s) => s.labels.worker === joined.id);
        assert.deepEqual(series && { ...series.labels }, { worker: joined.id, pid: String(extra.child.pid), host: os.hostname(), origin: 'joined', generation: '1' });
      } finally {
        extra.child.kill('SIGKILL');
      }
    });
  });

  it('the master logs a worker leaving with its id, pid, host and why', async () => {
    await withProxy('seqpacket', async (proxy, status) => {
      const extra = joinWorker(proxy);
      await waitFor('the joined worker to register', async () => (await status()).workers.length === 2);
      const { id } = (await status()).workers.find((w) => w.pid === extra.child.pid)!;
      extra.child.kill('SIGKILL');
      const line = new RegExp(`\\[warn\\].*worker ${id} \\(pid ${extra.child.pid} on ${os.hostname()}, joined\\) left: closed its channel; 0 unacknowledged connection\\(s\\) re-sent`);
      await waitFor('the master to log it', () => line.test(proxy.stderr()));
      const left = (await status()).events.find((e) => e.kind === 'worker-left');
      assert.deepEqual(left && { id: left.worker!.id, why: left.why, resent: left.resent }, { id, why: 'closed its channel', resent: 0 });
      assert.equal((await status()).workers.length, 1);
    });
  });

  it('a joined worker under the ipc transport says so and is shown idle with its reason', async () => {
    await withProxy('ipc', async (proxy, status, metrics) => {
      const extra = joinWorker(proxy);
      try {
        await waitFor('the joined worker to register', async () => (await status()).workers.length === 2);
        const joined = (await status()).workers.find((w) => w.pid === extra.child.pid)!;
        assert.equal(joined.state, 'idle');
        assert.match(joined.idleReason!, /ipc transport passes connections only to the master's own children/);
        assert.match(proxy.stderr(), new RegExp(`worker ${joined.id} \\(pid ${extra.child.pid} on .+, joined\\) joined under the ipc transport and stays idle`));
        await waitFor('the worker to say so itself', () => /joining under the ipc transport, which this worker cannot serve/.test(extra.stderr()));
        for (let i = 0; i < 6; i++) assert.equal((await request(`${proxy.url}/`)).status, 200, 'the spawned worker serves');
        assert.match(await metrics(), new RegExp(`^handoff_worker_state\\{worker="${joined.id}",[^}]*,state="idle"\\} 1$`, 'm'));
        assert.equal((await status()).workers.find((w) => w.id === joined.id)!.handoffsSent, 0, 'and it got none of them');
      } finally {
        extra.child.kill('SIGKILL');
      }
    });
  });
});
