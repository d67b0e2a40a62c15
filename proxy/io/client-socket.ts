// What a ClientConnection needs of its socket, behind one interface with two
// implementations (as node's cluster puts RoundRobinHandle and SharedHandle behind one):
//  - HandleSocket (handle-socket.ts): libuv's TCP handle driven directly, for the fds a listener
//    of ours accepted (handed off by the master, or reuseport). The per-connection path.
//  - NetClientSocket (below): a net.Socket that Node made (the "ipc" transport), or any fd when
//    libuv's bindings are missing.
// Events go to one listener (the connection), not through an EventEmitter.
import type net from 'node:net';

export interface ClientSocketListener {
  /** Bytes read. `chunk` may be a view of a buffer reused by the next read: copy what is kept. */
  onData(chunk: Buffer): void;
  /** The client half-closed (its FIN). */
  onEnd(): void;
  /** The connection is closed and its fd released; never called from inside onData. */
  onClose(): void;
}

export interface ClientSocket {
  readonly remoteAddress: string | undefined;
  /** Bytes given to write() so far (the access log's count). */
  readonly bytesWritten: number;
  /** Bytes written but not yet taken by the kernel, corked ones included. */
  readonly queuedBytes: number;
  /** Neither ended nor closed. */
  readonly writable: boolean;
  readonly closed: boolean;
  /** Strings are latin1 (HTTP heads). */
  write(data: string | Buffer): void;
  /** Writes between cork() and uncork() leave in one writev. */
  cork(): void;
  uncork(): void;
  /** Writes out what is corked now; the uncork() calls still to come are then no-ops. */
  flush(): void;
  /** Calls `done` once everything written so far has left (or the socket closed). Call uncorked. */
  whenFlushed(done: () => void): void;
  pause(): void;
  resume(): void;
  /** FIN once the queue is out; closed when the client's FIN has come too. */
  end(): void;
  /** Closes now; what is queued is dropped. */
  destroy(): void;
  /**
   * Closes a socket whose queue is empty, with a FIN first: a handed-off fd may still be open in
   * the master (its copy goes when the worker's ACK reaches it), and close() alone sends nothing
   * while another process holds the socket.
   */
  closeAfterFin(): void;
  /**
   * Hands the connection to a net.Socket, for a byte tunnel (WebSocket). This object stops
   * reading; its listener's onClose still runs when that socket closes.
   */
  toStream(): net.Socket;
}

export class NetClientSocket implements ClientSocket {
  private corked = 0;

  constructor(
    private readonly socket: net.Socket,
    private readonly listener: ClientSocketListener,
  ) {
    // A client that half-closes after its request still gets its response.
    socket.allowHalfOpen = true;
    socket.on('data', this.onData);
    socket.on('end', () => listener.onEnd());
    socket.on('error', () => socket.destroy());
    socket.on('close', () => listener.onClose());
  }

  private readonly onData = (chunk: Buffer): void => this.listener.onData(chunk);

  get remoteAddress(): string | undefined {
    return this.socket.remoteAddress;
  }

  get bytesWritten(): number {
    return this.socket.bytesWritten;
  }

  get queuedBytes(): number {
    return this.socket.writableLength;
  }

  get writable(): boolean {
    return this.socket.writable;
  }

  get closed(): boolean {
    return this.socket.destroyed;
  }

  write(data: string | Buffer): void {
    if (typeof data === 'string') this.socket.write(data, 'latin1');
    else this.socket.write(data);
  }

  cork(): void {
    this.corked++;
    this.socket.cork();
  }

  uncork(): void {
    if (this.corked === 0) return;
    this.corked--;
    this.socket.uncork();
  }

  flush(): void {
    while (this.corked > 0) this.uncork();
  }

  whenFlushed(done: () => void): void {
    const socket = this.socket;
    if (socket.destroyed || socket.writableLength === 0) return done();
    if (!socket.writableEnded) {
      // Writes complete in order: the callback of an empty one runs when all before it are out.
      socket.write(EMPTY, () => done());
      return;
    }
    // Ended: 'finish' once the queue is out, 'close' if never.
    const once = (): void => {
      socket.off('finish', once);
      socket.off('close', once);
      done();
    };
    socket.on('finish', once);
    socket.on('close', once);
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  end(): void {
    this.flush();
    this.socket.end();
  }

  closeAfterFin(): void {
    this.socket.destroySoon(); // end() then destroy(): Node sends the FIN itself
  }

  destroy(): void {
    this.socket.destroy();
  }

  toStream(): net.Socket {
    this.socket.removeListener('data', this.onData);
    this.socket.pause();
    return this.socket;
  }
}

const EMPTY = Buffer.alloc(0);
