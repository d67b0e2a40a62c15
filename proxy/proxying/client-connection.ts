// One client connection: requests parsed straight off the socket (RequestParser: Node's llhttp,
// strict), proxied one at a time in arrival order, responses written through its HTTP/1 sink.
//  - pipelining: a request whose head arrives while another is in flight waits in `queue` (with
//    what arrived of its body) and the socket stops being read until its turn, so the memory it
//    can take is bounded by one read;
//  - timeouts (one shared sweep, see deadline-sweeper.ts): client_header_timeout from the first
//    byte of a head (or from the connection), client_body_timeout between body reads,
//    keepalive_timeout between requests (the socket side runs them: client-connection-base.ts);
//  - malformed input: 400 (414 or 431 for a head too large, 408 for a head too slow), then close;
//  - Upgrade: the socket leaves this class for proxyUpgrade's tunnel.
// Its state is one ConnState (connection-state.ts), changed only by enter() (on the socket side,
// client-connection-base.ts, which owns the socket), which also sets the deadline that state runs.
import { tunnelsUpgrade } from '../http1/headers';
import type { ParsedRequest } from '../http1/parsed-request';
import { RequestParser, type ParseResult, type RequestListener } from '../http1/request-parser';
import type { ClientSocket, ClientSocketListener } from '../io/client-socket';
import { ClientConnectionBase, type ConnectionFront } from './client-connection-base';
import { ClientPause } from './client-pause';
import { Http1ResponseSink } from './http1-response-sink';
import { ConnState } from './connection-state';
import { ProxyExchange, type ExchangeClient } from './proxy-exchange';
import { proxyUpgrade } from './proxy-upgrade';
import { admit } from './request-admission';

export type { ConnectionFront } from './client-connection-base';

export class ClientConnection extends ClientConnectionBase implements RequestListener, ExchangeClient {
  /** Held only while a message is being read (RequestParser.take to release): idle, none. */
  private parser: RequestParser | null = null;
  /** Every response of this connection goes out through it (HTTP/1 framing). */
  readonly sink: Http1ResponseSink;
  private current: ProxyExchange | null = null;
  /** The request whose body llhttp is delivering now. */
  private reading: ParsedRequest | null = null;
  /** That request's exchange, once it has started (until then its body is buffered on it). */
  private readingExchange: ProxyExchange | null = null;
  private readonly queue: ParsedRequest[] = [];
  private headPending = false;
  /** The client's FIN has arrived. */
  private clientEnded = false;
  /** The head that asked to upgrade (state Upgrading), until the end of its read hands it over. */
  private upgradeRequest: ParsedRequest | null = null;

  /**
   * `open` makes the socket with this connection as its listener (and may throw: nothing is
   * tracked yet then). `onClosed` runs once the socket has closed.
   */
  constructor(
    front: ConnectionFront,
    open: (listener: ClientSocketListener) => ClientSocket,
    private readonly onClosed: (() => void) | null,
  ) {
    super(front, open);
    this.sink = new Http1ResponseSink(this.socket, front, this);
    front.track(this);
  }

  protected allRead(): boolean {
    return this.reading === null && !this.headPending && this.queue.length === 0 && this.upgradeRequest === null;
  }

  /** Between requests, with nothing half-received: safe to close for a graceful shutdown. */
  get idle(): boolean {
    return this.current === null && !this.flushPending && this.queue.length === 0 && !this.headPending && this.upgradeRequest === null;
  }

  onData(chunk: Buffer): void {
    if (this.closing) return; // whatever else the client sends is not read
    let ret: ParseResult | null = null;
    const parser = (this.parser ??= RequestParser.take(this));
    this.parsing = true;
    try {
      ret = parser.execute(chunk);
    } catch (err) {
      this.handlingFailed(err);
    }
    this.parsing = false;
    if (this.readEnds !== null) this.endRead();
    if (ret === null || this.socket.closed) return;
    if (typeof ret !== 'number') {
      this.clientError(`${ret.code ?? ret.message}`, parser.errorStatus(ret));
      return;
    }
    if (parser.atRest) this.releaseParser();
    const upgrade = this.upgradeRequest;
    // A copy: the read buffer may be the worker's, reused by the next read of any client.
    if (upgrade !== null) this.startUpgrade(upgrade, Buffer.from(chunk.subarray(ret)));
  }

  peerAddress(): string | undefined {
    return this.socket.remoteAddress;
  }

  private releaseParser(): void {
    this.parser?.release();
    this.parser = null;
  }

  onHeadBegin(): void {
    this.headPending = true;
    // A head that begins behind a request being answered waits its turn, and the client may not
    // be read meanwhile: its clientHeader starts when it gets its turn (takeNext), as nginx's
    // client_header_timeout starts for a pipelined request only when it gets to it.
    if (this.current !== null || this.flushPending || this.closing) return;
    this.enter(ConnState.ReadingHead);
  }

  onRequest(req: ParsedRequest, upgrade: boolean): boolean {
    this.headPending = false;
    if (this.closing) return false;
    if (upgrade && (req.method === 'CONNECT' || tunnelsUpgrade(req.t.upgrade, this.front.ctx.upgrades))) {
      this.upgradeRequest = req; // llhttp stops after this head; onData hands the socket over
      this.enter(ConnState.Upgrading);
      return true;
    }
    // Served as a plain request. With a body, llhttp would parse it with its upgrade flag set,
    // which hides parse errors (request-parser.ts restart()): refused; upgrades with bodies are rare.
    if (upgrade && req.hasBody) {
      // Behind requests in flight: they keep their answers, then the connection closes.
      if (this.current !== null || this.queue.length > 0) this.enter(ConnState.ClosingAfterAnswer);
      else {
        this.front.requestsServed++;
        this.answerLocally(req, 400, true);
      }
      return false;
    }
    this.reading = req;
    this.readingExchange = null;
    if (this.current === null && !this.flushPending && this.queue.length === 0) {
      this.enter(req.hasBody ? ConnState.ReadingBody : ConnState.WaitingUpstream);
      this.startRequest(req);
    } else {
      // Pipelined: it waits its turn, and the client is not read meanwhile (so no timeout runs).
      this.queue.push(req);
      this.pauseReading(ClientPause.Pipeline);
      if (this.state === ConnState.Flushing) this.armSendDeadline(); // the wait is on the client taking the last answer
      else this.enter(ConnState.WaitingUpstream);
    }
    return false;
  }

  onBody(chunk: Buffer): void {
    const req = this.reading;
    if (req === null || this.closing) return;
    const exchange = this.readingExchange;
    if (this.state === ConnState.ReadingBody && this.pauseBits === 0) this.deadline = Date.now() + this.front.ctx.timeouts.clientBody;
    req.received += chunk.length;
    const limit = this.front.ctx.maxBodySize;
    if (limit > 0 && req.received > limit) {
      // client_max_body_size, counted as a chunked body streams: cut it here.
      if (exchange !== null) exchange.refuse(413);
      // Queued behind an answer still going out: that answer completes, then the connection closes.
      else if (this.current !== null || this.flushPending) this.enter(ConnState.ClosingAfterAnswer);
      else this.destroy();
      return;
    }
    if (exchange !== null) exchange.onRequestBody(chunk);
    else (req.buffered ??= []).push(chunk);
  }

  onRequestEnd(): void {
    const req = this.reading;
    const exchange = this.readingExchange;
    this.reading = null;
    this.readingExchange = null;
    if (this.state === ConnState.ReadingBody) this.enter(ConnState.WaitingUpstream);
    if (req === null) return;
    req.complete = true;
    exchange?.onRequestEnd();
  }

  /** Starts the request's exchange, or answers it here (see request-admission.ts). */
  private startRequest(req: ParsedRequest): void {
    this.front.requestsServed++;
    const admission = admit(req, this.front.router, this.front.ctx.maxBodySize);
    if (admission.status !== 0) return this.answerLocally(req, admission.status, admission.close);
    req.accessLogged = admission.accessLog;
    // As node:http and nginx, the proxy answers 100-continue itself (Expect is not forwarded).
    if (req.t.expect !== null && req.hasBody && !req.complete && req.versionMinor >= 1) this.socket.write('HTTP/1.1 100 Continue\r\n\r\n');
    const exchange = new ProxyExchange(this, req, admission.group);
    if (req === this.reading) this.readingExchange = exchange;
    this.current = exchange;
    exchange.start();
  }

  /**
   * Whether the answer to `req` may say keep-alive: the connection will take another request
   * after it. Every response head asks here, so that none promises keep-alive on a connection
   * that then closes: the client asked to close (Connection: close, HTTP/1.0 without keep-alive)
   * or has sent its FIN, the worker is draining, the connection takes no more requests (a
   * malformed or refused request behind this one), or part of this request's body is still to
   * come (it could not be told from the next request).
   */
  mayKeepAlive(req: ParsedRequest): boolean {
    return req.keepAlive && !this.front.closing && !this.closing && !this.clientEnded && (!req.hasBody || req.complete);
  }

  private answerLocally(req: ParsedRequest, status: number, close: boolean): void {
    const start = this.bytesSent();
    const keep = !close && this.mayKeepAlive(req);
    this.sink.errorPage(status, req.method === 'HEAD', keep);
    this.logRequest(req, status, this.bytesSent() - start);
    this.exchangeDone(req, keep);
  }

  /** The response to the current request is written; `keep`: the connection may serve the next. */
  exchangeDone(req: ParsedRequest, keep: boolean): void {
    this.current = null;
    this.sendWatch.stop(); // a new last response: its tail gets its own clientSend
    // The finished exchange may have paused reading for its upstream's backpressure; that is over.
    this.resumeReading(ClientPause.Upstream);
    // A request body still arriving cannot be told from the next request: close after this answer.
    // (An answer given from inside llhttp's callbacks, before onRequestEnd, for a request without
    // a body leaves nothing unread: that connection stays, as nginx keeps it after a 404.)
    const bodyUnread = this.reading === req && req.hasBody && !req.complete;
    // Draining (a reload), after a response that promised keep-alive: not closed here, or a next
    // request already on its way would meet a reset. The front closes the connection once it has
    // been idle a moment (closeIdle), and a request that comes first is answered with close.
    if (!keep || this.closing || bodyUnread) return this.finish(!req.keepAlive);
    // The answer is whole: what the exchange corked around its upstream read goes out now, so
    // that only what the kernel did not take counts as unsent: counted corked bytes would pause
    // and resume reading on every request, two epoll_ctl calls each.
    this.socket.flush();
    if (this.socket.queuedBytes > 0) {
      // The next request starts once this response has left, as nginx's: a client that sends
      // requests and takes no answers must not have them all proxied meanwhile, each on an
      // upstream connection of its own (one whose buffer a response still holds is not reused).
      // The client is not read meanwhile, and clientSend runs on what it has not taken.
      this.flushPending = true;
      this.pauseReading(ClientPause.Flush);
      this.sendWatch.start();
      this.enter(ConnState.Flushing);
      // A closure only while a flush is awaited, rather than one held by every connection.
      this.socket.whenFlushed(() => this.afterFlush());
      return;
    }
    this.takeNext();
  }

  private afterFlush(): void {
    this.flushPending = false;
    if (this.closing || this.socket.closed) return;
    this.sendWatch.stop();
    this.resumeReading(ClientPause.Flush);
    this.takeNext();
  }

  /** A response has left: the next pipelined request, or the keep-alive wait. */
  private takeNext(): void {
    // The answer's write found the client gone (a reset): what it queued is not started.
    if (this.socket.closed) return;
    const next = this.queue.shift();
    if (next !== undefined) {
      if (this.queue.length === 0) this.resumeReading(ClientPause.Pipeline);
      // The flush's clientSend is over; a body still to come has clientBody.
      this.enter(next.complete ? ConnState.WaitingUpstream : ConnState.ReadingBody);
      this.startRequest(next);
      return;
    }
    this.resumeReading(ClientPause.Pipeline);
    if (this.clientEnded) return this.finish();
    this.idleSince = Date.now();
    // A head begun behind the last request has its turn now; else the keep-alive wait.
    this.enter(this.headPending ? ConnState.ReadingHead : ConnState.IdleKeepAlive);
  }

  protected headTimedOut(): void {
    this.clientError('ERR_HTTP_REQUEST_TIMEOUT', 408);
  }

  protected bodyTimedOut(): void {
    if (this.current !== null) this.current.refuse(408);
    else this.destroy();
  }

  protected exchangeDeadline(): number {
    return this.current === null ? 0 : this.current.deadline;
  }

  protected checkExchange(now: number): void {
    const ex = this.current;
    if (ex !== null && ex.deadline !== 0 && now >= ex.deadline) ex.onDeadline();
  }

  /** Malformed input or a head too slow: answer it if no response is under way, and close. */
  private clientError(code: string, status: number): void {
    this.front.ctx.log.info(`client ${this.socket.remoteAddress} sent an invalid request (${code}), answered ${status}`);
    if (this.current !== null) {
      // In the body of the request being answered: that request is at fault. In a later,
      // pipelined one: the current request still gets its own answer, then the connection closes.
      if (this.reading !== null && this.readingExchange === this.current) {
        this.current.refuse(status);
        this.finish();
      } else {
        this.enter(ConnState.ClosingAfterAnswer);
      }
      return;
    }
    if (this.queue.length > 0 || this.closing || !this.socket.writable) return this.destroy();
    this.sink.errorPage(status, false, false);
    this.finish();
  }

  private startUpgrade(req: ParsedRequest, head: Buffer): void {
    this.upgradeRequest = null;
    if (this.current !== null || this.queue.length > 0) {
      // An upgrade pipelined behind requests in flight: those keep their own answers, then the
      // connection closes (answering here would give an earlier request this one's status).
      this.enter(ConnState.ClosingAfterAnswer);
      return;
    }
    // The same answers as any request (CONNECT, which llhttp also stops after, gets its 405 here).
    const admission = admit(req, this.front.router, this.front.ctx.maxBodySize);
    if (admission.status !== 0) return this.answerLocally(req, admission.status, true);
    if (this.socket.closed) return;
    // From here the tunnel owns the socket; this class only keeps counting it until 'close'.
    this.enter(ConnState.Tunnel);
    this.releaseParser();
    this.front.untrack(this);
    const tunnelRequest = { method: req.method, url: req.url, rawHeaders: req.rawHeaders, clientAddress: this.clientAddress(req), host: req.t.upstreamHost ?? admission.group.name, authority: req.t.authority, headers: { upgrade: req.t.upgrade } };
    proxyUpgrade(tunnelRequest, this.socket.toStream(), head, admission.group, this.front.ctx);
  }

  onEnd(): void {
    this.clientEnded = true;
    if (this.upgradeRequest !== null || (this.closing && this.current === null)) return;
    // A body cut short by EOF can never complete: that is the client going away.
    if (this.reading !== null || this.headPending) return this.destroy();
    if (this.current === null && this.queue.length === 0) this.finish();
  }

  onClose(): void {
    this.enter(ConnState.Closed);
    this.front.untrack(this);
    this.current?.clientGone();
    this.current = null;
    // onClose never runs inside execute(), so the parser can go back now.
    this.releaseParser();
    this.onClosed?.();
  }
}
