// ACKs are cumulative (protocol version 2): one ACK for seq N tells the master that the worker
// has every connection sent to it up to N that it did not REJECT. These pin the master's side
// (WorkerLink.settleThrough) over a real channel with real fds: what it settles, in which order,
// and that an ACK for a seq it never sent settles nothing, because closing the master's copies
// of connections still on their way would lose them.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import type { Handoff, WorkerLink } from '../../proxy/master/worker-link';
import { linkedWorker } from '../helpers/channels';

async function withLink(body: (link: WorkerLink, hand: (seq: number) => Handoff, received: () => number[]) => Promise<void>): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'handoff-ack-'));
  const worker = await linkedWorker(dir, 1);
  const open: Handoff[] = [];
  const hand = (seq: number): Handoff => {
    const handoff: Handoff = { fd: fs.openSync('/dev/null', 'r'), socket: null, listener: 0, attempts: 0, sentAt: 0 };
    open.push(handoff);
    worker.link.hand(seq, handoff, () => {});
    return handoff;
  };
  try {
    await body(worker.link, hand, () => worker.received.map((m) => m.seq));
  } finally {
    worker.close();
    for (const h of open) fs.closeSync(h.fd);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test('an ACK settles every connection sent up to its seq, in order, except those already rejected', async () => {
  await withLink(async (link, hand, received) => {
    const sent = [11, 12, 13, 14, 15].map((seq) => hand(seq));
    const deadline = Date.now() + 2000;
    while (received().length < 5 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    assert.deepEqual(received(), [11, 12, 13, 14, 15], 'the worker got them in the order sent');

    assert.equal(link.settle(12, 0), sent[1], 'a REJECT takes out exactly its own seq');
    assert.deepEqual(link.settleThrough(14, 3), [sent[0], sent[2], sent[3]]);
    assert.equal(link.activeConnections, 3);
    assert.equal(link.inFlightCount, 1, 'seq 15 is still on its way');
  });
});

test('an ACK for a seq the master never sent (or already settled) settles nothing', async () => {
  await withLink(async (link, hand) => {
    const sent = [1, 2, 3].map((seq) => hand(seq));
    assert.deepEqual(link.settleThrough(99, 0), []);
    assert.equal(link.inFlightCount, 3);
    assert.deepEqual(link.settleThrough(1, 0), [sent[0]]);
    assert.deepEqual(link.settleThrough(1, 0), [], 'a repeated ACK');
    assert.deepEqual(link.settleThrough(3, 0), [sent[1], sent[2]]);
    assert.equal(link.inFlightCount, 0);
  });
});
