// One HTTP/1.1 connection to an upstream server, on a raw net.Socket with llhttp in RESPONSE mode:
// the fast path's replacement for http.Agent + http.request. It carries one exchange at a time and
// reports to that exchange's UpstreamListener; between exchanges it sits idle in its server's pool.
//
// This class owns its socket and is the only one that destroys it.
import net from 'node:net';
import { loadHttpParser, type HttpParser } from '../worker/llhttp';

/** What an exchange hears from its upstream connection. */
export interface UpstreamListener {
  onUpstreamConnect(): void;
  /** A final response head (1xx interim responses are dropped here, as nginx does). */
  onResponseHead(status: number, reason: string, rawHeaders: string[], keepAlive: boolean): void;
  onResponseBody(chunk: Buffer): void;
  onResponseEnd(): void;
  /** The connection failed; it is already destroyed. `connecting`: it never connected. */
  onUpstreamError(err: NodeJS.ErrnoException, connecting: boolean): void;
  onUpstreamDrain(): void;
  /** Around each read from the upstream, so the exchange can cork the client for one write. */
  onReadStart(): void;
  onReadEnd(): void;
}

export interface ConnectionOwner {
  /** The connection closed or broke while idle or at the end of an exchange: forget it. */
  forget(conn: UpstreamConnection): void;
}

export class UpstreamConnection {
  readonly socket: net.Socket;
  private readonly parser: HttpParser;
  private listener: UpstreamListener | null = null;
  private connecting = true;
  private dead = false;
  /** Exchanges served so far: a reused connection may have been closed by the upstream meanwhile. */
  exchanges = 0;
  private skipBody = false;
  private keepAlive = false;
  private responded = false;
  private headers: string[] = [];
  private executing = false;
  private pendingIdle: (() => void) | null = null;
  private strayResponse = false;

  constructor(host: string, port: number, private readonly owner: ConnectionOwner) {
    const Parser = loadHttpParser()!;
    this.parser = new Parser();
    this.parser.initialize(Parser.RESPONSE, this, 0, Parser.kLenientNone);
    this.parser[Parser.kOnHeaders] = (headers: string[]) => this.onHeaders(headers);
    this.parser[Parser.kOnHeadersComplete] = (_maj: number, _min: number, headers: string[] | undefined, _m: unknown, _u: unknown, status: number, reason: string, _up: boolean, keepAlive: boolean) =>
      this.onHeadersComplete(headers, status, reason, keepAlive);
    this.parser[Parser.kOnBody] = (chunk: Buffer) => this.listener?.onResponseBody(chunk);
    this.parser[Parser.kOnMessageComplete] = () => this.onMessageComplete();
    // A message that begins after the exchange was released is bytes nobody asked for: the rest
    // of that read would otherwise sit half-parsed in llhttp and pass as the next response's start.
    this.parser[Parser.kOnMessageBegin] = () => {
      if (this.listener === null) this.strayResponse = true;
    };

    this.socket = net.connect({ host, port });
    this.socket.setNoDelay(true);
    this.socket.on('connect', () => {
      this.connecting = false;
      this.listener?.onUpstreamConnect();
    });
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('drain', () => this.listener?.onUpstreamDrain());
    this.socket.on('end', () => this.onEnd());
    this.socket.on('error', (err: NodeJS.ErrnoException) => this.fail(err));
    this.socket.on('close', () => {
      this.fail(Object.assign(new Error('upstream closed the connection'), { code: 'ECONNRESET' }));
      // 'close' never runs inside execute(), so the C++ parser can go now.
      this.parser.close();
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

  /**
   * The exchange is over. A connection whose response was complete and that the upstream keeps
   * alive may serve another (`onIdle` hands it back to the pool); anything else is closed here, so
   * a half-read response never leaks into the next request. While llhttp is still inside this
   * connection's read, the hand-back waits until that read is parsed to its end: bytes after the
   * response would otherwise be taken for the next request's answer.
   */
  release(reusable: boolean, onIdle: () => void): void {
    this.listener = null;
    if (!reusable || !this.keepAlive || this.dead) {
      this.destroy();
      return;
    }
    this.socket.resume(); // in case the exchange paused it for the client's backpressure
    if (this.executing) this.pendingIdle = onIdle;
    else onIdle();
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  destroy(): void {
    this.listener = null;
    if (this.dead) return;
    this.dead = true;
    this.socket.destroy();
    this.owner.forget(this);
  }

  private onData(chunk: Buffer): void {
    const listener = this.listener;
    if (listener === null) {
      // Bytes while idle: nothing was asked, so the stream is out of step. Drop the connection.
      this.fail(Object.assign(new Error('upstream sent data on an idle connection'), { code: 'EPROTO' }));
      return;
    }
    listener.onReadStart();
    this.executing = true;
    const ret = this.parser.execute(chunk);
    this.executing = false;
    listener.onReadEnd();
    if (typeof ret !== 'number') {
      this.fail(Object.assign(new Error(`upstream sent an invalid response (${ret.code ?? ret.message})`), { code: 'EPROTO' }));
    } else if (this.strayResponse) {
      this.fail(Object.assign(new Error('upstream sent more than the response'), { code: 'EPROTO' }));
    }
    const idle = this.pendingIdle;
    this.pendingIdle = null;
    if (idle !== null && !this.dead) idle();
  }

  private onHeaders(headers: string[]): void {
    for (const h of headers) this.headers.push(h);
  }

  private onHeadersComplete(headers: string[] | undefined, status: number, reason: string, keepAlive: boolean): number {
    let raw = headers;
    if (raw === undefined) {
      raw = this.headers;
      this.headers = [];
    }
    if (status < 200 && status !== 101) return 0; // interim (100, 103): dropped, the final one follows
    this.responded = true;
    this.keepAlive = keepAlive;
    const listener = this.listener;
    if (listener === null) {
      this.fail(Object.assign(new Error('upstream sent a response nobody asked for'), { code: 'EPROTO' }));
      return 0;
    }
    if (status === 101) {
      this.fail(Object.assign(new Error('upstream switched protocols on a request without Upgrade'), { code: 'EPROTO' }));
      return 0;
    }
    listener.onResponseHead(status, reason, raw, keepAlive);
    // 1 tells llhttp the response has no body whatever its headers say (a HEAD request's answer).
    return this.skipBody ? 1 : 0;
  }

  private onMessageComplete(): void {
    this.headers = [];
    if (!this.responded) return; // the end of an interim response
    this.responded = false;
    this.listener?.onResponseEnd();
  }

  /** EOF from the upstream: completes a close-delimited body, or is a failure. */
  private onEnd(): void {
    if (this.listener !== null && this.responded) {
      const listener = this.listener;
      this.keepAlive = false;
      listener.onReadStart();
      const err = this.parser.finish();
      listener.onReadEnd();
      if (err) this.fail(Object.assign(new Error('upstream prematurely closed connection'), { code: 'ECONNRESET' }));
      else if (this.listener !== null) this.fail(Object.assign(new Error('upstream prematurely closed connection'), { code: 'ECONNRESET' }));
      return;
    }
    this.fail(Object.assign(new Error('upstream closed the connection'), { code: 'ECONNRESET' }));
  }

  private fail(err: NodeJS.ErrnoException): void {
    const listener = this.listener;
    const wasConnecting = this.connecting;
    this.destroy();
    listener?.onUpstreamError(err, wasConnecting);
  }
}
