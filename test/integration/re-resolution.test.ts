// Re-resolution through real processes, as nginx's `server app.test:PORT resolve` with
// `resolver … valid=200ms`: a real DNS server on loopback answers for app.test, and backends
// listen on 127.0.0.2-4 on one port. Addresses that appear join the group without a reload;
// one that vanishes gets no new requests while those it holds finish; a failing lookup keeps
// the last addresses. Same master, no reload, no failed request throughout.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startBackend, type RunningBackend } from '../helpers/backend';
import { startDnsServer, type TestDnsServer } from '../helpers/dns-server';
import { request } from '../helpers/http-client';
import { waitFor } from '../helpers/procfs';
import { startProxy, type RunningProxy } from '../helpers/proxy';

const HOSTS = ['127.0.0.2', '127.0.0.3', '127.0.0.4'];

describe('re-resolution: resolver valid 200ms', () => {
  let dns: TestDnsServer;
  let backends: RunningBackend[];
  let proxy: RunningProxy;

  /** Which backend answered each of `n` requests (sequential, a new connection each). */
  const spread = async (n: number, path = '/') => {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const reply = await request(`${proxy.url}${path}${path.includes('?') ? '&' : '?'}i=${i}`);
      assert.equal(reply.status, 200);
      ids.push(String(reply.headers['x-backend-id']));
    }
    return ids;
  };

  before(async () => {
    dns = await startDnsServer('app.test');
    const first = await startBackend({ host: HOSTS[0], id: HOSTS[0] });
    backends = [first, ...(await Promise.all(HOSTS.slice(1).map((host) => startBackend({ host, port: first.port, id: host }))))];
    dns.records = [HOSTS[0]!];
    proxy = await startProxy({
      workers: 2,
      upstreams: { app: { servers: [`app.test:${first.port}`] } },
      extra: { resolver: { valid: '200ms', addresses: [dns.address] } },
    });
  });
  after(async () => {
    await proxy?.stop();
    await Promise.all((backends ?? []).map((b) => b.stop()));
    await dns?.close();
  });

  it('addresses that appear join the group without a reload and share the traffic', async () => {
    assert.deepEqual(new Set(await spread(6)), new Set([HOSTS[0]]), 'at start, the one address the name had');
    dns.records = [...HOSTS];
    await waitFor('both new addresses to join', () => HOSTS.slice(1).every((h) => proxy.stderr().includes(`upstream server ${h}:${backends[0]!.port} of "app" joined`)), 3_000);
    await waitFor('every worker to use all three', async () => new Set(await spread(12)).size === 3, 3_000);
    const ids = await spread(60);
    for (const host of HOSTS) assert.ok(ids.filter((id) => id === host).length >= 10, `${host} got its share: ${ids.filter((id) => id === host).length} of 60`);
    assert.doesNotMatch(proxy.stderr(), /reloading/);
  });

  it('an address that vanishes gets no new requests, and the ones it holds finish', async () => {
    const gone = HOSTS[2]!;
    // Slow requests on every server, so the one that goes holds some.
    const slow = Array.from({ length: 9 }, (_, i) => request(`${proxy.url}/delay?ms=1500&slow=${i}`));
    await waitFor('the slow requests to reach the backend that goes', async () => {
      const stats = JSON.parse((await request(`http://${gone}:${backends[2]!.port}/stats`)).body.toString()) as { pendingDelays: number };
      return stats.pendingDelays > 0;
    }, 2_000);
    dns.records = HOSTS.slice(0, 2);
    await waitFor('it to leave', () => proxy.stderr().includes(`upstream server ${gone}:${backends[2]!.port} of "app" left`), 3_000);
    const ids = await spread(30);
    assert.ok(!ids.includes(gone), `no new request went to ${gone}`);
    const finished = await Promise.all(slow);
    assert.deepEqual(finished.map((r) => r.status), finished.map(() => 200), 'every request in flight finished');
    assert.ok(finished.some((r) => r.headers['x-backend-id'] === gone), `some finished on ${gone} after it left`);
  });

  it('a lookup that fails keeps the last addresses, and says so once', async () => {
    dns.failing = true;
    await waitFor('the failure to be logged', () => proxy.stderr().includes('looking up "app.test" failed'), 3_000);
    const queries = dns.queries();
    await waitFor('three more lookups, failing too', () => dns.queries() >= queries + 3, 3_000);
    assert.deepEqual(new Set(await spread(12)), new Set(HOSTS.slice(0, 2)));
    dns.failing = false;
    await waitFor('the name to resolve again', () => proxy.stderr().includes('"app.test" resolves again'), 3_000);
    assert.equal(proxy.stderr().split('looking up "app.test" failed').length, 2, 'logged once while it failed');
  });
});
