// The master's membership: slots are never reused, a server that stays across a reload keeps its
// slot and health, a name's new addresses join and vanished ones leave (and a worker reading the
// published config is told they left), and a protocol-4 worker's numbering maps to slots.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Config, UpstreamServerConfig } from '../../proxy/config/types';
import { decode, ServerState, type ServerMessage } from '../../proxy/handoff/protocol';
import { UpstreamMembership } from '../../proxy/master/upstream-membership';

const CHECK = { path: '/', interval: 1_000, timeout: 500, expectStatus: [[200, 399]] as const, rise: 2, fall: 3 };
const server = (host: string, resolvedFrom?: string): UpstreamServerConfig => ({ host, port: 3000, weight: 1, maxFails: 1, failTimeout: 10_000, ...(resolvedFrom ? { resolvedFrom } : {}) });
const config = (app: UpstreamServerConfig[], api: UpstreamServerConfig[] = [server('10.0.1.1')]) => ({
  upstreams: {
    app: { name: 'app', keepalive: 0, balancer: 'round-robin', hashKey: null, healthCheck: CHECK, servers: app },
    api: { name: 'api', keepalive: 0, balancer: 'round-robin', hashKey: null, healthCheck: null, servers: api },
  },
}) as unknown as Config;

test('the published config numbers every server; a reload keeps the slot and health of those that stay and never reuses a number', () => {
  const m = new UpstreamMembership(() => {});
  const first = m.adopt(config([server('10.0.0.1'), server('10.0.0.2')]));
  assert.deepEqual(Object.values(first.upstreams).map((u) => u.servers.map((s) => s.slot)), [[0, 1], [2]]);
  m.setHealth(1, { state: ServerState.DOWN, reason: 'connection refused', detail: 'connection refused', since: 5 });
  const second = m.adopt(config([server('10.0.0.2'), server('10.0.0.3')]));
  assert.deepEqual(Object.values(second.upstreams).map((u) => u.servers.map((s) => s.slot)), [[1, 3], [2]]);
  assert.equal(m.get(1)!.health.state, ServerState.DOWN, 'kept its health');
  assert.equal(m.get(0), undefined);
  assert.equal(m.slotAt(0), 1, "a protocol-4 worker's server 0 is slot 1");
  assert.equal(m.slotAt(2), 2);
});

test("a name's new addresses join (down until checked, with checks) and vanished ones leave; a new worker is told both", () => {
  const changes: [number, ServerState, string][] = [];
  const m = new UpstreamMembership((member, state, kind) => changes.push([member.slot, state, kind]));
  m.adopt(config([server('10.0.0.1', 'backend'), server('10.0.0.2', 'backend')]));
  m.resolved('app', 'backend', server('10.0.0.1', 'backend'), ['10.0.0.2', '10.0.0.3']);
  assert.deepEqual(changes, [[0, ServerState.REMOVED, 'left'], [3, ServerState.DOWN, 'joined']]);
  assert.equal(m.get(3)!.health.reason, 'not checked yet');
  m.resolved('app', 'backend', server('10.0.0.1', 'backend'), ['10.0.0.2', '10.0.0.3']);
  assert.equal(changes.length, 2, 'the same answer changes nothing');
  const told = m.messages().map((b) => decode(b) as ServerMessage).map((msg) => [msg.slot, msg.upstream, msg.state, msg.host]);
  assert.deepEqual(told, [
    [1, 0, ServerState.UP, '10.0.0.2'],
    [3, 0, ServerState.DOWN, '10.0.0.3'],
    [2, 1, ServerState.UP, '10.0.1.1'],
    [0, 0, ServerState.REMOVED, '10.0.0.1'],
  ]);
});

test('without checks a new address serves at once', () => {
  const changes: ServerState[] = [];
  const m = new UpstreamMembership((_, state) => changes.push(state));
  m.adopt(config([server('10.0.0.1')], [server('10.0.1.1', 'api')]));
  m.resolved('api', 'api', server('10.0.1.1', 'api'), ['10.0.1.1', '10.0.1.2']);
  assert.deepEqual(changes, [ServerState.UP]);
});
