// A keep-alive client whose answers leave at once is read without a pause between requests. A
// pause costs two epoll_ctl calls (libuv stops and restarts the fd's watcher), and one slipped in
// on every request once the end of an exchange counted its own corked answer as "not yet sent"
// and waited for it to flush (5-10% of a worker's CPU on small keep-alive responses).
// The same for a chunked body that the upstream takes as fast as it comes.
// The front runs here in-process on real sockets, so the test can count the socket's pauses.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Front } from '../../proxy/proxying/front';
import { rawConversation } from '../helpers/http-client';
import { waitFor } from '../helpers/procfs';
import { frontTo, startRawUpstream, type RawUpstream } from '../helpers/raw-upstream';

const REQUESTS = 20;

describe('a keep-alive connection', () => {
  let upstream: RawUpstream;
  let front: Front;
  let server: net.Server;
  let pauses = 0;

  before(async () => {
    upstream = await startRawUpstream((req, socket) => {
      const body = Buffer.from(req.method === 'POST' ? `got ${req.body.length}` : req.path);
      socket.write(Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`), body]));
    });
    front = frontTo(upstream.port);
    server = net.createServer((socket) => {
      const pause = socket.pause.bind(socket);
      socket.pause = () => {
        pauses++;
        return pause();
      };
      front.serve(socket);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });
  after(async () => {
    front?.closeAllConnections();
    front?.closeUpstreams();
    await new Promise((resolve) => server?.close(resolve));
    await upstream?.close();
  });

  const port = (): number => (server.address() as net.AddressInfo).port;

  it(`is not paused between ${REQUESTS} requests whose answers leave at once`, async () => {
    pauses = 0;
    const answers = await rawConversation(port(), async (socket, received) => {
      for (let i = 0; i < REQUESTS; i++) {
        const before = received().length;
        socket.write(`GET /r${i} HTTP/1.1\r\nHost: a\r\n\r\n`);
        await waitFor(`the answer to /r${i}`, () => received().slice(before).endsWith(`/r${i}`), 2_500);
      }
      socket.end();
    });
    assert.equal(answers.match(/HTTP\/1\.1 200 OK/g)?.length, REQUESTS);
    assert.equal(pauses, 0, 'reading was paused between requests');
  });

  it('is not paused for a chunked body whose reads the upstream takes whole', async () => {
    // Each read's chunks go upstream corked into one write; corked bytes once counted as unsent,
    // so every read of 16 KiB or more looked like an upstream not keeping up.
    pauses = 0;
    const chunks = Array.from({ length: 16 }, () => `4000\r\n${'c'.repeat(0x4000)}\r\n`).join('');
    const answer = await rawConversation(port(), async (socket, received) => {
      socket.write(`POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n${chunks}0\r\n\r\n`);
      await waitFor('the upload\'s answer', () => received().endsWith('got 262144'), 2_500);
      socket.end();
    });
    assert.match(answer, /got 262144$/);
    assert.equal(pauses, 0, 'reading was paused for a body the upstream took at once');
  });

  it('is paused while a pipelined request waits its turn (the count above is live)', async () => {
    pauses = 0;
    const answers = await rawConversation(port(), async (socket, received) => {
      socket.write('GET /first HTTP/1.1\r\nHost: a\r\n\r\nGET /second HTTP/1.1\r\nHost: a\r\n\r\n');
      await waitFor('the second answer', () => received().endsWith('/second'), 2_500);
      socket.end();
    });
    assert.equal(answers.match(/HTTP\/1\.1 200 OK/g)?.length, 2);
    assert.ok(pauses > 0, 'reading pauses while a pipelined request waits');
  });
});
