// WebSocket through the proxy: the upgrade is forwarded, then frames flow both ways.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { startBackend, type RunningBackend } from '../helpers/backend';
import { rawExchange } from '../helpers/http-client';
import { startProxy, type RunningProxy } from '../helpers/proxy';

describe('WebSocket', () => {
  let backend: RunningBackend;
  let proxy: RunningProxy;

  before(async () => {
    backend = await startBackend({ id: 'ws1' });
    proxy = await startProxy({ workers: 1, upstreams: { app: { servers: [`127.0.0.1:${backend.port}`] } } });
  });
  after(async () => {
    await proxy?.stop();
    await backend?.stop();
  });

  it('tunnels a WebSocket echo, text and binary', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${proxy.port}/ws`);
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    const next = () => new Promise<{ data: Buffer; binary: boolean }>((r) => ws.once('message', (data: Buffer, binary: boolean) => r({ data, binary })));
    let reply = next();
    ws.send('hello through handoff');
    assert.deepEqual(await reply.then((m) => [m.data.toString(), m.binary]), ['hello through handoff', false]);
    const blob = Buffer.alloc(200_000, 7);
    reply = next();
    ws.send(blob);
    const got = await reply;
    assert.equal(got.binary, true);
    assert.ok(got.data.equals(blob));
    ws.close();
    await new Promise((r) => ws.once('close', r));
  });

  it('passes on the upstream refusing an upgrade', async () => {
    const raw = await rawExchange(proxy.port, 'GET /nope HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n');
    assert.match(raw, /^HTTP\/1\.1 404 /);
  });
});
