// SERVER, the master's word on one upstream server (joined, down, up, left): the message over a
// real channel, its addresses both ways, what makes one malformed, and what a worker's group
// does with each state.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decode, encodeServer, MAX_MESSAGE_SIZE, MessageType, ServerState, type ServerMessage } from '../../proxy/handoff/protocol';
import { UpstreamGroup } from '../../proxy/upstream/upstream-group';
import { acrossChannel } from '../helpers/channels';

const JOINED: Omit<ServerMessage, 'type'> = {
  slot: 7, upstream: 1, state: ServerState.DOWN, reason: 'not checked yet', host: '172.18.0.5', port: 3000, weight: 3, maxFails: 2, failTimeout: 15_000,
};

test('a SERVER message crosses a real channel whole and decodes to what was sent', async () => {
  const got = await acrossChannel(encodeServer(JOINED));
  assert.ok(got.length <= MAX_MESSAGE_SIZE, `${got.length} bytes fit the addon's ${MAX_MESSAGE_SIZE}`);
  assert.deepEqual(decode(got), { type: MessageType.SERVER, ...JOINED });
});

test('addresses come back in the form dns.lookup gives them, IPv4 and IPv6 alike', () => {
  const cases = ['127.0.0.1', '0.0.0.0', '255.255.255.255', '::1', '::', 'fe80::1', '2001:db8::8:800:200c:417a', '2001:db8:0:0:1:0:0:1', '2001:db8:0:1:1:1:1:1', 'fd00::ffff:a:b'];
  const expected = ['127.0.0.1', '0.0.0.0', '255.255.255.255', '::1', '::', 'fe80::1', '2001:db8::8:800:200c:417a', '2001:db8::1:0:0:1', '2001:db8:0:1:1:1:1:1', 'fd00::ffff:a:b'];
  const back = cases.map((host) => (decode(encodeServer({ ...JOINED, host })) as ServerMessage).host);
  assert.deepEqual(back, expected);
  assert.equal((decode(encodeServer({ ...JOINED, host: '::ffff:10.1.2.3' })) as ServerMessage).host, '10.1.2.3', 'a v4-mapped address is IPv4');
  assert.throws(() => encodeServer({ ...JOINED, host: 'backend' }), /not an IP address/);
});

test('a SERVER of the wrong size, an unknown state or reason is not our protocol', () => {
  const good = encodeServer(JOINED);
  assert.equal(decode(good.subarray(0, 16)), null);
  assert.equal(decode(Buffer.concat([good, Buffer.alloc(1)])), null);
  for (const b of [0, 4, (99 << 8) | ServerState.DOWN, 1 << 16]) {
    const bad = Buffer.from(good);
    bad.writeUInt32LE(b, 12);
    assert.equal(decode(bad), null, `b = ${b}`);
  }
});

test("a worker's group follows SERVER: a new slot joins, DOWN keeps requests off it, UP brings it back, REMOVED takes it out", () => {
  const group = new UpstreamGroup({ name: 'app', keepalive: 0, balancer: 'round-robin', hashKey: null, servers: [{ host: '10.0.0.1', port: 80, weight: 1, maxFails: 1, failTimeout: 10_000, slot: 0 }] });
  const picks = (n: number) => Array.from({ length: n }, () => group.pick(new Set())!.label);
  const msg = (state: ServerState, slot = 5): ServerMessage => ({ type: MessageType.SERVER, ...JOINED, slot, upstream: 0, state, weight: 1, host: '10.0.0.2', port: 80 });

  assert.equal(group.apply(msg(ServerState.UP)), 'joined');
  assert.deepEqual(new Set(picks(4)), new Set(['10.0.0.1:80', '10.0.0.2:80']));
  assert.equal(group.apply(msg(ServerState.UP)), null, 'the same word twice changes nothing');
  assert.equal(group.apply(msg(ServerState.DOWN)), 'down');
  assert.deepEqual(new Set(picks(4)), new Set(['10.0.0.1:80']));
  group.servers[1]!.health.succeeded();
  assert.deepEqual(new Set(picks(4)), new Set(['10.0.0.1:80']), 'a request that got through does not overrule the checks');
  assert.equal(group.apply(msg(ServerState.UP)), 'up');
  assert.deepEqual(new Set(picks(4)), new Set(['10.0.0.1:80', '10.0.0.2:80']));
  assert.equal(group.apply(msg(ServerState.REMOVED, 0)), 'left');
  assert.deepEqual(new Set(picks(4)), new Set(['10.0.0.2:80']));
  assert.deepEqual(group.servers.map((s) => s.slot), [5]);
  assert.equal(group.apply(msg(ServerState.REMOVED, 0)), null);
  group.close();
});

test('a server that joins already down gets no requests while another is up, and one when all are down', () => {
  const group = new UpstreamGroup({ name: 'app', keepalive: 0, balancer: 'least-conn', hashKey: null, servers: [{ host: '10.0.0.1', port: 80, weight: 1, maxFails: 1, failTimeout: 10_000, slot: 0 }] });
  group.apply({ type: MessageType.SERVER, ...JOINED, upstream: 0 });
  assert.deepEqual(new Set(Array.from({ length: 4 }, () => group.pick(new Set())!.host)), new Set(['10.0.0.1']));
  group.servers[0]!.health.checkDown();
  assert.ok(group.pick(new Set()), 'every server down: tried anyway, as nginx does');
  group.close();
});
