// An idle keep-alive connection holds no llhttp parser: a connection takes one from the worker's
// pool when a message begins and gives it back once the message is complete and nothing of the
// next one has come, so thousands of idle connections do not each keep Node's ~2 KiB C++ parser.
// One in the middle of a head or a body holds one until that message ends. The front runs here
// in-process on real sockets, and requestParsersHeld() counts the parsers connections hold.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { requestParsersHeld } from '../../proxy/http1/request-parser';
import type { Front } from '../../proxy/proxying/front';
import { waitFor } from '../helpers/procfs';
import { frontTo, startRawUpstream, type RawUpstream } from '../helpers/raw-upstream';

const CLIENTS = 40;

/** A client connection whose received bytes are kept, to wait on. */
interface Client {
  readonly socket: net.Socket;
  received: string;
}

describe('idle keep-alive connections', () => {
  let upstream: RawUpstream;
  let front: Front;
  let server: net.Server;
  const clients: Client[] = [];

  before(async () => {
    upstream = await startRawUpstream((req, socket) => {
      const body = Buffer.from(`${req.path} ${req.body.length}`);
      socket.write(Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`), body]));
    });
    front = frontTo(upstream.port);
    server = net.createServer((socket) => front.serve(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });
  after(async () => {
    for (const c of clients) c.socket.destroy();
    front?.closeAllConnections();
    front?.closeUpstreams();
    await new Promise((resolve) => server?.close(resolve));
    await upstream?.close();
  });

  const connect = async (): Promise<Client> => {
    const socket = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
    const client: Client = { socket, received: '' };
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => (client.received += d));
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    clients.push(client);
    return client;
  };

  it(`hold no parser once each has been answered (${CLIENTS} connections)`, async () => {
    for (let i = 0; i < CLIENTS; i++) {
      const c = await connect();
      c.socket.write(`GET /idle${i} HTTP/1.1\r\nHost: a\r\n\r\n`);
    }
    await waitFor('every answer', () => clients.every((c, i) => c.received.endsWith(`/idle${i} 0`)));
    assert.ok(clients.every((c) => !c.socket.destroyed), 'the connections stay open (keep-alive)');
    assert.equal(requestParsersHeld(), 0);
  });

  it('hold one each while a head or a body is half read, and none once those messages end', async () => {
    const [head, body, chunked] = clients;
    head.socket.write('GET /split HTTP/1.1\r\nHo');
    body.socket.write('POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\n\r\nabc');
    chunked.socket.write('POST /chunks HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n');
    await waitFor('three parsers held', () => requestParsersHeld() === 3);
    head.socket.write('st: a\r\n\r\n');
    body.socket.write('def');
    chunked.socket.write('0\r\n\r\n');
    await waitFor('the three answers', () =>
      head.received.endsWith('/split 0') && body.received.endsWith('/upload 6') && chunked.received.endsWith('/chunks 3'));
    assert.equal(requestParsersHeld(), 0);
  });

  it('serve their next requests after giving their parsers back, pipelined ones too', async () => {
    const c = clients[3];
    c.socket.write('GET /next1 HTTP/1.1\r\nHost: a\r\n\r\nGET /next2 HTTP/1.1\r\nHost: a\r\n\r\n');
    await waitFor('both answers', () => /\/next1 0.*\/next2 0$/s.test(c.received));
    assert.equal(requestParsersHeld(), 0);
  });

  it('give theirs back when a request closes the connection', async () => {
    const c = clients[4];
    c.socket.write('GET /last HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    await new Promise<void>((resolve) => c.socket.once('close', resolve));
    assert.match(c.received, /Connection: close\r\n[\s\S]*\/last 0$/);
    await waitFor('no parser held', () => requestParsersHeld() === 0);
  });
});
