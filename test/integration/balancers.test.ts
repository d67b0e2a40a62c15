// The balancers end to end, through real workers to real backends: a hashed key stays on one
// backend whichever worker serves it, and least-conn and random-two send new requests away from a
// backend that is busy with a slow one (round robin would alternate).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startBackend, type RunningBackend } from '../helpers/backend';
import { request } from '../helpers/http-client';
import { startProxy, type RunningProxy } from '../helpers/proxy';

describe('hash on a header keeps each user on one backend, whichever worker serves them', () => {
  let backends: RunningBackend[];
  let proxy: RunningProxy;

  before(async () => {
    backends = await Promise.all(['h1', 'h2', 'h3'].map((id) => startBackend({ id })));
    proxy = await startProxy({
      workers: 2,
      upstreams: { app: { servers: backends.map((b) => `127.0.0.1:${b.port}`), balancer: 'hash', hashKey: 'header:X-User' } },
      // Round robin between the workers, so both serve: least-conn would give every connection of
      // this sequential client to the first, idle both times.
      handoff: { policy: 'round-robin' },
      extra: { workerHeader: 'X-Handoff-Worker' },
    });
  });
  after(async () => {
    await proxy?.stop();
    await Promise.all(backends.map((b) => b.stop()));
  });

  it('twelve users, five requests each on new connections: one backend per user, and more than one backend in all', async () => {
    const homes = new Map<string, Set<string>>();
    const workers = new Set<string>();
    for (let round = 0; round < 5; round++) {
      for (let user = 0; user < 12; user++) {
        const reply = await request(`${proxy.url}/`, { headers: { 'X-User': `user-${user}` } });
        assert.equal(reply.status, 200);
        const seen = homes.get(`user-${user}`) ?? new Set();
        seen.add(String(reply.headers['x-backend-id']));
        homes.set(`user-${user}`, seen);
        workers.add(String(reply.headers['x-handoff-worker']));
      }
    }
    for (const [user, seen] of homes) assert.equal(seen.size, 1, `${user} went to ${[...seen].join(', ')}`);
    assert.ok(new Set([...homes.values()].flatMap((s) => [...s])).size >= 2, 'users spread over the backends');
    assert.equal(workers.size, 2, `both workers served: ${[...workers].join(', ')}`);
  });
});

for (const balancer of ['least-conn', 'random-two'] as const) {
  describe(`${balancer} sends new requests away from a backend busy with a slow one`, () => {
    let backends: RunningBackend[];
    let proxy: RunningProxy;

    before(async () => {
      backends = await Promise.all(['busy-or-idle-1', 'busy-or-idle-2'].map((id) => startBackend({ id })));
      proxy = await startProxy({
        workers: 1,
        upstreams: { app: { servers: backends.map((b) => `127.0.0.1:${b.port}`), balancer } },
      });
    });
    after(async () => {
      await proxy?.stop();
      await Promise.all(backends.map((b) => b.stop()));
    });

    it('ten quick requests during a slow one all go to the other backend', async () => {
      let slowBackend = '';
      const slow = request(`${proxy.url}/delay?ms=3000`).then((r) => (slowBackend = String(r.headers['x-backend-id'])));
      // The slow request is in flight once the backend counts a pending delay.
      const busy = await waitForPendingDelay(backends);
      const quick: string[] = [];
      for (let i = 0; i < 10; i++) quick.push(String((await request(`${proxy.url}/`)).headers['x-backend-id']));
      await slow;
      assert.equal(slowBackend, busy.id);
      assert.deepEqual(new Set(quick), new Set([backends.find((b) => b !== busy)!.id]), `quick requests went to ${quick.join(' ')}`);
    });
  });
}

/** The backend that holds a /delay request, polled through its /stats. */
async function waitForPendingDelay(backends: RunningBackend[]): Promise<RunningBackend> {
  const deadline = Date.now() + 2_000;
  while (Date.now() < deadline) {
    for (const b of backends) {
      const stats = JSON.parse((await request(`${b.url}/stats`)).body.toString()) as Record<string, unknown>;
      if (Number(stats.pendingDelays) > 0) return b;
    }
  }
  throw new Error('no backend received the slow request within 2 s');
}
