// Which failures send a request on to the next server: nginx's proxy_next_upstream default
// (`error timeout`, `non_idempotent` off). A server that times out after the
// request went out is skipped for an idempotent request; a request that might have had effects
// (a POST) gets 504 rather than being sent twice.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { rawExchange } from '../helpers/http-client';
import { startProxy, type RunningProxy } from '../helpers/proxy';
import { startRawUpstream, type RawUpstream } from '../helpers/raw-upstream';

/** Requests an upstream received. */
const requestsTo = (upstream: RawUpstream): number => upstream.requests.length;

for (const method of ['GET', 'POST'] as const) {
  describe(`a ${method} whose first server accepts and never answers`, () => {
    let silent: net.Server;
    const accepted = new Set<net.Socket>();
    let good: RawUpstream;
    let proxy: RunningProxy;

    before(async () => {
      silent = net.createServer((socket) => {
        accepted.add(socket);
        socket.on('error', () => {});
        socket.resume(); // reads the request, answers nothing
      });
      await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
      good = await startRawUpstream((_req, socket) => socket.write('HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ngood'));
      proxy = await startProxy({
        workers: 1,
        upstreams: { u: { servers: [`127.0.0.1:${(silent.address() as net.AddressInfo).port}`, `127.0.0.1:${good.port}`] } },
        timeouts: { read: '1s' },
      });
    });

    after(async () => {
      await proxy.stop();
      for (const socket of accepted) socket.destroy();
      await new Promise<void>((r) => silent.close(() => r()));
      await good.close();
    });

    const expected = method === 'GET' ? 'goes to the next server after the read timeout' : 'gets 504: it may have had effects, and is not sent twice';
    it(expected, async () => {
      // Each worker's round robin starts at its own offset: of two requests, one meets the silent server.
      const replies: string[] = [];
      for (let i = 0; i < 2; i++) replies.push(await rawExchange(proxy.port, `${method} /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, 5_000));
      assert.equal(accepted.size, 1, 'one of them went to the silent server');
      const statuses = replies.map((r) => /^HTTP\/1\.1 (\d+)/.exec(r)?.[1]).sort();
      if (method === 'GET') {
        assert.deepEqual(statuses, ['200', '200']);
        assert.equal(requestsTo(good), 2, 'the one that timed out was tried again on the other server');
      } else {
        assert.deepEqual(statuses, ['200', '504']);
        assert.equal(requestsTo(good), 1, 'the one that timed out was not sent again');
      }
      assert.match(proxy.stderr(), /upstream timed out while reading the response from upstream, client: /);
    });
  });
}
