// A burst of connections the master hands one worker in one poll phase goes out as one
// CONNECTIONS message (protocol 6) carrying every fd, in order, with consecutive sequence numbers:
// one sendmsg for the burst instead of one per connection. Pinned over a real channel with real
// fds: what arrives, in which messages, in which order, and that a worker of an older protocol
// still gets one CONNECTION per connection.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { setImmediate as tick, setTimeout as sleep } from 'node:timers/promises';
import { MAX_FDS_PER_MESSAGE, native } from '../../proxy/handoff/native';
import { decode, MessageType, PROTOCOL_VERSION, type FixedMessage } from '../../proxy/handoff/protocol';
import { WorkerLink, type Handoff } from '../../proxy/master/worker-link';
import { seqpacketPair } from '../helpers/channels';

interface Arrived {
  readonly msg: FixedMessage;
  /** The file each fd it carried is open on. */
  readonly files: string[];
}

async function withWorker(protocol: number, body: (hand: (n: number) => Handoff[], link: WorkerLink, arrived: Arrived[], files: (h: Handoff[]) => string[]) => Promise<void>): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'handoff-burst-'));
  const [masterFd, workerFd] = await seqpacketPair(dir);
  const arrived: Arrived[] = [];
  const worker = new native.Channel(workerFd, (header, fd, _truncated, more) => {
    const fds = fd < 0 ? [] : [fd, ...(more ?? [])];
    arrived.push({ msg: decode(header) as FixedMessage, files: fds.map((f) => fs.readlinkSync(`/proc/self/fd/${f}`)) });
    for (const f of fds) native.closeFd(f);
  }, () => {}, () => {}, MAX_FDS_PER_MESSAGE);
  const link = new WorkerLink(masterFd, 1000, 500, 1000, () => {}, () => {});
  link.identity = { id: 'w1', pid: 1, host: 'localhost', origin: 'spawned', generation: 1 };
  link.protocol = protocol;
  const open: Handoff[] = [];
  let made = 0;
  const hand = (n: number): Handoff[] => Array.from({ length: n }, () => {
    const handoff: Handoff = { fd: fs.openSync(path.join(dir, `c${made++}`), 'w'), socket: null, listener: 0, attempts: 0, sentAt: 0 };
    open.push(handoff);
    link.hand(link.nextSeq(), handoff, () => {});
    return handoff;
  });
  const files = (handoffs: Handoff[]) => handoffs.map((h) => fs.readlinkSync(`/proc/self/fd/${h.fd}`));
  try {
    await body(hand, link, arrived, files);
  } finally {
    link.close();
    worker.close();
    for (const h of open) fs.closeSync(h.fd);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function until(what: string, check: () => boolean): Promise<void> {
  const deadline = Date.now() + 2000;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(2);
  }
}

test('a burst handed in one turn leaves as one CONNECTIONS with its fds in order; a lone one as a CONNECTION', async () => {
  await withWorker(PROTOCOL_VERSION, async (hand, link, arrived, files) => {
    const burst = hand(5);
    assert.equal(link.inFlightCount, 5, 'in flight (and counted for least-conn) from the moment they are handed');
    await until('the burst', () => arrived.length === 1);
    assert.deepEqual(arrived[0].msg, { type: MessageType.CONNECTIONS, seq: 1, a: 0, b: 5 });
    assert.deepEqual(arrived[0].files, files(burst), 'fd i is connection seq + i');
    const lone = hand(1);
    await until('the lone one', () => arrived.length === 2);
    assert.deepEqual(arrived[1], { msg: { type: MessageType.CONNECTION, seq: 6, a: 0, b: 0 }, files: files(lone) });
    assert.deepEqual(link.settleThrough(6, 6).length, 6, 'one cumulative ACK settles them all');
  });
});

test('a message sent after a burst (QUIT) arrives after it, and a burst over the per-message limit is split', async () => {
  await withWorker(PROTOCOL_VERSION, async (hand, link, arrived, files) => {
    const many = hand(MAX_FDS_PER_MESSAGE + 3);
    link.sendQuit();
    await until('every message', () => arrived.length === 3);
    assert.deepEqual(arrived.map((a) => [a.msg.type, a.msg.seq, a.msg.b]), [
      [MessageType.CONNECTIONS, 1, MAX_FDS_PER_MESSAGE],
      [MessageType.CONNECTIONS, 1 + MAX_FDS_PER_MESSAGE, 3],
      [MessageType.QUIT, 0, 0],
    ]);
    assert.deepEqual([...arrived[0].files, ...arrived[1].files], files(many));
  });
});

test('a worker of protocol 5 gets one CONNECTION per connection', async () => {
  await withWorker(5, async (hand, _link, arrived, files) => {
    const burst = hand(3);
    await until('three messages', () => arrived.length === 3);
    await tick();
    assert.deepEqual(arrived.map((a) => [a.msg.type, a.msg.seq]), [[MessageType.CONNECTION, 1], [MessageType.CONNECTION, 2], [MessageType.CONNECTION, 3]]);
    assert.deepEqual(arrived.flatMap((a) => a.files), files(burst));
  });
});
