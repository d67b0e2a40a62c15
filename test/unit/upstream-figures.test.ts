// Per-server upstream figures: each worker balances and tracks passive health on its own and says
// so in UPSTREAM messages; the master sums them. Pinned here: the message over a real channel,
// what a worker reports (only what changed), and the master's sums and their nulls.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decode, encode, encodeUpstream, MessageType, type UpstreamReport } from '../../proxy/handoff/protocol';
import { upstreamSnapshots, WorkerUpstreamFigures } from '../../proxy/master/upstream-figures';
import { UpstreamMembership } from '../../proxy/master/upstream-membership';
import type { Config } from '../../proxy/config/types';
import { UpstreamGroup } from '../../proxy/upstream/upstream-group';
import { UpstreamReporter } from '../../proxy/worker/upstream-reporter';
import { acrossChannel } from '../helpers/channels';

const UPSTREAMS = {
  app: { name: 'app', keepalive: 0, balancer: 'round-robin', hashKey: null, servers: [{ host: '10.0.0.1', port: 80, weight: 1 }, { host: '10.0.0.2', port: 80, weight: 3 }] },
  api: { name: 'api', keepalive: 0, balancer: 'round-robin', hashKey: null, servers: [{ host: '::1', port: 81, weight: 1 }] },
} as unknown as Config['upstreams'];

test('an UPSTREAM message crosses a real channel whole (20 bytes) and decodes to what was sent', async () => {
  const sent = { server: 2, requests: 2 ** 32 - 1, failures: 17, downForMs: 9_500 };
  const got = await acrossChannel(encodeUpstream(sent));
  assert.equal(got.length, 20);
  assert.deepEqual(decode(got), { type: MessageType.UPSTREAM, ...sent });
});

test('an UPSTREAM of the wrong size is not our protocol', () => {
  const good = encodeUpstream({ server: 0, requests: 1, failures: 0, downForMs: 0 });
  assert.equal(decode(good.subarray(0, 16)), null);
  assert.equal(decode(Buffer.concat([good, Buffer.alloc(1)])), null);
  assert.equal(decode(encode(MessageType.STATUS, 0, 1, 2).subarray(0, 15)), null);
});

test('a worker reports every server at first, then only those whose figures changed', () => {
  const groups = [new UpstreamGroup(UPSTREAMS.app!, 0), new UpstreamGroup(UPSTREAMS.api!, 2)];
  const servers = groups.flatMap((g) => g.servers);
  const sent: UpstreamReport[] = [];
  const reporter = new UpstreamReporter(() => servers, (message) => sent.push(decode(message) as UpstreamReport));
  reporter.reportChanges(1_000);
  assert.deepEqual(sent.map((r) => [r.server, r.requests, r.failures, r.downForMs]), [[0, 0, 0, 0], [1, 0, 0, 0], [2, 0, 0, 0]]);
  sent.length = 0;
  reporter.reportChanges(2_000);
  assert.equal(sent.length, 0, 'nothing changed');
  const picked = groups[0].pick(new Set(), '', 2_000)!;
  picked.health.failed(2_000);
  reporter.reportChanges(2_500);
  assert.deepEqual(sent.map((r) => [r.server, r.requests, r.failures, r.downForMs]), [[servers.indexOf(picked), 1, 1, 9_500]]);
  for (const g of groups) g.close();
});

test('the master sums the reporting workers per server, takes the latest down time, and says null where none reported', () => {
  const one = new WorkerUpstreamFigures();
  const two = new WorkerUpstreamFigures();
  one.record({ type: MessageType.UPSTREAM, server: 0, requests: 10, failures: 1, downForMs: 0 }, 1_000);
  two.record({ type: MessageType.UPSTREAM, server: 0, requests: 5, failures: 2, downForMs: 4_000 }, 1_000);
  one.record({ type: MessageType.UPSTREAM, server: 1, requests: 30, failures: 0, downForMs: 0 }, 1_000);
  one.record({ type: MessageType.UPSTREAM, server: 50_000, requests: 1, failures: 1, downForMs: 1 }, 1_000);
  const membership = new UpstreamMembership(() => {});
  membership.adopt({ upstreams: UPSTREAMS } as Config);
  const [app, api] = upstreamSnapshots(membership.all(), [one, two]);
  assert.deepEqual(app, {
    name: 'app',
    servers: [
      { address: '10.0.0.1:80', weight: 1, requests: 15, failures: 3, downUntil: 5_000, health: null },
      { address: '10.0.0.2:80', weight: 3, requests: 30, failures: 0, downUntil: 0, health: null },
    ],
  });
  assert.deepEqual(api!.servers, [{ address: '[::1]:81', weight: 1, requests: null, failures: null, downUntil: null, health: null }]);
});
