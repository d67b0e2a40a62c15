// A client connection driven straight on libuv's TCP handle, as node:net drives it underneath,
// without net.Socket's streams. The socket for every fd a listener of ours accepted.
//
// Why: per connection, net.Socket builds a Duplex (two stream states, an EventEmitter, listener
// arrays, nextTicks at open, end and close) that the proxy never uses as a stream. A minimal
// server here answering one request per connection costs 49-60 µs of CPU per connection on a
// net.Socket and 26-30 µs on the bare handle (wrk, Connection: close, same syscalls: the
// difference is the JS and the garbage collection). Keep-alive connections pay it once, but
// a new connection per request pays it every time.
//
// What it keeps of net.Socket's rules:
//  - writes reach libuv in order; cork() gathers them into one writev;
//  - one owner closes the fd: destroy() (once), through uv_close; onClose runs after it;
//  - FIN (end) goes out after what is queued, and the connection closes once both sides have
//    sent theirs (the client may half-close first: its FIN is reported and the answer still goes);
//  - reads land in the worker's shared buffer: the listener copies what it keeps;
//  - a tunnel gets a real net.Socket on the same handle (toStream).
import net from 'node:net';
import { native } from '../handoff/native';
import type { ClientSocket, ClientSocketListener } from './client-socket';
import { libuvBindings, openTcpHandle, type LibuvBindings, type TcpHandle, type WriteRequest } from './libuv-bindings';

/** A write libuv could not finish at once: its data is kept alive until it completes. */
interface PendingWrite extends WriteRequest {
  owner: HandleSocket;
  seq: number;
  data: string | Buffer | Array<string | Buffer>;
}

/** The handle, with the socket its reads go to (one onread function for every handle, not a closure each). */
interface OwnedHandle extends TcpHandle {
  owner: HandleSocket;
}

interface FlushWaiter {
  seq: number;
  done: () => void;
}

export class HandleSocket implements ClientSocket {
  bytesWritten = 0;
  closed = false;
  private ended = false;
  private eof = false;
  private shutDown = false;
  private reading = false;
  private corked = 0;
  private corkedChunks: Array<string | Buffer> | null = null;
  private corkedBytes = 0;
  /** Sequence numbers of writes libuv queued; they complete in order. */
  private lastQueued = 0;
  private lastCompleted = 0;
  private waiters: FlushWaiter[] | null = null;
  private stream: net.Socket | null = null;
  private peer: string | undefined;

  /**
   * A HandleSocket on `fd`, reading into `readBuffer`; null when libuv's bindings are missing.
   * Throws if the fd cannot be opened (the caller still owns it then).
   */
  static open(fd: number, readBuffer: Buffer, listener: ClientSocketListener, handedOff: boolean): HandleSocket | null {
    const handle = openTcpHandle(fd);
    return handle === null ? null : new HandleSocket(handedOff ? fd : -1, handle, libuvBindings()!, readBuffer, listener);
  }

  private constructor(
    /** The fd, when the master may still hold a copy of it (closeAfterFin); else -1. */
    private readonly sharedFd: number,
    private readonly handle: TcpHandle,
    private readonly uv: LibuvBindings,
    private readonly readBuffer: Buffer,
    private readonly listener: ClientSocketListener,
  ) {
    handle.useUserBuffer(readBuffer);
    (handle as OwnedHandle).owner = this;
    handle.onread = onHandleRead;
    this.resume();
  }

  get remoteAddress(): string | undefined {
    if (this.peer === undefined && !this.closed) {
      const out: { address?: string } = {};
      if (this.handle.getpeername(out) === 0) this.peer = out.address;
    }
    return this.peer;
  }

  get queuedBytes(): number {
    return this.closed ? 0 : this.corkedBytes + this.handle.writeQueueSize;
  }

  get writable(): boolean {
    return !this.ended && !this.closed;
  }

  /** libuv read into readBuffer (or hit EOF or an error): nread is in streamBaseState. */
  onRead(): void {
    const nread = this.uv.streamBaseState[this.uv.kReadBytesOrError];
    if (nread > 0) {
      this.listener.onData(this.readBuffer.subarray(0, nread));
    } else if (nread === this.uv.UV_EOF) {
      this.eof = true;
      this.reading = false;
      if (this.shutDown) this.destroy();
      else this.listener.onEnd();
    } else if (nread < 0) {
      this.destroy(); // ECONNRESET and the like
    }
  }

  pause(): void {
    if (!this.reading || this.closed) return;
    this.reading = false;
    this.handle.readStop();
  }

  resume(): void {
    if (this.reading || this.closed || this.eof || this.stream !== null) return;
    this.reading = true;
    if (this.handle.readStart() !== 0) this.destroy();
  }

  write(data: string | Buffer): void {
    if (this.closed) return;
    this.bytesWritten += data.length;
    if (this.corked > 0) {
      (this.corkedChunks ??= []).push(data);
      this.corkedBytes += data.length;
      return;
    }
    this.dispatch(data);
  }

  cork(): void {
    this.corked++;
  }

  uncork(): void {
    if (this.corked === 0) return;
    if (--this.corked === 0) this.flush();
  }

  /** Writes out what is corked now; uncork() calls still to come are then no-ops. */
  flush(): void {
    this.corked = 0;
    const chunks = this.corkedChunks;
    if (chunks === null || this.closed) return;
    this.corkedChunks = null;
    this.corkedBytes = 0;
    if (chunks.length === 1) return this.dispatch(chunks[0]);
    let allBuffers = true;
    for (const chunk of chunks) if (typeof chunk === 'string') allBuffers = false;
    let args = chunks;
    if (!allBuffers) {
      args = new Array<string | Buffer>(chunks.length * 2);
      for (let i = 0; i < chunks.length; i++) {
        args[2 * i] = chunks[i];
        args[2 * i + 1] = 'latin1';
      }
    }
    const req = new this.uv.WriteWrap() as PendingWrite;
    this.afterDispatch(req, this.handle.writev(req, args, allBuffers), args);
  }

  private dispatch(data: string | Buffer): void {
    const req = new this.uv.WriteWrap() as PendingWrite;
    const err = typeof data === 'string' ? this.handle.writeLatin1String(req, data) : this.handle.writeBuffer(req, data);
    this.afterDispatch(req, err, data);
  }

  private afterDispatch(req: PendingWrite, err: number, data: PendingWrite['data']): void {
    if (err !== 0) return this.destroy(); // EPIPE, ECONNRESET: the client is gone
    if (this.uv.streamBaseState[this.uv.kLastWriteWasAsync] === 0) return;
    // libuv holds pointers into `data` until the write completes.
    req.handle = this.handle;
    req.owner = this;
    req.seq = ++this.lastQueued;
    req.data = data;
    req.oncomplete = onWriteComplete;
  }

  /** A queued write finished (writes complete in the order they were queued). */
  onWriteDone(seq: number, status: number): void {
    if (this.closed) return;
    this.lastCompleted = seq;
    if (status < 0) return this.destroy();
    const waiters = this.waiters;
    while (waiters !== null && waiters.length > 0 && waiters[0].seq <= seq) waiters.shift()!.done();
  }

  whenFlushed(done: () => void): void {
    this.flush(); // corked chunks are not written yet either
    if (this.closed || this.lastCompleted === this.lastQueued) return done();
    (this.waiters ??= []).push({ seq: this.lastQueued, done });
  }

  end(): void {
    if (this.ended || this.closed) return;
    this.ended = true;
    this.flush();
    if (this.closed) return;
    // uv_shutdown waits for the writes queued before it, then sends the FIN.
    const req = new this.uv.ShutdownWrap();
    req.handle = this.handle;
    req.oncomplete = (status: number) => this.afterShutdown(status);
    if (this.handle.shutdown(req) !== 0) this.destroy();
  }

  private afterShutdown(status: number): void {
    this.shutDown = true;
    if (this.closed) return;
    if (status < 0 || this.eof) this.destroy();
  }

  closeAfterFin(): void {
    if (this.closed || this.stream !== null) return this.destroy();
    // ENOTCONN (the client reset): nothing to send, close anyway. Without another copy (reuseport),
    // close() sends the FIN itself.
    if (this.sharedFd >= 0) native.shutdownWrite(this.sharedFd);
    this.destroy();
  }

  destroy(): void {
    if (this.stream !== null) {
      this.stream.destroy();
      return;
    }
    if (this.closed) return;
    this.closed = true;
    this.reading = false;
    this.corkedChunks = null;
    this.corkedBytes = 0;
    this.handle.close(() => this.afterClose());
  }

  private afterClose(): void {
    // Nothing queued will be written now: whoever waits for the queue may reuse what it lent.
    const waiters = this.waiters;
    this.waiters = null;
    if (waiters !== null) for (const w of waiters) w.done();
    this.listener.onClose();
  }

  toStream(): net.Socket {
    // A net.Socket on a closing handle would never emit 'close' (uv_close does not run twice).
    if (this.closed || this.eof) throw new Error('toStream() on a socket that is closed or at EOF');
    this.pause();
    const buffer = this.readBuffer;
    // net reads into the worker's buffer as before (it calls useUserBuffer again); a tunnel keeps
    // its bytes beyond the read, so it gets a copy of each, the way net would have read them.
    const socket: net.Socket = new net.Socket({
      handle: this.handle,
      readable: true,
      writable: true,
      manualStart: true,
      onread: { buffer, callback: (nread: number) => socket.push(Buffer.from(buffer.subarray(0, nread))) },
    } as net.SocketConstructorOpts);
    socket.allowHalfOpen = true;
    socket.pause();
    this.stream = socket;
    socket.on('close', () => {
      this.closed = true;
      this.afterClose();
    });
    return socket;
  }
}

function onHandleRead(this: TcpHandle): void {
  (this as OwnedHandle).owner.onRead();
}

function onWriteComplete(this: PendingWrite, status: number): void {
  this.data = '';
  this.owner.onWriteDone(this.seq, status);
}
