// nginx's smooth weighted round robin: weights honoured, picks interleaved, down servers skipped
// until every one is down, tried servers never picked twice for one request.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UpstreamGroup } from '../../proxy/upstream/upstream-group';
import type { UpstreamServer } from '../../proxy/upstream/upstream-server';

function group(weights: number[]): UpstreamGroup {
  return new UpstreamGroup({
    name: 'g',
    keepalive: 0,
    balancer: 'round-robin',
    hashKey: null,
    servers: weights.map((weight, i) => ({ host: `10.0.0.${i + 1}`, port: 80, weight, maxFails: 1, failTimeout: 10_000 })),
  });
}
const none: ReadonlySet<UpstreamServer> = new Set();

describe('UpstreamGroup', () => {
  it('honours weights and interleaves picks (5:1:1 over 7 picks)', () => {
    const g = group([5, 1, 1]);
    const picks = Array.from({ length: 7 }, () => g.pick(none)!.host);
    const count = (h: string) => picks.filter((p) => p === h).length;
    assert.deepEqual([count('10.0.0.1'), count('10.0.0.2'), count('10.0.0.3')], [5, 1, 1]);
    // Smooth: the light servers are spread through the cycle (nginx: a a b a c a a), not next to
    // each other as plain weighted round robin would put them (a a a a a b c).
    const gap = Math.abs(picks.indexOf('10.0.0.2') - picks.indexOf('10.0.0.3'));
    assert.ok(Math.min(gap, 7 - gap) >= 2, `smooth, not bunched: ${picks.join(' ')}`);
    g.close();
  });

  it('skips servers already tried for this request, then gives up', () => {
    const g = group([1, 1]);
    const tried = new Set<UpstreamServer>();
    tried.add(g.pick(tried)!);
    const second = g.pick(tried)!;
    assert.ok(!tried.has(second));
    tried.add(second);
    assert.equal(g.pick(tried), null);
    g.close();
  });

  it('skips a failed server until its fail timeout, and tries it anyway when all are down', () => {
    const g = group([1, 1]);
    const [a, b] = g.servers;
    a.health.failed(Date.now());
    for (let i = 0; i < 4; i++) assert.equal(g.pick(none), b);
    b.health.failed(Date.now());
    assert.ok(g.pick(none) !== null, 'all down: nginx tries them anyway');
    a.health.succeeded();
    assert.equal(g.pick(none), a);
    g.close();
  });
});
