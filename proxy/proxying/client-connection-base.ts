// The socket side of a client connection (client-connection.ts is the HTTP/1 side): its one
// state and the deadline that state runs, reading paused and resumed, clientSend on the tail of
// the last answer, closing, and the access log line. It owns the client socket: only it ends or
// destroys it (the tunnel, once handed over).
import type { ParsedRequest } from '../http1/parsed-request';
import type { ClientSocket, ClientSocketListener } from '../io/client-socket';
import type { AccessLog, UpstreamAttempt } from '../observability/access-log';
import type { ClientPause } from './client-pause';
import { ClientSendWatch } from './client-send-watch';
import { ConnState, illegalMove, isClosing } from './connection-state';
import type { Sweepable } from './deadline-sweeper';
import { closeLingerMs, type ProxyContext } from './proxy-context';
import type { Router } from './router';

/** What a client connection needs of the front that serves it (front.ts). */
export interface ConnectionFront {
  readonly ctx: ProxyContext;
  readonly router: Router;
  readonly accessLog: AccessLog | null;
  /** The Connection/Keep-Alive lines of every response on a connection that stays open. */
  readonly keepAliveLines: string;
  /** The Connection: close line of a response that ends its connection (with the worker's header). */
  readonly closeLines: string;
  /** Draining: responses say Connection: close and connections end after them. */
  readonly closing: boolean;
  /** Requests taken, answered by an upstream or here. */
  requestsServed: number;
  track(conn: ClientConnectionBase): void;
  /** The connection closed, or became a tunnel (which keeps its own timeout). */
  untrack(conn: ClientConnectionBase): void;
}

export abstract class ClientConnectionBase implements Sweepable, ClientSocketListener {
  deadline = 0;
  readonly socket: ClientSocket;
  protected state = ConnState.ReadingHead;
  protected pauseBits = 0;
  /**
   * A whenFlushed wait for the last response is pending. Not a state of its own: it begins in
   * Flushing and may outlast it when the connection starts closing meanwhile.
   */
  protected flushPending = false;
  /** Inside parser.execute() of a client read. */
  protected parsing = false;
  /** What runs when that read is done with (atReadEnd). */
  protected readEnds: Array<() => void> | null = null;
  /** clientSend (nginx's send_timeout), for the exchange's response and for its tail. */
  readonly sendWatch: ClientSendWatch;
  /** Whether the peer is one of realIp's trusted proxies; undefined until a request asks. */
  private peerTrusted: boolean | undefined = undefined;
  /** When the connection last became idle (opened, or its last response ended): closeIdle's grace. */
  idleSince = Date.now();

  /** `open` makes the socket with this connection as its listener (and may throw: nothing is tracked yet then). */
  constructor(
    readonly front: ConnectionFront,
    open: (listener: ClientSocketListener) => ClientSocket,
  ) {
    const socket = open(this);
    this.socket = socket;
    this.sendWatch = new ClientSendWatch(socket, front.ctx.log);
    this.deadline = Date.now() + front.ctx.timeouts.clientHeader;
  }

  abstract onData(chunk: Buffer): void;
  abstract onEnd(): void;
  abstract onClose(): void;
  /** Nothing of a request is unread or waiting: closing at once cannot reset a request. */
  protected abstract allRead(): boolean;
  /** client_header_timeout passed (ReadingHead). */
  protected abstract headTimedOut(): void;
  /** client_body_timeout passed (ReadingBody). */
  protected abstract bodyTimedOut(): void;
  /** Fires the deadline of the exchange under way, if any has passed. */
  protected abstract checkExchange(now: number): void;
  /** The deadline of the exchange under way; 0 = none. */
  protected abstract exchangeDeadline(): number;

  nextDeadline(): number {
    const own = this.deadline;
    const exchange = this.exchangeDeadline();
    return own === 0 ? exchange : exchange === 0 ? own : Math.min(own, exchange);
  }

  check(now: number): void {
    if (this.deadline !== 0 && now >= this.deadline) this.onDeadline();
    this.checkExchange(now);
  }

  /** The state's deadline passed (it fires once: a state that waits on goes on with a new one). */
  private onDeadline(): void {
    this.deadline = 0;
    switch (this.state) {
      case ConnState.ReadingHead:
        return this.headTimedOut();
      case ConnState.ReadingBody:
        return this.bodyTimedOut();
      default:
        // Flushing, keep-alive or closing: a client still taking the last answer gets its clientSend.
        if (!this.stillSending()) this.destroy();
    }
  }

  /** Bytes written to the client so far, for the access log only (net's getter walks the write queue). */
  bytesSent(): number {
    return this.front.accessLog === null ? 0 : this.socket.bytesWritten;
  }

  /**
   * The client address of `req` (nginx's $remote_addr): the TCP peer's, or with realIp and a
   * trusted peer, the one its header names. Worked out once per request, and only with realIp.
   */
  clientAddress(req: ParsedRequest): string | undefined {
    const peer = this.socket.remoteAddress;
    const realIp = this.front.ctx.realIp;
    if (realIp === null || peer === undefined) return peer;
    if (req.clientAddress !== null) return req.clientAddress;
    this.peerTrusted ??= realIp.trusts(peer);
    return (req.clientAddress = this.peerTrusted ? realIp.clientAddress(peer, req.rawHeaders) : peer);
  }

  logRequest(req: ParsedRequest, status: number, bytes: number, upstreams: readonly UpstreamAttempt[] = []): void {
    if (!req.accessLogged || this.front.accessLog === null) return;
    this.front.accessLog.record({
      remoteAddress: this.clientAddress(req),
      requestLine: `${req.method} ${req.url} HTTP/1.${req.versionMinor}`,
      status,
      bytesSent: bytes,
      referer: req.t.referer,
      userAgent: req.t.userAgent,
      startedAt: req.startedAt,
      upstreams,
    });
  }

  /**
   * Runs `end` once the read being parsed is done with, and says so; false outside a read. (The
   * exchange uncorks its upstream there: a read's request body leaves in one write.)
   */
  atReadEnd(end: () => void): boolean {
    if (!this.parsing) return false;
    (this.readEnds ??= []).push(end);
    return true;
  }

  protected endRead(): void {
    const ends = this.readEnds!;
    this.readEnds = null;
    try {
      for (const end of ends) end();
    } catch (err) {
      this.handlingFailed(err);
    }
  }

  /** A bug of ours met this connection: it is closed, the worker and its other clients go on. */
  protected handlingFailed(err: unknown): void {
    // One line, the stack's frames after the message: a log reader greps lines, not paragraphs.
    const stack = String((err as Error).stack ?? err).split('\n').map((line) => line.trim()).join(' ');
    this.front.ctx.log.error(`request handling failed, so the connection is closed: ${stack}`);
    this.destroy();
  }

  /** No more requests are taken. */
  protected get closing(): boolean {
    return isClosing(this.state);
  }

  /**
   * The one place the state changes: checks the move, and sets the deadline the new state runs
   * (ClosingAfterAnswer keeps the one it had: a flush's clientSend goes on). A move that cannot
   * happen is a bug of ours: that connection is closed, not the worker.
   */
  protected enter(next: ConnState): void {
    const from = this.state;
    if (from === ConnState.Closed) return;
    const illegal = illegalMove(from, next);
    if (illegal !== null) return this.handlingFailed(new Error(illegal));
    this.state = next;
    const t = this.front.ctx.timeouts;
    switch (next) {
      case ConnState.ReadingHead:
        this.deadline = Date.now() + t.clientHeader;
        break;
      case ConnState.ReadingBody:
        this.deadline = this.pauseBits === 0 ? Date.now() + t.clientBody : 0;
        break;
      case ConnState.Flushing:
        this.deadline = Date.now() + t.clientSend;
        break;
      case ConnState.IdleKeepAlive:
        this.deadline = Date.now() + t.keepAlive;
        break;
      case ConnState.ClosingAfterAnswer:
        break;
      case ConnState.ClosingAfterFin:
        this.deadline = Date.now() + closeLingerMs(this.front.ctx);
        break;
      default:
        this.deadline = 0;
    }
  }

  /** Another clientSend on the tail of the last answer, in whichever state waits on it. */
  protected armSendDeadline(): void {
    this.deadline = Date.now() + this.front.ctx.timeouts.clientSend;
  }

  /**
   * While the client is not read, client_body_timeout does not run (nginx runs it only while it
   * waits to read): an upstream that takes the body slowly is the send timeout's business.
   */
  pauseReading(bit: ClientPause): void {
    this.pauseBits |= bit;
    this.socket.pause();
    if (this.state === ConnState.ReadingBody) this.deadline = 0;
  }

  resumeReading(bit: ClientPause): void {
    if ((this.pauseBits & bit) === 0) return;
    this.pauseBits &= ~bit;
    if (this.pauseBits !== 0 || this.closing) return;
    this.socket.resume();
    if (this.state === ConnState.ReadingBody) this.deadline = Date.now() + this.front.ctx.timeouts.clientBody;
  }

  /**
   * An idle (or finished) connection whose last response is still leaving: that wait is the
   * client's, so it gets clientSend at a time for as long as it takes some bytes, as the
   * exchange gave it while the response was streaming (nginx's send_timeout).
   */
  private stillSending(): boolean {
    if (this.socket.queuedBytes === 0) return false;
    if (!this.sendWatch.watching) this.sendWatch.start();
    else if (!this.sendWatch.tookBytes()) {
      this.sendWatch.timedOut('');
      return false;
    }
    this.armSendDeadline();
    return true;
  }

  /**
   * Takes no more requests and ends the connection once what was written is flushed. When the
   * request answered was the client's last (`clientClosing`: Connection: close, or HTTP/1.0), the
   * socket is closed at once, as nginx does, rather than shutdown() and a wait for the client's
   * FIN (a syscall, an EOF read, an epoll change and a loop turn fewer per connection) — but only
   * with all of the request read and the response all in the kernel: close() with unread bytes
   * sends a reset, which can cost the client its response.
   */
  protected finish(clientClosing = false): void {
    if (this.state === ConnState.Closed) return;
    const socket = this.socket;
    if (clientClosing && this.allRead()) {
      socket.flush(); // as end() would, so the writev happens now
      if (socket.queuedBytes === 0) {
        socket.closeAfterFin();
        this.enter(ConnState.Closed);
        return;
      }
    }
    socket.end();
    // The client is expected to close its side now; one that does not is cut off after a while.
    this.enter(ConnState.ClosingAfterFin);
  }

  destroy(): void {
    this.enter(ConnState.Closed);
    this.socket.destroy();
  }
}
