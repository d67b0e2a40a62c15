// A handed-off connection is open in two processes until the worker's ACK reaches the master and
// the master closes its copy. A worker that closes a connection at once after a client's last
// request (client-connection.ts finish()) must still send the FIN then: close() alone sends
// nothing while another process holds the socket, so the client would wait on the master —
// forever, for a close-delimited answer, if the master were stalled.
//
// Here the test process is both: it accepts on a real listener, keeps that fd (the master's copy)
// and passes the socket over a real SOCK_SEQPACKET channel to a Front, which serves the copy
// it received, as a worker does.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { validateConfig } from '../../proxy/config/validate';
import { native } from '../../proxy/handoff/native';
import { encode, MessageType } from '../../proxy/handoff/protocol';
import { Logger } from '../../proxy/observability/logger';
import { Front } from '../../proxy/proxying/front';
import { acceptOne, seqpacketPair } from '../helpers/channels';
import { startRawUpstream, type RawUpstream } from '../helpers/raw-upstream';

/** How the client's connection ended, and when (ms after its response was whole), or 'none' by `waitMs`. */
function lastRequest(port: number, waitMs: number): Promise<{ response: string; ending: string }> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    let response = '';
    const give = (ending: string) => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ response, ending });
    };
    const timer = setTimeout(() => give('none'), waitMs);
    socket.on('data', (d) => (response += d.toString('latin1')));
    socket.on('end', () => give('end'));
    socket.on('error', (err: NodeJS.ErrnoException) => give(err.code ?? 'error'));
    socket.write('GET /last HTTP/1.1\r\nHost: fin.test\r\nConnection: close\r\n\r\n');
  });
}

describe('a worker closing a connection the master still holds', () => {
  let upstream: RawUpstream;
  let dir: string;
  let front: Front;
  let listenFd = -1;
  let port = 0;

  before(async () => {
    upstream = await startRawUpstream((_req, socket) => socket.write('HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nlast'));
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'handoff-fin-'));
    const config = validateConfig(
      { listeners: ['127.0.0.1:1'], upstreams: { u: { servers: [`127.0.0.1:${upstream.port}`] } }, handoff: { dir } },
      null,
    );
    front = new Front(config, new Logger('worker', 'crit'));
    listenFd = native.tcpListen('127.0.0.1', 0, 16, false);
    port = native.localPort(listenFd);
  });

  after(async () => {
    front.closeAllConnections();
    front.closeUpstreams();
    if (listenFd >= 0) native.closeFd(listenFd);
    await upstream.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('sends the FIN right after the last response, while the master copy is still open', async () => {
    const [masterEnd, workerEnd] = await seqpacketPair(dir);
    let workerClosed!: () => void;
    const served = new Promise<void>((resolve) => (workerClosed = resolve));
    const workerChannel = new native.Channel(
      workerEnd,
      (_header, fd) => front.serveFd(fd, workerClosed, true),
      () => {},
      () => {},
    );
    const masterChannel = new native.Channel(masterEnd, () => {}, () => {}, () => {});
    const accepted = acceptOne(listenFd);
    const client = lastRequest(port, 2_000);
    const masterCopy = await accepted;
    try {
      assert.equal(masterChannel.send(encode(MessageType.CONNECTION, 1, 0), masterCopy), 0);
      const { response, ending } = await client;
      assert.match(response, /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nlast$/);
      assert.equal(ending, 'end', 'the client got its FIN although the master copy is open');
      await served; // and the worker's side is closed: nothing left for the master to do but close
    } finally {
      native.closeFd(masterCopy);
      masterChannel.close();
      workerChannel.close();
    }
  });
});
