// SIGHUP reloads like nginx: all-or-nothing, new workers with the new config, old workers finish
// what they have — and not one request fails while it happens.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { startBackend, type RunningBackend } from '../helpers/backend';
import { request } from '../helpers/http-client';
import { isAlive, waitFor } from '../helpers/procfs';
import { startProxy, type RunningProxy } from '../helpers/proxy';
import { startRawUpstream } from '../helpers/raw-upstream';

describe('reload (SIGHUP)', () => {
  let a: RunningBackend;
  let b: RunningBackend;
  let proxy: RunningProxy;

  before(async () => {
    a = await startBackend({ id: 'gen-a' });
    b = await startBackend({ id: 'gen-b' });
    proxy = await startProxy({ workers: 2, upstreams: { app: { servers: [`127.0.0.1:${a.port}`] } } });
  });
  after(async () => {
    await proxy?.stop();
    await a?.stop();
    await b?.stop();
  });

  const rewriteConfig = (change: (config: Record<string, unknown>) => void) => {
    const config = JSON.parse(fs.readFileSync(proxy.configFile, 'utf8')) as Record<string, unknown>;
    change(config);
    fs.writeFileSync(proxy.configFile, JSON.stringify(config));
  };

  it('reload-drops-nothing: keep-alive clients under load see no error while workers are replaced', async () => {
    const oldWorkers = proxy.workerPids();
    rewriteConfig((c) => (c.upstreams = { app: { servers: [`127.0.0.1:${b.port}`] } }));
    const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
    const seen = new Map<string, number>();
    const failures: string[] = [];
    const deadline = Date.now() + 3_000;
    let sentHup = false;
    const client = async () => {
      for (let i = 0; i < 5_000 && Date.now() < deadline; i++) {
        try {
          const reply = await request(`${proxy.url}/`, { agent });
          if (reply.status !== 200) failures.push(`status ${reply.status}`);
          const id = String(reply.headers['x-backend-id']);
          seen.set(id, (seen.get(id) ?? 0) + 1);
        } catch (err) {
          failures.push((err as Error).message);
        }
      }
    };
    const load = Promise.all(Array.from({ length: 8 }, client));
    await new Promise((r) => setTimeout(r, 800));
    process.kill(proxy.pid, 'SIGHUP');
    sentHup = true;
    await load;
    agent.destroy();
    assert.ok(sentHup);
    assert.deepEqual(failures, [], 'no request failed during the reload');
    assert.ok((seen.get('gen-a') ?? 0) > 0 && (seen.get('gen-b') ?? 0) > 0, `answers from before and after: ${JSON.stringify([...seen])}`);
    for (const w of oldWorkers) await waitFor(`old worker ${w} to exit`, () => !isAlive(w));
    const fresh = await request(`${proxy.url}/`);
    assert.equal(fresh.headers['x-backend-id'], 'gen-b', 'the new config is in force');
    // The old generation left as asked, with nothing unacknowledged: no warning about it.
    await new Promise((r) => setTimeout(r, 200)); // their channels' close reaches the master
    assert.doesNotMatch(proxy.stderr(), /\[warn\].* left: /);
    assert.match(proxy.stderr(), /\[notice\].*worker w\d+ \(pid \d+ on .+, spawned\) left: exited with code 0; 0 unacknowledged/);
  });

  it('a bad config keeps the old config and the old workers', async () => {
    const workers = proxy.workerPids();
    rewriteConfig((c) => (c.upstreams = { app: { servers: ['not an address'] } }));
    process.kill(proxy.pid, 'SIGHUP');
    await waitFor('the reload error', () => /reload failed, the current configuration stays/.test(proxy.stderr()));
    assert.match(proxy.stderr(), /upstreams\.app\.servers\[0\]/);
    assert.deepEqual(proxy.workerPids().sort(), workers.sort(), 'the same workers');
    assert.equal((await request(`${proxy.url}/`)).headers['x-backend-id'], 'gen-b');
  });

  it('refuses to change the listeners on a reload, naming why', async () => {
    rewriteConfig((c) => {
      c.upstreams = { app: { servers: [`127.0.0.1:${b.port}`] } };
      c.listeners = ['127.0.0.1:1'];
    });
    process.kill(proxy.pid, 'SIGHUP');
    await waitFor('the refusal', () => /listeners change only on a restart/.test(proxy.stderr()));
    assert.equal((await request(`${proxy.url}/`)).status, 200);
  });
});

// A reload that is slow to load its config: glibc's resolver opens the file named by $HOSTALIASES
// for a host name without dots, and a FIFO holds that open() (in the master's lookup thread)
// until a writer comes, as a DNS server that does not answer would. The master's event loop
// stays free meanwhile, so its signals arrive while the reload is still loading.
describe('reload (SIGHUP) while a reload is loading its config', () => {
  const glibc = Boolean((process.report.getReport() as { header?: { glibcVersionRuntime?: string } }).header?.glibcVersionRuntime);

  it('HUPs during a reload make exactly one more reload after it, which loads the newest file', { skip: !glibc && 'needs glibc (HOSTALIASES)' }, async () => {
    const a = await startBackend({ id: 'first' });
    const b = await startBackend({ id: 'newest' });
    const aliases = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'handoff-aliases-')), 'hostaliases');
    execFileSync('mkfifo', [aliases]);
    const proxy = await startProxy({ workers: 1, upstreams: { app: { servers: [`127.0.0.1:${a.port}`] } }, env: { HOSTALIASES: aliases } });
    const writeServers = (server: string) => {
      const config = JSON.parse(fs.readFileSync(proxy.configFile, 'utf8')) as Record<string, unknown>;
      fs.writeFileSync(proxy.configFile, JSON.stringify({ ...config, upstreams: { app: { servers: [server] } } }));
    };
    /** Opens the FIFO's write end once the lookup thread waits in its open() (ENXIO until then). */
    const writer = () => {
      try {
        return fs.openSync(aliases, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENXIO') return -1;
        throw err;
      }
    };
    let held = -1;
    // Lets every open of the FIFO through (glibc opens it again, once per address family); also
    // when the test fails: a master cannot exit while its lookup thread is stuck.
    let release: NodeJS.Timeout | undefined;
    const releaseLookups = () => {
      if (held >= 0) fs.closeSync(held);
      held = -1;
      release ??= setInterval(() => {
        const fd = writer();
        if (fd >= 0) fs.closeSync(fd);
      }, 10);
    };
    try {
      writeServers(`stalled:${b.port}`);
      process.kill(proxy.pid, 'SIGHUP');
      await waitFor('the reload to hang in its name lookup', () => (held = writer()) >= 0);
      // The lookup now reads the FIFO, and waits until `held` closes: the reload is still loading.
      writeServers(`127.0.0.1:${b.port}`);
      process.kill(proxy.pid, 'SIGHUP');
      await waitFor('the HUP to be noted', () => /one more reload follows/.test(proxy.stderr()));
      process.kill(proxy.pid, 'SIGHUP');
      await sleep(200);
      releaseLookups();
      await waitFor('the stalled reload to fail', () => /host not found: "stalled"/.test(proxy.stderr()));
      await waitFor('the newest config to be in force', async () => (await request(`${proxy.url}/`)).headers['x-backend-id'] === 'newest');
      await sleep(300); // time for a reload too many to show
      const log = proxy.stderr();
      assert.equal(log.match(/\[notice\].*one more reload follows/g)?.length, 1, 'the HUPs are noted, and coalesced into one');
      assert.equal(log.match(/reloading: /g)?.length, 1, 'three HUPs, two reloads: the stalled one and one after it');
    } finally {
      releaseLookups();
      await proxy.stop();
      clearInterval(release);
      await a.stop();
      await b.stop();
      fs.rmSync(path.dirname(aliases), { recursive: true, force: true });
    }
  });
});

// A response whose head promised keep-alive before the reload, and whose body ends after it:
// the client may send its next request as soon as the body is in, on that same connection. The
// old worker must answer it (with Connection: close) rather than close under it.
describe('reload (SIGHUP) during a keep-alive response', () => {
  it('answers the next request on that connection, with Connection: close', async () => {
    const size = 8 * 1024 * 1024;
    const big = Buffer.alloc(size, 'b');
    const upstream = await startRawUpstream((req, socket) => {
      if (req.path === '/big') socket.write(Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${size}\r\n\r\n`), big]));
      else socket.write('HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nnext');
    });
    const proxy = await startProxy({ workers: 1, upstreams: { app: { servers: [`127.0.0.1:${upstream.port}`] } } });
    const socket = net.connect(proxy.port, '127.0.0.1');
    try {
      let got: Buffer = Buffer.alloc(0);
      const take = (enough: (b: Buffer) => boolean) =>
        new Promise<void>((resolve, reject) => {
          const onData = (d: Buffer) => {
            got = Buffer.concat([got, d]);
            if (!enough(got)) return;
            socket.off('data', onData);
            socket.pause();
            resolve();
          };
          socket.on('data', onData).resume();
          socket.once('close', () => reject(new Error(`closed after ${JSON.stringify(got.subarray(Math.max(0, got.length - 300)).toString('latin1'))}`)));
        });
      // The 8 MiB body is counted, not gathered: a client slow to read it (a Buffer.concat per
      // chunk is quadratic) would leave the connection idle past the old worker's grace before
      // it sends its next request, and a closed idle connection is then the right answer.
      const skipTo = (total: number) =>
        new Promise<void>((resolve, reject) => {
          let seen = got.length;
          if (seen >= total) {
            got = got.subarray(total);
            return resolve();
          }
          const onData = (d: Buffer) => {
            seen += d.length;
            if (seen < total) return;
            socket.off('data', onData);
            socket.pause();
            got = d.subarray(d.length - (seen - total));
            resolve();
          };
          socket.on('data', onData).resume();
          socket.once('close', () => reject(new Error(`closed after ${seen} of ${total} bytes`)));
        });
      socket.write('GET /big HTTP/1.1\r\nHost: x\r\n\r\n');
      await take((b) => b.includes('\r\n\r\n'));
      assert.match(got.toString('latin1', 0, got.indexOf('\r\n\r\n')), /\r\nConnection: keep-alive/i);
      // The reload: the old worker drains once the new one has registered; our body is still coming.
      process.kill(proxy.pid, 'SIGHUP');
      await waitFor('the new worker to register', () => /reloading:[^]*joined/.test(proxy.stderr()));
      await sleep(100);
      const headEnd = got.indexOf('\r\n\r\n') + 4;
      await skipTo(headEnd + size);
      socket.write('GET /next HTTP/1.1\r\nHost: x\r\n\r\n');
      await take((b) => b.toString('latin1').endsWith('next'));
      const reply = got.toString('latin1');
      assert.match(reply, /^HTTP\/1\.1 200 OK\r\n[^]*\r\n\r\nnext$/);
      assert.match(reply, /\r\nConnection: close\r\n/);
    } finally {
      socket.destroy();
      await proxy.stop();
      await upstream.close();
    }
  });
});
