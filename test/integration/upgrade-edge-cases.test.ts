// Upgrade requests the upstream does not turn into a tunnel, and upgrades pipelined behind other
// requests: each client still gets exactly its own answer, complete or visibly cut, never hung.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { rawConversation } from '../helpers/http-client';
import { startProxy, type RunningProxy } from '../helpers/proxy';
import { startRawUpstream, type RawUpstream } from '../helpers/raw-upstream';

const UPGRADE = 'Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n';

describe('upgrade edge cases', () => {
  let upstream: RawUpstream;
  let proxy: RunningProxy;

  before(async () => {
    upstream = await startRawUpstream((req, socket) => {
      if (req.path === '/declined-then-reset') {
        // Declines the upgrade with a 300-byte body, sends 200 bytes of it, then resets.
        socket.write(`HTTP/1.1 200 OK\r\nContent-Length: 300\r\n\r\n${'a'.repeat(200)}`);
        setTimeout(() => socket.resetAndDestroy(), 50);
      } else if (req.path === '/declined-then-silent') {
        socket.write(`HTTP/1.1 200 OK\r\nContent-Length: 300\r\n\r\n${'b'.repeat(100)}`);
      } else if (req.path === '/slow-post') {
        setTimeout(() => socket.write('HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nposted!'), 200);
      }
    });
    proxy = await startProxy({ workers: 1, upstreams: { raw: { servers: [`127.0.0.1:${upstream.port}`] } }, timeouts: { read: '1s' } });
  });
  after(async () => {
    await proxy?.stop();
    await upstream?.close();
  });

  it('a declined upgrade whose body is cut ends the connection without an error page appended', async () => {
    const raw = await rawConversation(proxy.port, async (s) => void s.write(`GET /declined-then-reset HTTP/1.1\r\nHost: x\r\n${UPGRADE}\r\n`), 5_000);
    assert.match(raw, /^HTTP\/1\.1 200 /);
    const body = raw.slice(raw.indexOf('\r\n\r\n') + 4);
    assert.equal(body, 'a'.repeat(200), 'the 200 bytes that came, and nothing else');
  });

  it('a declined upgrade whose upstream goes silent is closed after the read timeout', async () => {
    const started = Date.now();
    const raw = await rawConversation(proxy.port, async (s) => void s.write(`GET /declined-then-silent HTTP/1.1\r\nHost: x\r\n${UPGRADE}\r\n`), 8_000);
    assert.match(raw, /^HTTP\/1\.1 200 /);
    assert.ok(Date.now() - started < 4_000, `closed after ${Date.now() - started} ms, the read timeout is 1 s`);
  });

  it('an upgrade pipelined behind a request in flight leaves that request its own answer', async () => {
    const raw = await rawConversation(proxy.port, async (s) => {
      s.write(`POST /slow-post HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi` + `GET /ws HTTP/1.1\r\nHost: x\r\n${UPGRADE}\r\n`);
    }, 5_000);
    assert.match(raw, /^HTTP\/1\.1 200 /, 'the POST got its 200, not a 400 meant for the upgrade');
    assert.match(raw, /posted!$/);
    assert.equal((raw.match(/HTTP\/1\.1 /g) ?? []).length, 1, 'one response, then the connection closed');
  });
});
