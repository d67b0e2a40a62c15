// The client address behind trusted proxies (config realIp, nginx's set_real_ip_from,
// real_ip_header, real_ip_recursive): only a request whose TCP peer is trusted has its client
// address taken from the header, and that address is the one the access log shows and the
// client-address hash balances on. X-Forwarded-For sent upstream still appends the TCP peer.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startBackend, type RunningBackend } from '../helpers/backend';
import { request } from '../helpers/http-client';
import { waitFor } from '../helpers/procfs';
import { startProxy, type RunningProxy } from '../helpers/proxy';

interface Echo { headers: Record<string, string | undefined> }

/** The access-log line (combined, on stdout) of the request carrying `probe`. */
function logLine(proxy: RunningProxy, probe: string): string | undefined {
  return proxy.stdout().split('\n').find((l) => l.includes(`probe=${probe} `));
}

async function loggedClient(proxy: RunningProxy, probe: string): Promise<string> {
  await waitFor(`the access-log line of ${probe}`, () => logLine(proxy, probe) !== undefined);
  return logLine(proxy, probe)!.split(' ')[0]!;
}

describe('realIp: the client address behind trusted proxies', () => {
  let backend: RunningBackend;
  before(async () => {
    backend = await startBackend({ id: 'real-ip' });
  });
  after(async () => {
    await backend?.stop();
  });

  it('a trusted peer: the log shows the address its X-Forwarded-For names; upstream still gets the peer appended', async () => {
    const proxy = await startProxy({
      workers: 1,
      upstreams: { app: { servers: [`127.0.0.1:${backend.port}`] } },
      extra: { accessLog: 'stdout', realIp: { from: ['10.0.0.0/8', '127.0.0.1', '::1/128'] } },
    });
    try {
      const reply = await request(`${proxy.url}/echo?probe=trusted`, { headers: { 'x-forwarded-for': '203.0.113.7' } });
      assert.equal(reply.status, 200);
      const echo = JSON.parse(reply.body.toString()) as Echo;
      assert.equal(echo.headers['x-forwarded-for'], '203.0.113.7, 127.0.0.1', 'appended, never replaced');
      assert.equal(await loggedClient(proxy, 'trusted'), '203.0.113.7');
      // Not an address: the peer's stands (nginx leaves $remote_addr as it was).
      await request(`${proxy.url}/?probe=garbage`, { headers: { 'x-forwarded-for': 'unknown' } });
      assert.equal(await loggedClient(proxy, 'garbage'), '127.0.0.1');
      // No header at all: the peer.
      await request(`${proxy.url}/?probe=none`);
      assert.equal(await loggedClient(proxy, 'none'), '127.0.0.1');
    } finally {
      await proxy.stop();
    }
  });

  it('an untrusted peer: its X-Forwarded-For is passed on but not believed', async () => {
    const proxy = await startProxy({
      workers: 1,
      upstreams: { app: { servers: [`127.0.0.1:${backend.port}`] } },
      extra: { accessLog: 'stdout', realIp: { from: ['10.0.0.0/8'] } },
    });
    try {
      const reply = await request(`${proxy.url}/echo?probe=untrusted`, { headers: { 'x-forwarded-for': '203.0.113.7' } });
      assert.equal((JSON.parse(reply.body.toString()) as Echo).headers['x-forwarded-for'], '203.0.113.7, 127.0.0.1');
      assert.equal(await loggedClient(proxy, 'untrusted'), '127.0.0.1');
    } finally {
      await proxy.stop();
    }
  });

  it('recursive: trusted proxies in the chain are skipped from the right; without it, the last entry is the client', async () => {
    const chain = { 'x-forwarded-for': '198.51.100.9, 203.0.113.7, 10.1.2.3, 10.4.5.6' };
    const recursive = await startProxy({
      workers: 1,
      upstreams: { app: { servers: [`127.0.0.1:${backend.port}`] } },
      extra: { accessLog: 'stdout', realIp: { from: ['127.0.0.0/8', '10.0.0.0/8'], recursive: true } },
    });
    const plain = await startProxy({
      workers: 1,
      upstreams: { app: { servers: [`127.0.0.1:${backend.port}`] } },
      extra: { accessLog: 'stdout', realIp: { from: ['127.0.0.0/8', '10.0.0.0/8'] } },
    });
    try {
      await request(`${recursive.url}/?probe=chain`, { headers: chain });
      assert.equal(await loggedClient(recursive, 'chain'), '203.0.113.7');
      await request(`${plain.url}/?probe=chain`, { headers: chain });
      assert.equal(await loggedClient(plain, 'chain'), '10.4.5.6');
    } finally {
      await recursive.stop();
      await plain.stop();
    }
  });

  it('real_ip_header X-Real-IP: that header names the client, with a port dropped', async () => {
    const proxy = await startProxy({
      workers: 1,
      upstreams: { app: { servers: [`127.0.0.1:${backend.port}`] } },
      extra: { accessLog: 'stdout', realIp: { from: ['127.0.0.1'], header: 'X-Real-IP' } },
    });
    try {
      await request(`${proxy.url}/?probe=xrealip`, { headers: { 'x-real-ip': '[2001:DB8::7]:4433', 'x-forwarded-for': '203.0.113.7' } });
      assert.equal(await loggedClient(proxy, 'xrealip'), '2001:db8::7');
    } finally {
      await proxy.stop();
    }
  });

  it('the client-address hash follows the real client: each address stays on its server, and they spread', async () => {
    const second = await startBackend({ id: 'real-ip-2' });
    const proxy = await startProxy({
      workers: 2,
      handoff: { policy: 'round-robin' },
      upstreams: { app: { balancer: 'hash', hashKey: 'client-address', servers: [`127.0.0.1:${backend.port}`, `127.0.0.1:${second.port}`] } },
      extra: { realIp: { from: ['127.0.0.1'] } },
    });
    try {
      const servedBy = new Map<string, Set<string>>();
      for (let round = 0; round < 3; round++) {
        for (let i = 1; i <= 16; i++) {
          const client = `203.0.113.${i}`;
          const reply = await request(`${proxy.url}/`, { headers: { 'x-forwarded-for': client } });
          assert.equal(reply.status, 200);
          const set = servedBy.get(client) ?? new Set<string>();
          set.add(String(reply.headers['x-backend-id']));
          servedBy.set(client, set);
        }
      }
      for (const [client, servers] of servedBy) assert.equal(servers.size, 1, `${client} stayed on one server: ${[...servers].join(', ')}`);
      const used = new Set([...servedBy.values()].flatMap((s) => [...s]));
      // All from one TCP peer: hashing the peer would put every request on one server.
      assert.equal(used.size, 2, `sixteen clients behind one proxy use both servers: ${[...used].join(', ')}`);
    } finally {
      await proxy.stop();
      await second.stop();
    }
  });
});
