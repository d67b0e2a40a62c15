// maxFails through a real worker: a server that resets every connection is tried exactly maxFails
// times within failTimeout, then left alone, while every request is answered by the good server.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { request } from '../helpers/http-client';
import { startProxy, type RunningProxy } from '../helpers/proxy';
import { startRawUpstream, type RawUpstream } from '../helpers/raw-upstream';

describe('passive health: maxFails 3 within failTimeout 30s', () => {
  let resetting: net.Server;
  let connectionsToBad = 0;
  let good: RawUpstream;
  let proxy: RunningProxy;

  before(async () => {
    resetting = net.createServer((socket) => {
      connectionsToBad++;
      socket.resetAndDestroy();
    });
    await new Promise<void>((r) => resetting.listen(0, '127.0.0.1', r));
    good = await startRawUpstream((_req, socket) => socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'));
    proxy = await startProxy({
      workers: 1,
      upstreams: {
        u: {
          maxFails: 3,
          failTimeout: '30s',
          servers: [`127.0.0.1:${(resetting.address() as net.AddressInfo).port}`, `127.0.0.1:${good.port}`],
        },
      },
    });
  });
  after(async () => {
    await proxy?.stop();
    await good?.close();
    await new Promise<void>((r) => resetting.close(() => r()));
  });

  it('twenty GETs: all 200, and the resetting server saw exactly three connections', async () => {
    for (let i = 0; i < 20; i++) assert.equal((await request(`${proxy.url}/${i}`)).status, 200);
    assert.equal(connectionsToBad, 3);
  });
});
