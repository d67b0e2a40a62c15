// Workers are told apart by the id the master gives them, not by pid: workers in other containers
// may show the same pid. Pinned here: what REGISTER carries over a real channel, the ids, and the
// series /metrics makes of two workers with one pid.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { native } from '../../proxy/handoff/native';
import { decode, encode, encodeRegister, MAX_MESSAGE_SIZE, MESSAGE_SIZE, MessageType, PROTOCOL_VERSION, type Register } from '../../proxy/handoff/protocol';
import { WorkerIdentities } from '../../proxy/master/worker-identities';
import { WorkerRoster } from '../../proxy/master/worker-roster';
import { prometheusText, newCounters, type StatusSnapshot } from '../../proxy/observability/master-metrics';
import { linkedWorker, seqpacketPair } from '../helpers/channels';
import { duplicateSeries, parsePrometheus, samplesOf } from '../helpers/prometheus';

function withDir<T>(body: (dir: string) => Promise<T>): Promise<T> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'handoff-identity-'));
  return body(dir).finally(() => fs.rmSync(dir, { recursive: true, force: true }));
}

/** Sends one message over a real SOCK_SEQPACKET channel and returns what the other end's addon delivered. */
async function throughChannel(message: Buffer): Promise<Buffer> {
  return withDir(async (dir) => {
    const [a, b] = await seqpacketPair(dir);
    const sender = new native.Channel(a, () => {}, () => {}, () => {});
    try {
      return await new Promise<Buffer>((resolve) => {
        const receiver = new native.Channel(b, (header) => {
          receiver.close();
          resolve(header);
        }, () => {}, () => {});
        sender.send(message, -1);
      });
    } finally {
      sender.close();
    }
  });
}

test('REGISTER carries the worker identity whole through the addon, the longest hostname included', async () => {
  const host = 'h'.repeat(80); // longer than fits: cut, so the message stays within what the addon reads
  const sent = encodeRegister(4242, 1000, { spawnKey: 0xdeadbeef, unfit: 'reuseport-other-netns', host });
  assert.equal(sent.length, MAX_MESSAGE_SIZE);
  const msg = decode(await throughChannel(sent)) as Register;
  assert.equal(msg.type, MessageType.REGISTER);
  assert.deepEqual([msg.pid, msg.maxConnections, msg.version], [4242, 1000, PROTOCOL_VERSION]);
  assert.deepEqual(msg.self, { spawnKey: 0xdeadbeef, unfit: 'reuseport-other-netns', host: 'h'.repeat(MAX_MESSAGE_SIZE - 21) });
});

test('a 16-byte REGISTER from a protocol-2 worker is taken, with no identity of its own', () => {
  const old = encode(MessageType.ACK, 512, 77, 2);
  old.writeUInt32LE(MessageType.REGISTER, 0);
  assert.deepEqual(decode(old), { type: MessageType.REGISTER, maxConnections: 512, pid: 77, version: 2, self: null });
});

test('a hostname that would forge a log line or break a label arrives harmless', () => {
  const msg = decode(encodeRegister(1, 0, { spawnKey: 0, unfit: null, host: 'evil"}\n[error] x' })) as Register;
  assert.equal(msg.self!.host, 'evil____error__x');
});

test('a longer message of any other type, or a REGISTER with a bad trailer, is not our protocol', () => {
  assert.equal(decode(Buffer.concat([encode(MessageType.ACK, 1), Buffer.from('x')])), null);
  const bad = encodeRegister(1, 0, { spawnKey: 0, unfit: null, host: 'h' });
  bad.writeUInt8(9, 20);
  assert.equal(decode(bad), null);
  assert.equal(decode(bad.subarray(0, MESSAGE_SIZE + 2)), null);
});

test('the master names workers w1, w2… and calls one spawned only with its key and its pid', () => {
  const children = new Set([100]);
  const ids = new WorkerIdentities(1234, (pid) => children.has(pid));
  const register = (pid: number, spawnKey: number | null, host = 'h'): Register => ({
    type: MessageType.REGISTER, pid, version: PROTOCOL_VERSION, maxConnections: 0,
    self: spawnKey === null ? null : { spawnKey, unfit: null, host },
  });
  const a = ids.identify(register(100, 1234), () => 1);
  const b = ids.identify(register(100, 0, 'other-container'), () => 1); // our child's pid, in another container
  const c = ids.identify(register(100, 99), (spawned) => (spawned ? 1 : 2)); // another master's child: this generation
  // Protocol 2, its pid is all it says; a child of ours keeps the generation it was spawned for
  // (one spawned before a reload may register after it).
  const d = ids.identify(register(100, null), (spawned) => (spawned ? 1 : 2));
  assert.deepEqual([a, b, c, d].map((w) => [w.id, w.origin, w.generation]), [
    ['w1', 'spawned', 1], ['w2', 'joined', 1], ['w3', 'joined', 2], ['w4', 'spawned', 1],
  ]);
  assert.equal(d.host, null);
});

test('workers with the same pid in two containers get separate series', async () => {
  await withDir(async (dir) => {
    const one = await linkedWorker(dir, 7, { id: 'w1', host: 'container-a', origin: 'joined' });
    const two = await linkedWorker(dir, 7, { id: 'w2', host: 'container-b', origin: 'joined' });
    try {
      const roster = new WorkerRoster();
      for (const w of [one, two]) {
        roster.connected(w.link);
        assert.ok(roster.register(w.link, 2));
      }
      one.link.requestsServed = 10;
      two.link.requestsServed = 30;
      const snapshot: StatusSnapshot = {
        master: { pid: 1, host: 'm', transport: 'seqpacket', policy: 'least-conn', generation: 1, uptimeSeconds: 0, listeners: [], acceptPaused: false, waiting: 0 },
        counters: newCounters(), workers: roster.snapshot(), upstreams: [], events: [],
      };
      const samples = parsePrometheus(prometheusText(snapshot));
      assert.deepEqual(duplicateSeries(samples), []);
      const requests = samplesOf(samples, 'handoff_worker_requests_total');
      assert.deepEqual(requests.map((s) => [s.labels.worker, s.labels.pid, s.labels.host, s.value]), [['w1', '7', 'container-a', 10], ['w2', '7', 'container-b', 30]]);
      roster.all();
    } finally {
      one.close();
      two.close();
    }
  });
});
