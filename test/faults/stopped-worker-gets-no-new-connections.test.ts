// Fault: a worker stops reading its channel (SIGSTOP here; a busy loop or a long GC pause looks the
// same to the master). nginx stalls only what the stuck worker already took: it simply stops
// accepting. Here the master hands each connection to a worker, so it must notice: a worker whose
// oldest unacknowledged handoff is older than handoff.ackTimeout gets no new connections until it
// acknowledges again.
//  - what the client sees: a connection handed to the worker before the master noticed waits, and
//    is served in full once the worker runs again; every connection after that point is served
//    at once by the other worker;
//  - what is lost: nothing;
//  - recovery: after SIGCONT the worker acknowledges, shows "serving" again and gets new
//    connections, under the same master.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { deadPort, request } from '../helpers/http-client';
import { isAlive, waitFor } from '../helpers/procfs';
import { startProxy, type RunningProxy } from '../helpers/proxy';
import { startRawUpstream, type RawUpstream } from '../helpers/raw-upstream';

/** How long after the stop the stopped worker's share of new connections must be zero (handoff.ackTimeout is 500 ms by default). */
const NOTICED_WITHIN_MS = 1_000;
/** The bounded stream of new connections while the worker is stopped: one every 20 ms for 1.6 s. */
const STREAM_EVERY_MS = 20;
const STREAM_COUNT = 80;
/** A connection served by a running worker, on a loaded 2-core machine. */
const PROMPT_MS = 500;

interface Outcome {
  readonly startedAt: number;
  /** Date.now() when the whole response had arrived; 0 = not yet. */
  answeredAt: number;
  status: number;
  worker: string;
}

/** A new connection with one request (Connection: close); `outcome` fills in when the response has come. */
function connection(port: number): { outcome: Outcome; done: Promise<void> } {
  const outcome: Outcome = { startedAt: Date.now(), answeredAt: 0, status: 0, worker: '' };
  const done = new Promise<void>((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let received = '';
    socket.on('connect', () => socket.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
    socket.on('data', (d: Buffer) => (received += d.toString('latin1')));
    socket.on('error', () => {});
    socket.on('close', () => {
      if (received.endsWith('\r\n\r\nok')) {
        outcome.answeredAt = Date.now();
        outcome.status = Number(received.slice(9, 12));
        outcome.worker = /\r\nx-handoff-worker: (\S+)/i.exec(received)?.[1] ?? '';
      }
      resolve();
    });
  });
  return { outcome, done };
}

interface WorkerRow {
  readonly id: string;
  readonly pid: number;
  readonly state: string;
}

describe('a stopped worker gets no new connections', () => {
  let upstream: RawUpstream;
  let proxy: RunningProxy;
  let statusUrl: string;
  let stoppedPid = 0;

  const workers = async (): Promise<WorkerRow[]> =>
    (JSON.parse((await request(`${statusUrl}/status.json`)).body.toString()) as { workers: WorkerRow[] }).workers;

  before(async () => {
    upstream = await startRawUpstream((_req, socket) => socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'));
    const statusPort = await deadPort();
    proxy = await startProxy({
      workers: 2,
      upstreams: { raw: { servers: [`127.0.0.1:${upstream.port}`] } },
      // Round robin gives the stopped worker every other connection for as long as it may have any.
      handoff: { policy: 'round-robin' },
      extra: { status: `127.0.0.1:${statusPort}`, workerHeader: 'X-Handoff-Worker' },
    });
    statusUrl = `http://127.0.0.1:${statusPort}`;
  });

  after(async () => {
    if (stoppedPid !== 0 && isAlive(stoppedPid)) process.kill(stoppedPid, 'SIGCONT');
    await proxy?.stop();
    await upstream?.close();
  });

  it('within a second, serves every new connection on the other worker; what the stopped one took waits for it', async () => {
    const masterPid = proxy.pid;
    const [victim, other] = await workers();
    assert.equal(victim.state, 'serving');

    process.kill(victim.pid, 'SIGSTOP');
    stoppedPid = victim.pid;
    const stoppedAt = Date.now();
    const stream: { outcome: Outcome; done: Promise<void> }[] = [];
    for (let i = 0; i < STREAM_COUNT; i++) {
      stream.push(connection(proxy.port));
      await new Promise((r) => setTimeout(r, STREAM_EVERY_MS));
    }
    const late = stream.filter((c) => c.outcome.startedAt >= stoppedAt + NOTICED_WITHIN_MS);
    assert.ok(late.length >= 20, `${late.length} connections began a second or more after the stop`);
    await waitFor('every connection begun a second after the stop to be answered', () => late.every((c) => c.outcome.answeredAt !== 0), 5_000);
    for (const { outcome } of late) {
      assert.equal(outcome.worker, other.id, 'the stopped worker got no new connection a second after the stop');
      assert.equal(outcome.status, 200);
      assert.ok(outcome.answeredAt - outcome.startedAt < PROMPT_MS, `served promptly (${outcome.answeredAt - outcome.startedAt} ms)`);
    }
    const waiting = stream.filter((c) => c.outcome.answeredAt === 0);
    assert.ok(waiting.length > 0, 'the stopped worker was handed connections before the master noticed');
    assert.ok(waiting.every((c) => c.outcome.startedAt < stoppedAt + NOTICED_WITHIN_MS), 'only before a second had passed');

    // The master's status says so, as a state of the worker.
    assert.equal((await workers()).find((w) => w.id === victim.id)!.state, 'stalled');
    const metrics = (await request(`${statusUrl}/metrics`)).body.toString();
    assert.match(metrics, new RegExp(`handoff_worker_state\\{worker="${victim.id}",[^}]*state="stalled"\\} 1`));
    assert.match(metrics, /handoff_workers\{state="stalled"\} 1/);

    // SIGCONT: what it took is served (it waited for the stall, nothing was lost), and it gets work again.
    const resumedAt = Date.now();
    process.kill(victim.pid, 'SIGCONT');
    stoppedPid = 0;
    await Promise.all(stream.map((c) => c.done));
    for (const { outcome } of waiting) {
      assert.equal(outcome.status, 200, 'a connection the stopped worker had taken is served once it runs');
      assert.equal(outcome.worker, victim.id);
      assert.ok(outcome.answeredAt >= resumedAt, 'after SIGCONT, not before');
    }
    assert.ok(stream.every((c) => c.outcome.status === 200), 'no connection was lost');
    await waitFor('the worker to be serving again', async () => (await workers()).find((w) => w.id === victim.id)!.state === 'serving', 3_000);
    const after: Outcome[] = [];
    for (let i = 0; i < 4; i++) {
      const c = connection(proxy.port);
      await c.done;
      after.push(c.outcome);
    }
    assert.ok(after.some((o) => o.worker === victim.id), `it gets new connections again (${after.map((o) => o.worker).join(', ')})`);
    assert.equal(proxy.pid, masterPid);
    assert.ok(isAlive(masterPid), 'the same master, no restart');
  });
});
