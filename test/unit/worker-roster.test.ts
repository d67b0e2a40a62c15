// Reload hands over from one generation of workers to the next (WorkerRoster). Pinned here over
// real channels: the old generation is told to QUIT only once the new one has registered, and a
// reload whose workers never register (they crash at start, or speak another protocol) leaves
// the old workers serving instead of a proxy with no workers at all.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { waitFor } from '../helpers/procfs';
import { MessageType } from '../../proxy/handoff/protocol';
import { RoundRobinPolicy } from '../../proxy/master/scheduling-policy';
import type { Handoff } from '../../proxy/master/worker-link';
import { WorkerRoster } from '../../proxy/master/worker-roster';
import { linkedWorker, type LinkedWorker } from '../helpers/channels';

async function withWorkers(count: number, body: (workers: LinkedWorker[]) => Promise<void>, ackTimeoutMs = 500): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'handoff-roster-'));
  const workers: LinkedWorker[] = [];
  try {
    for (let i = 1; i <= count; i++) workers.push(await linkedWorker(dir, i, {}, ackTimeoutMs));
    await body(workers);
  } finally {
    for (const w of workers) w.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const quits = (w: LinkedWorker): number => w.received.filter((m) => m.type === MessageType.QUIT).length;

function register(roster: WorkerRoster, w: LinkedWorker, expected: number): void {
  roster.connected(w.link);
  assert.ok(roster.register(w.link, expected));
}

test('the old generation serves until a new worker registers, then is told to quit', async () => {
  await withWorkers(3, async ([old1, old2, next]) => {
    const roster = new WorkerRoster();
    register(roster, old1, 2);
    register(roster, old2, 2);
    let late = 0;
    assert.equal(roster.retireCurrent(60_000, () => late++), 2);
    assert.deepEqual(roster.candidates(), [old1.link, old2.link], 'no gap before the new generation registers');
    register(roster, next, 1);
    assert.deepEqual(roster.candidates(), [next.link]);
    await sleep(50);
    assert.equal(quits(old1) + quits(old2), 2, 'both old workers got QUIT once the new generation was complete');
    assert.equal(late, 0);
    roster.all(); // clears the timer
  });
});

test('a reload whose workers never register keeps the old workers serving, until one does', async () => {
  await withWorkers(3, async ([old1, old2, next]) => {
    const roster = new WorkerRoster();
    register(roster, old1, 2);
    register(roster, old2, 2);
    let late = 0;
    roster.retireCurrent(40, () => late++);
    await sleep(120);
    assert.equal(late, 1, 'the wait ran out and was reported');
    assert.equal(quits(old1) + quits(old2), 0, 'no QUIT: nobody would be left to serve');
    assert.deepEqual(roster.candidates(), [old1.link, old2.link]);

    // One worker of the two expected turns up late: it takes over, the old ones go.
    register(roster, next, 2);
    await sleep(50);
    assert.deepEqual(roster.candidates(), [next.link]);
    assert.equal(quits(old1) + quits(old2), 2);
  });
});

test('a second reload while the first has no worker registered keeps the generation that serves', async () => {
  await withWorkers(2, async ([old1, next]) => {
    const roster = new WorkerRoster();
    register(roster, old1, 1);
    roster.retireCurrent(60_000, () => {});
    // The first reload's workers never come; a second reload (a fixed config, say) follows.
    assert.equal(roster.retireCurrent(60_000, () => {}), 1, 'the serving generation is still the one retiring');
    await sleep(30);
    assert.equal(quits(old1), 0, 'and it was not told to quit');
    assert.deepEqual(roster.candidates(), [old1.link]);
    register(roster, next, 1);
    await sleep(50);
    assert.deepEqual(roster.candidates(), [next.link]);
    assert.equal(quits(old1), 1);
    roster.all();
  });
});

test('a worker registering after a later reload replaced its generation gets QUIT and no connections', async () => {
  await withWorkers(2, async ([current, stale]) => {
    const roster = new WorkerRoster();
    register(roster, current, 1);
    roster.connected(stale.link);
    roster.registerRetired(stale.link);
    await sleep(30);
    assert.equal(quits(stale), 1);
    assert.deepEqual(roster.candidates(), [current.link]);
    assert.equal(roster.registered().length, 2, 'listed until its channel closes');
  });
});

test('a reload during a reload keeps the generation before last listed, and registered, until its channel closes', async () => {
  await withWorkers(3, async ([gen0, gen1, gen2]) => {
    const roster = new WorkerRoster();
    register(roster, gen0, 1);
    roster.retireCurrent(60_000, () => {});
    register(roster, gen1, 1); // gen0 is told to quit, and may still hold connections
    roster.retireCurrent(60_000, () => {});
    register(roster, gen2, 1);
    // What a graceful shutdown waits for (in-flight handoffs) and quits; what a closed channel re-sends.
    assert.deepEqual(new Set(roster.registered()), new Set([gen0.link, gen1.link, gen2.link]));
    assert.deepEqual(roster.candidates(), [gen2.link], 'only the newest generation gets connections');
    assert.equal(roster.remove(gen0.link), true, 'its channel closing re-sends what it had not acknowledged');
    roster.all();
  });
});

test('each worker is told to QUIT once, by reloads and a graceful shutdown together', async () => {
  await withWorkers(4, async ([gen0, gen1, stale, gen2]) => {
    const roster = new WorkerRoster();
    register(roster, gen0, 1);
    roster.retireCurrent(60_000, () => {});
    register(roster, gen1, 1); // gen0: QUIT
    roster.retireCurrent(60_000, () => {});
    roster.connected(stale.link);
    roster.registerRetired(stale.link); // stale: QUIT
    register(roster, gen2, 1); // gen1: QUIT
    for (const link of roster.registered()) link.sendQuit(); // as Master.shutdown(graceful)
    await sleep(50);
    assert.deepEqual([gen0, gen1, stale, gen2].map(quits), [1, 1, 1, 1]);
  });
});

test('during a reload no worker of which has registered, a worker registering too late gets no connections', async () => {
  await withWorkers(2, async ([old1, stale]) => {
    const roster = new WorkerRoster();
    register(roster, old1, 1);
    roster.retireCurrent(60_000, () => {}); // its workers never come: old1 keeps serving
    roster.connected(stale.link);
    roster.registerRetired(stale.link);
    assert.deepEqual(roster.candidates(), [old1.link], 'a worker told to quit would only reject them');
    roster.all();
  });
});

test('a worker that leaves a handoff unacknowledged past the ACK deadline is stalled: no new connections until it acknowledges', async () => {
  const ackTimeoutMs = 150;
  await withWorkers(2, async ([stuck, other]) => {
    const roster = new WorkerRoster();
    register(roster, stuck, 2);
    register(roster, other, 2);
    const policy = new RoundRobinPolicy();
    const stateOf = (w: LinkedWorker): string => roster.snapshot().find((row) => row.id === w.link.identity!.id)!.state;
    const fd = fs.openSync('/dev/null', 'r');
    try {
      const handoff: Handoff = { fd, socket: null, listener: 0, attempts: 0, sentAt: 0 };
      stuck.link.hand(7, handoff, () => {});
      const sentAt = Date.now();
      assert.equal(stateOf(stuck), 'serving', 'a handoff just sent is not overdue');
      assert.ok(stuck.link.hasRoom());

      await waitFor('the unacknowledged handoff to pass the deadline', () => stuck.link.stalled(), 2_000);
      assert.ok(Date.now() - sentAt >= ackTimeoutMs, 'not before the deadline');
      assert.equal(stateOf(stuck), 'stalled');
      assert.equal(stateOf(other), 'serving');
      assert.equal(stuck.link.hasRoom(), false);
      const picks = Array.from({ length: 6 }, () => policy.pick(roster.candidates()));
      assert.deepEqual(picks, Array(6).fill(other.link), 'every new connection goes to the worker that answers');
      assert.equal(stuck.link.inFlightCount, 1, 'what it already took stays with it: it may still read that fd');

      assert.deepEqual(stuck.link.settleThrough(7, 1), [handoff], 'it acknowledges');
      assert.equal(stateOf(stuck), 'serving');
      assert.ok(stuck.link.hasRoom());
      assert.ok([policy.pick(roster.candidates()), policy.pick(roster.candidates())].includes(stuck.link), 'and gets work again');
    } finally {
      fs.closeSync(fd);
      roster.all();
    }
  }, ackTimeoutMs);
});
