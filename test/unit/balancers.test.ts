// What each upstream balancer promises (nginx's round robin, least_conn, random two least_conn,
// hash … consistent): weights honoured, load followed, a key kept on one server, and removing one
// of N servers moving only that server's keys, about 1/N of them.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { BalancerName } from '../../proxy/config/types';
import { keyReader } from '../../proxy/upstream/balancers/balance-key';
import { RandomTwoChoices } from '../../proxy/upstream/balancers/random-two';
import { UpstreamGroup } from '../../proxy/upstream/upstream-group';
import type { UpstreamServer } from '../../proxy/upstream/upstream-server';

const none: ReadonlySet<UpstreamServer> = new Set();

function group(balancer: BalancerName, weights: number[], hashKey: string | null = balancer === 'hash' ? 'uri' : null): UpstreamGroup {
  return new UpstreamGroup({
    name: 'g',
    keepalive: 0,
    balancer,
    hashKey,
    servers: weights.map((weight, i) => ({ host: `10.0.0.${i + 1}`, port: 80, weight, maxFails: 1, failTimeout: 10_000 })),
  });
}

/** A small seeded generator (mulberry32): the random balancer's draws, repeatable. */
function seeded(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** 1,000 requests one after another (each finished before the next), as `key(i)`; the share of the first server. */
function shareOfFirst(g: UpstreamGroup, key: (i: number) => string = () => ''): number {
  let first = 0;
  for (let i = 0; i < 1_000; i++) {
    const server = g.pick(none, key(i))!;
    server.enter();
    if (server === g.servers[0]) first++;
    server.leave();
  }
  return first / 1_000;
}

describe('every balancer honours weights 3:1 (75% ± 5% over 1,000 requests)', () => {
  for (const name of ['round-robin', 'least-conn', 'random-two', 'hash'] as const) {
    it(name, () => {
      const g = group(name, [3, 1]);
      const share = shareOfFirst(g, (i) => `/item/${i}`);
      assert.ok(Math.abs(share - 0.75) <= 0.05, `${name}: the weight-3 server took ${(share * 100).toFixed(1)}%`);
      g.close();
    });
  }

  it('random-two with a seeded draw, so the figure is the same every run', () => {
    const g = group('random-two', [3, 1]);
    const balancer = new RandomTwoChoices(g.servers, seeded(42));
    let first = 0;
    for (let i = 0; i < 1_000; i++) if (balancer.pick(() => true) === g.servers[0]) first++;
    assert.ok(Math.abs(first / 1_000 - 0.75) <= 0.05, `${first} of 1000`);
    g.close();
  });
});

describe('least-conn', () => {
  it('sends the next requests to the server with fewer in flight until they are level', () => {
    const g = group('least-conn', [1, 1]);
    const [a, b] = g.servers as [UpstreamServer, UpstreamServer];
    for (let i = 0; i < 3; i++) a.enter();
    const picks = [1, 2, 3].map(() => {
      const s = g.pick(none)!;
      s.enter();
      return s;
    });
    assert.deepEqual(picks, [b, b, b], 'b had 0 in flight against a\'s 3');
    assert.equal(a.active, 3);
    assert.equal(b.active, 3);
    const next = [g.pick(none)!, g.pick(none)!];
    assert.ok(next.includes(a) && next.includes(b), 'level again: round robin between them');
    g.close();
  });

  it('compares in-flight counts per unit of weight', () => {
    const g = group('least-conn', [2, 1]);
    const [a, b] = g.servers as [UpstreamServer, UpstreamServer];
    a.enter();
    a.enter();
    // a: 2 in flight for weight 2 (1 each); b: 0 for weight 1.
    assert.equal(g.pick(none), b);
    b.enter();
    // a: 2/2, b: 1/1: level, and the round robin tie-break picks by weight (a twice as often).
    const picks = Array.from({ length: 300 }, () => g.pick(none));
    assert.equal(picks.filter((p) => p === a).length, 200);
    g.close();
  });

  it('skips servers that are down or tried, however idle', () => {
    const g = group('least-conn', [1, 1, 1]);
    const [a, b, c] = g.servers as [UpstreamServer, UpstreamServer, UpstreamServer];
    b.enter();
    c.enter();
    a.health.failed(Date.now());
    assert.notEqual(g.pick(none), a);
    assert.equal(g.pick(new Set([b])), c);
    g.close();
  });
});

describe('random-two', () => {
  it('takes the less loaded of the two it draws', () => {
    const g = group('random-two', [1, 1]);
    const [a, b] = g.servers as [UpstreamServer, UpstreamServer];
    for (let i = 0; i < 5; i++) a.enter();
    // With two servers, both are always drawn: the idle one wins every time.
    for (let i = 0; i < 50; i++) assert.equal(g.pick(none), b);
    g.close();
  });

  it('spreads load evenly under concurrency (nobody above twice the mean)', () => {
    const g = group('random-two', [1, 1, 1, 1, 1]);
    const random = seeded(7);
    const balancer = new RandomTwoChoices(g.servers, random);
    const held: UpstreamServer[] = [];
    for (let i = 0; i < 500; i++) {
      const s = balancer.pick(() => true)!;
      s.enter();
      held.push(s);
      // Requests finish at random: about as many leave as arrive, around 50 in flight.
      if (held.length > 50) held.splice(Math.floor(random() * held.length), 1)[0]!.leave();
    }
    const most = Math.max(...g.servers.map((s) => s.active));
    assert.ok(most <= 20, `in flight per server: ${g.servers.map((s) => s.active).join(' ')}`);
    g.close();
  });
});

describe('hash (consistent, ketama)', () => {
  it('keeps a key on one server', () => {
    const g = group('hash', [1, 1, 1, 1]);
    for (const key of ['/a', '/b', '/users/42', '']) {
      const first = g.pick(none, key);
      for (let i = 0; i < 100; i++) assert.equal(g.pick(none, key), first, key);
    }
    g.close();
  });

  it('spreads distinct keys over every server', () => {
    const g = group('hash', [1, 1, 1, 1]);
    const counts = new Map<UpstreamServer, number>();
    for (let i = 0; i < 4_000; i++) {
      const s = g.pick(none, `key-${i}`)!;
      counts.set(s, (counts.get(s) ?? 0) + 1);
    }
    for (const s of g.servers) assert.ok((counts.get(s) ?? 0) > 600, `${s.label}: ${counts.get(s)} of 4000`);
    g.close();
  });

  it('removing one of 5 servers moves only its keys, about 1/5 of them', () => {
    const five = group('hash', [1, 1, 1, 1, 1]);
    const four = new UpstreamGroup({ name: 'g', keepalive: 0, balancer: 'hash', hashKey: 'uri', servers: five.servers.slice(0, 4).map((s) => ({ host: s.host, port: s.port, weight: 1, maxFails: 1, failTimeout: 10_000 })) });
    const removed = five.servers[4]!.label;
    let moved = 0;
    let movedFromElsewhere = 0;
    const keys = 10_000;
    for (let i = 0; i < keys; i++) {
      const before = five.pick(none, `/k/${i}`)!.label;
      const after = four.pick(none, `/k/${i}`)!.label;
      if (before !== after) {
        moved++;
        if (before !== removed) movedFromElsewhere++;
      }
    }
    assert.equal(movedFromElsewhere, 0, 'a key on a server that stayed keeps its server');
    assert.ok(Math.abs(moved / keys - 1 / 5) <= 0.05, `${moved} of ${keys} keys moved`);
    five.close();
    four.close();
  });

  it('passes a key on along the ring while its server is down, and back once it is up', () => {
    const g = group('hash', [1, 1, 1]);
    const home = g.pick(none, '/sticky')!;
    home.health.failed(Date.now());
    const elsewhere = g.pick(none, '/sticky')!;
    assert.notEqual(elsewhere, home);
    assert.equal(g.pick(none, '/sticky'), elsewhere, 'the same fallback each time');
    assert.notEqual(g.pick(new Set([elsewhere]), '/sticky'), elsewhere, 'a retry goes on along the ring');
    home.health.succeeded();
    assert.equal(g.pick(none, '/sticky'), home);
    g.close();
  });
});

describe('the hash key', () => {
  const headers = ['Host', 'example.test', 'X-User', 'alice', 'x-user', 'bob'];
  it('is the client address, the target, or a header\'s first value (name in any case)', () => {
    assert.equal(keyReader('client-address')('192.0.2.7', '/p?q', headers), '192.0.2.7');
    assert.equal(keyReader('uri')('192.0.2.7', '/p?q', headers), '/p?q');
    assert.equal(keyReader('header:X-USER')('192.0.2.7', '/p?q', headers), 'alice');
    assert.equal(keyReader('header:X-Team')('192.0.2.7', '/p?q', headers), '', 'absent: the empty string');
    assert.equal(keyReader(null)('192.0.2.7', '/p?q', headers), '', 'other balancers read no key');
  });
});
