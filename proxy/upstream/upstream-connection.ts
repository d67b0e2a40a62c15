// One HTTP/1.1 connection to an upstream server, on a raw net.Socket with llhttp in RESPONSE mode:
// what the proxy has instead of http.Agent + http.request. It carries one exchange at a time and
// reports to that exchange's UpstreamListener; between exchanges it sits idle in its server's pool.
//
// Memory: every read lands in a buffer of the worker's (net's `onread`, read-buffers.ts), not in a
// fresh 64 KiB allocation per read, and a Content-Length body is passed on as slices of that buffer rather than
// through llhttp, which copies every body chunk. Each dead copy is external memory that V8 frees
// only when it next collects, up to 64 MiB later: at 1 GB/s of 1 MiB bodies that kept a worker's
// RSS swinging 30-40 MiB above its idle size. The price is the rule below: a read's bytes may still
// sit in the client's write queue after the read, so the buffer is "lent" until the client has
// flushed them, and the connection neither reads nor goes back to the pool meanwhile. A connection
// takes a buffer of its own at the first read of a response and gives it back once it is idle or
// closed and the buffer is not lent; until then its socket reads into the worker's shared scratch
// buffer, whose bytes are copied out at once, so waiting and idle connections hold no buffer.
//
// This class owns its socket and is the only one that destroys it.
import net from 'node:net';
import { AfterHead } from '../http1/http-parser';
import { UpstreamClosedError, UpstreamPrematureCloseError, UpstreamProtocolError } from './errors';
import { giveReadBuffer, scratch, takeReadBuffer } from './read-buffers';
import { ResponseParser, type ResponseEvents } from './response-parser';

/** What an exchange hears from its upstream connection. */
export interface UpstreamListener {
  onUpstreamConnect(): void;
  /**
   * A final response head (1xx interim responses are dropped here, as nginx does).
   * `contentLength`: the body's length when a Content-Length frames it, else -1 (chunked, or
   * close-delimited).
   */
  onResponseHead(status: number, reason: string, rawHeaders: string[], contentLength: number): void;
  /** A slice of the connection's read buffer: valid until written, never to be kept. */
  onResponseBody(chunk: Buffer): void;
  onResponseEnd(): void;
  /** The connection failed; it is already destroyed. `connecting`: it never connected. */
  onUpstreamError(err: NodeJS.ErrnoException, connecting: boolean): void;
  /** The upstream took the request body bytes it had refused (write() returned false). */
  onUpstreamDrain(): void;
  /** Around each read from the upstream, so the exchange can cork the client for one write. */
  onReadStart(): void;
  /**
   * The read is done. True when none of its bytes wait in the client's write queue; false when
   * some do, and then `free` must be called once they are written (or the client is gone).
   */
  onReadEnd(free: () => void): boolean;
}

export interface ConnectionOwner {
  /** The connection closed or broke while idle or at the end of an exchange: forget it. */
  forget(conn: UpstreamConnection): void;
  /** Its connect completed. */
  connected(conn: UpstreamConnection): void;
}

export class UpstreamConnection implements ResponseEvents {
  readonly socket: net.Socket;
  private readonly parser: ResponseParser;
  /** This connection's read buffer (read-buffers.ts), or null while its socket reads into scratch. */
  private buffer: Buffer | null = null;
  /** Inside onRead: the buffer is in use until the read is done with. */
  private reading = false;
  private listener: UpstreamListener | null = null;
  private connecting = true;
  private dead = false;
  /** Exchanges served so far: a reused connection may have been closed by the upstream meanwhile. */
  exchanges = 0;
  private skipBody = false;
  private keepAlive = false;
  private responded = false;
  private headers: string[] = [];
  /** Bytes of a Content-Length body still to come; llhttp is bypassed while this is above 0. */
  private bodyLeft = 0;
  private executing = false;
  /** The read buffer's bytes are still queued to the client: no reading, no pool. */
  private lent = false;
  private pendingIdle: (() => void) | null = null;
  private strayResponse = false;

  constructor(host: string, port: number, private readonly owner: ConnectionOwner) {
    this.parser = ResponseParser.take(this);
    // The buffer function runs once now and after every read: the next read lands in what it returns.
    this.socket = net.connect({ host, port, onread: { buffer: this.nextReadBuffer, callback: this.onRead } });
    this.socket.setNoDelay(true);
    this.socket.on('connect', () => {
      this.connecting = false;
      this.owner.connected(this);
      this.listener?.onUpstreamConnect();
    });
    this.socket.on('drain', () => this.listener?.onUpstreamDrain());
    this.socket.on('end', () => this.onEnd());
    this.socket.on('error', (err: NodeJS.ErrnoException) => this.fail(err));
    this.socket.on('close', () => {
      if (this.listener !== null) this.fail(new UpstreamClosedError());
      else this.destroy();
      // 'close' never runs inside execute(), so the parser can go back to the pool now.
      this.parser.release();
    });
  }

  get isConnecting(): boolean {
    return this.connecting;
  }

  get usable(): boolean {
    return !this.dead && !this.socket.destroyed;
  }

  /** Starts an exchange: the head goes out now (net buffers it while connecting). */
  begin(listener: UpstreamListener, head: string, noResponseBody: boolean): void {
    this.listener = listener;
    this.exchanges++;
    this.skipBody = noResponseBody;
    this.responded = false;
    this.socket.write(head, 'latin1');
  }

  /** Request body bytes; false = the upstream is not keeping up (wait for onUpstreamDrain). */
  write(data: Buffer | string): boolean {
    return this.socket.write(data, 'latin1');
  }

  /** Writes until uncork() leave in one writev. */
  cork(): void {
    this.socket.cork();
  }

  /** Sends what was corked; false, as write()'s, when the upstream is not keeping up (wait for onUpstreamDrain). */
  uncork(): boolean {
    const socket = this.socket;
    socket.uncork();
    return socket.writableLength < socket.writableHighWaterMark;
  }

  /**
   * The exchange is over. A connection whose response was complete and that the upstream keeps
   * alive may serve another (`onIdle` hands it back to the pool); anything else is closed here, so
   * a half-read response never leaks into the next request. The hand-back waits while llhttp is
   * still inside this connection's read (bytes after the response would otherwise be taken for the
   * next request's answer) and while the read buffer is lent.
   */
  release(reusable: boolean, onIdle: () => void): void {
    this.listener = null;
    if (!reusable || !this.keepAlive || this.dead) {
      this.destroy();
      return;
    }
    if (this.executing || this.lent) this.pendingIdle = onIdle;
    else onIdle();
  }

  /**
   * Gives up a connect still under way: the exchange hears `err` as a connect failure (nothing of
   * its request has left), and the socket is destroyed. A connection already connected is left alone.
   */
  abortConnect(err: NodeJS.ErrnoException): void {
    if (this.connecting && !this.dead) this.fail(err);
  }

  destroy(): void {
    this.listener = null;
    if (this.dead) return;
    this.dead = true;
    this.socket.destroy();
    // Inside a read the buffer is still being handed on: onRead gives it back when it is done.
    if (!this.reading && !this.lent) this.dropBuffer();
    this.owner.forget(this);
  }

  /** The buffer for the next read: this connection's own, or scratch while it has none. */
  private readonly nextReadBuffer = (): Buffer => this.buffer ?? scratch;

  private dropBuffer(): void {
    const buffer = this.buffer;
    if (buffer === null) return;
    this.buffer = null;
    giveReadBuffer(buffer);
  }

  /**
   * net's onread callback: `landed` is the buffer nextReadBuffer gave for this read (this
   * connection's, or scratch); false pauses reading.
   */
  private readonly onRead = (nread: number, landed: Buffer): boolean => {
    const listener = this.listener;
    if (listener === null) {
      // Bytes while idle: nothing was asked, so the stream is out of step. Drop the connection.
      this.fail(new UpstreamProtocolError('upstream sent data on an idle connection'));
      return false;
    }
    let buf = landed;
    if (landed === scratch) {
      buf = this.buffer ??= takeReadBuffer();
      scratch.copy(buf, 0, 0, nread);
    }
    this.reading = true;
    listener.onReadStart();
    this.executing = true;
    const problem = this.consume(buf.subarray(0, nread));
    this.executing = false;
    const free = listener.onReadEnd(this.bufferReturned);
    this.lent = !free;
    this.reading = false;
    if (problem !== null) {
      this.fail(new UpstreamProtocolError(problem));
      return false;
    }
    if (!free) return false;
    const idle = this.pendingIdle;
    this.pendingIdle = null;
    if (idle !== null && !this.dead) idle();
    // Idle (back in the pool, no exchange) or closed: the buffer goes, and the next read, if any,
    // lands in scratch.
    if (this.listener === null) this.dropBuffer();
    return true;
  };

  /** The client has written what it held of the read buffer: read on, or go back to the pool. */
  private readonly bufferReturned = (): void => {
    this.lent = false;
    // Closed meanwhile: nothing reads into the buffer any more. Idle, it stays: the socket still
    // reads into it, until a read lets nextReadBuffer point it elsewhere.
    if (this.dead) {
      this.dropBuffer();
      return;
    }
    const idle = this.pendingIdle;
    this.pendingIdle = null;
    this.socket.resume();
    if (idle !== null) idle();
  };

  /** Parses or forwards one read; returns what was wrong with it, if anything. */
  private consume(data: Buffer): string | null {
    if (this.bodyLeft === 0) {
      const ret = this.parser.execute(data);
      if (typeof ret !== 'number') return `upstream sent an invalid response (${ret.code ?? ret.message})`;
      if (this.strayResponse) return 'upstream sent more than the response';
      if (this.bodyLeft === 0 || ret === data.length || this.dead) return null;
      data = data.subarray(ret); // the head ended inside this read: the rest is body
    }
    const n = Math.min(this.bodyLeft, data.length);
    this.bodyLeft -= n;
    this.listener?.onResponseBody(n === data.length ? data : data.subarray(0, n));
    if (this.bodyLeft > 0 || this.dead) return null;
    this.parser.restart();
    this.endResponse();
    return n < data.length ? 'upstream sent more than the response' : null;
  }

  /** llhttp: a message begins. */
  onMessageBegin(): void {
    // A message that begins after the exchange was released is bytes nobody asked for: the rest
    // of that read would otherwise sit half-parsed in llhttp and pass as the next response's start.
    if (this.listener === null) this.strayResponse = true;
  }

  /** llhttp: part of a head that came over several reads. */
  onHeaders(headers: string[]): void {
    for (const h of headers) this.headers.push(h);
  }

  /** llhttp: body bytes of a chunked or close-delimited response (a copy). */
  onBody(chunk: Buffer): void {
    this.listener?.onResponseBody(chunk);
  }

  /** llhttp: a complete head. */
  onResponseHeadComplete(headers: string[] | undefined, status: number, reason: string, keepAlive: boolean): AfterHead {
    let raw = headers;
    if (raw === undefined) {
      raw = this.headers;
      this.headers = [];
    }
    if (status < 100) {
      // llhttp takes any three digits; no status below 100 exists (nginx: "upstream sent no valid HTTP/1.0 header").
      this.responded = true;
      this.fail(new UpstreamProtocolError(`upstream sent an invalid status ${status}`));
      return AfterHead.Body;
    }
    if (status < 200 && status !== 101) return AfterHead.Body; // interim (100, 103): dropped, the final one follows
    this.responded = true;
    this.keepAlive = keepAlive;
    const listener = this.listener;
    if (listener === null) {
      this.fail(new UpstreamProtocolError('upstream sent a response nobody asked for'));
      return AfterHead.Body;
    }
    if (status === 101) {
      this.fail(new UpstreamProtocolError('upstream switched protocols on a request without Upgrade'));
      return AfterHead.Body;
    }
    const length = contentLength(raw);
    listener.onResponseHead(status, reason, raw, length);
    // No body whatever its headers say: the answer to a HEAD request.
    if (this.skipBody) return AfterHead.NoBody;
    if (length <= 0 || status === 204 || status === 304) return AfterHead.Body;
    // Stop: "no body, and stop here" (node:http's client says the same for an upgrade): llhttp ends
    // the message at the head and execute() returns where the body starts; consume() counts the
    // body out itself, and the parser starts afresh for the next response.
    this.bodyLeft = length;
    return AfterHead.Stop;
  }

  /** llhttp: a message is complete. */
  onMessageComplete(): void {
    this.headers = [];
    if (this.bodyLeft > 0) return; // the head of a body consume() forwards itself
    if (!this.responded) return; // the end of an interim response
    this.endResponse();
  }

  private endResponse(): void {
    this.responded = false;
    this.listener?.onResponseEnd();
  }

  /** EOF from the upstream: completes a close-delimited body, or is a failure. */
  private onEnd(): void {
    if (this.listener !== null && this.responded && this.bodyLeft === 0) {
      const listener = this.listener;
      this.keepAlive = false;
      listener.onReadStart();
      const err = this.parser.finish();
      listener.onReadEnd(nothingLent);
      // A body cut short, or a complete one the exchange did not take the end of.
      if (err || this.listener !== null) this.fail(new UpstreamPrematureCloseError());
      return;
    }
    if (this.listener === null) this.destroy(); // an idle connection the upstream closed: nobody to tell
    else this.fail(this.bodyLeft > 0 ? new UpstreamPrematureCloseError() : new UpstreamClosedError());
  }

  private fail(err: NodeJS.ErrnoException): void {
    const listener = this.listener;
    const wasConnecting = this.connecting;
    this.destroy();
    listener?.onUpstreamError(err, wasConnecting);
  }
}

/** finish() hands over no bytes of the read buffer (a close-delimited body is already out). */
function nothingLent(): void {}

/**
 * The Content-Length of a response llhttp has accepted (it rejects a duplicate or malformed one),
 * or -1 when there is none or Transfer-Encoding frames the body instead.
 */
function contentLength(raw: string[]): number {
  let length = -1;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    if (name.length === 14 && name.toLowerCase() === 'content-length') length = Number(raw[i + 1]);
    else if (name.length === 17 && name.toLowerCase() === 'transfer-encoding') return -1;
  }
  return length;
}
