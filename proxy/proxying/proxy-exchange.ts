// One proxied request, from the client's parsed head to the end of the upstream's response, with
// nginx's outcomes:
//  - refused or reset before a response: the next server when that is safe (no body was sent; a
//    reset only for idempotent methods; a reused keep-alive socket the upstream had just closed is
//    retried once on the same server), else 502;
//  - connect, send or read timeout before the response head: 504;
//  - the upstream dies or times out mid-response: the client connection is destroyed, so a
//    truncated body never looks complete;
//  - the client stops reading mid-response: the upstream is not read meanwhile, so the wait is
//    the client's (timeouts.clientSend, nginx's send_timeout), not proxy_read_timeout; past it
//    both connections are closed and the upstream is not counted as failed;
//  - the client goes away: the upstream connection is destroyed (it never returns to the pool).
// The response goes to the connection's ResponseSink (response-sink.ts), which frames it for the
// client. The head and the body bytes of the same upstream read are written inside one cork of
// the client socket, so a small response leaves in one writev.
import type { UpstreamConnection, UpstreamListener } from '../upstream/upstream-connection';
import { errnoOf, UpstreamConnectTimeoutError, UpstreamReadTimeoutError, UpstreamSendTimeoutError, UpstreamTimeoutError, UpstreamWithdrawnError } from '../upstream/errors';
import { failureKind, mayTryNextServer } from '../upstream/upstream-failure';
import type { UpstreamGroup } from '../upstream/upstream-group';
import type { UpstreamServer } from '../upstream/upstream-server';
import type { ParsedRequest } from '../http1/parsed-request';
import { upstreamRequestHead } from '../http1/wire-heads';
import type { AccessLog, UpstreamAttempt } from '../observability/access-log';
import type { ClientSocket } from '../io/client-socket';
import { ClientPause } from './client-pause';
import type { ClientSendWatch } from './client-send-watch';
import type { ProxyContext } from './proxy-context';
import type { ResponseSink } from './response-sink';

/** What an exchange needs of the client connection it answers (client-connection.ts). */
export interface ExchangeClient {
  readonly socket: ClientSocket;
  /** Where the response goes, framed for the client. */
  readonly sink: ResponseSink;
  readonly sendWatch: ClientSendWatch;
  readonly front: {
    readonly ctx: ProxyContext;
    /** null: no access log, so no attempt is recorded for it. */
    readonly accessLog: AccessLog | null;
  };
  /** Whether the answer to `req` may say keep-alive (the connection takes another request after it). */
  mayKeepAlive(req: ParsedRequest): boolean;
  /** Runs `end` once the client read being parsed is done with, and says so; false outside a read. */
  atReadEnd(end: () => void): boolean;
  pauseReading(reason: ClientPause): void;
  resumeReading(reason: ClientPause): void;
  bytesSent(): number;
  /** The request's client address (realIp's, else the TCP peer's). */
  clientAddress(req: ParsedRequest): string | undefined;
  logRequest(req: ParsedRequest, status: number, bytes: number, upstreams: readonly UpstreamAttempt[]): void;
  /** The response is written; `keep`: the connection may serve the next request. */
  exchangeDone(req: ParsedRequest, keep: boolean): void;
}

const NO_SERVERS: ReadonlySet<UpstreamServer> = new Set();
const NO_ATTEMPTS: readonly UpstreamAttempt[] = [];


/** How an exchange ended; every end goes through finish(). */
export const enum Outcome {
  /** The response went out whole (the upstream's, or an error page given here). */
  Completed,
  /** A response was cut short (the upstream failed mid-body, a client too slow to take it): the client connection is destroyed, so a truncated body never looks complete. */
  Aborted,
  /** The client connection closed first: logged as 499 if no response had begun. */
  ClientGone,
}
const enum Phase { Connect, Send, Read, ClientSend }

export class ProxyExchange implements UpstreamListener {
  /** When the current upstream phase times out (0 = not armed); checked by the client connection's sweep. */
  deadline = 0;
  private phase = Phase.Connect;
  private upstream: UpstreamConnection | null = null;
  /** The upstream connection corked for the body bytes of the client read being parsed. */
  private bodyCorked: UpstreamConnection | null = null;
  private server: UpstreamServer | null = null;
  /** The server this attempt holds a unit of `active` on (least-conn), released once. */
  private occupied: UpstreamServer | null = null;
  private key = '';
  private tried: Set<UpstreamServer> | null = null;
  private retriedStale = false;
  private head = '';
  private requestSent = false;
  private headSent = false;
  private keepClient = false;
  private finished = false;
  private status = 0;
  private readonly startBytes: number;
  /**
   * Each server tried, for the access log (nginx's $upstream_addr, $upstream_status,
   * $upstream_response_time); null when the request is not logged, so nothing is kept per attempt.
   */
  private readonly attempts: UpstreamAttempt[] | null;

  constructor(
    private readonly conn: ExchangeClient,
    private readonly req: ParsedRequest,
    private readonly group: UpstreamGroup,
  ) {
    this.startBytes = conn.bytesSent();
    this.attempts = req.accessLogged && conn.front.accessLog !== null ? [] : null;
  }

  /**
   * The upstream's head is always HTTP/1.1 with exactly one Host: the request's own, canonical
   * (request-target.ts canonicalHost), or for a request without one (HTTP/1.0) the upstream
   * group's name, as nginx's default `proxy_set_header Host $proxy_host` for `proxy_pass
   * http://name`. The framing line ends headerLines (wire-heads.ts).
   */
  start(): void {
    const req = this.req;
    this.head = upstreamRequestHead(req.method, req.url, req.t, this.group.name);
    // Only the hash balancer reads a key: the others would compute one (the client's address
    // through realIp, a header lookup) for every request and drop it.
    if (this.group.hashed) this.key = this.group.keyFor(this.conn.clientAddress(req), req.url, req.rawHeaders);
    this.attempt();
  }

  private attempt(): void {
    const server = this.group.pick(this.tried ?? NO_SERVERS, this.key);
    this.occupy(server);
    if (server === null) return this.fail(502);
    (this.tried ??= new Set()).add(server);
    this.server = server;
    const now = Date.now();
    this.attempts?.push({ address: server.label, status: 0, startedAt: now, endedAt: 0 });
    const upstream = server.pool.acquire();
    this.upstream = upstream;
    const req = this.req;
    // Without a body the request is sent whole with its head: an open connection waits for the answer.
    this.arm(upstream.isConnecting ? Phase.Connect : req.hasBody ? Phase.Send : Phase.Read, now);
    upstream.begin(this, this.head, req.method === 'HEAD');
    if (req.hasBody) {
      // Bytes that arrived before this exchange started (pipelined, or before the route was known).
      const early = req.buffered;
      req.buffered = null;
      if (early) for (const chunk of early) this.onRequestBody(chunk);
      if (req.complete) this.onRequestEnd();
    } else {
      this.requestSent = true;
    }
  }

  /** Moves this exchange's unit of `active` to `server` (null: it holds none). */
  private occupy(server: UpstreamServer | null): void {
    this.occupied?.leave();
    server?.enter();
    this.occupied = server;
  }

  private arm(phase: Phase, now = Date.now()): void {
    const t = this.conn.front.ctx.timeouts;
    this.phase = phase;
    this.deadline = now + (phase === Phase.Connect ? t.connect : phase === Phase.Send ? t.send : phase === Phase.Read ? t.read : t.clientSend);
  }

  // ---- request body, from the client connection ----

  onRequestBody(chunk: Buffer): void {
    const upstream = this.upstream;
    if (upstream === null || this.finished) return;
    let keepingUp: boolean;
    if (this.req.t.chunked) {
      // A chunk is three writes: corked, so that the chunks of one client read leave in one
      // writev, not three syscalls per chunk (a client may pack thousands of 1-byte chunks).
      // Corked bytes count as unsent, so whether the upstream keeps up is asked once they have
      // gone: here, or at the end of the read (uncorkBody).
      const held = this.corkForRead(upstream);
      upstream.write(`${chunk.length.toString(16)}\r\n`);
      upstream.write(chunk);
      upstream.write('\r\n');
      keepingUp = held || upstream.uncork();
    } else {
      keepingUp = upstream.write(chunk);
    }
    if (!upstream.isConnecting && !this.headSent) this.arm(Phase.Send);
    if (!keepingUp) this.conn.pauseReading(ClientPause.Upstream);
  }

  /**
   * Corks `upstream` until the end of the client read being parsed, and says so; false when no
   * read is (bytes buffered before this exchange): then it is corked for the caller to uncork.
   * (An exchange with a body never changes its upstream connection: such requests are not retried.)
   */
  private corkForRead(upstream: UpstreamConnection): boolean {
    if (this.bodyCorked === upstream) return true;
    upstream.cork();
    if (!this.conn.atReadEnd(this.uncorkBody)) return false;
    this.bodyCorked = upstream;
    return true;
  }

  private readonly uncorkBody = (): void => {
    const corked = this.bodyCorked;
    if (corked === null) return;
    this.bodyCorked = null;
    if (!corked.uncork() && corked === this.upstream && !this.finished) this.conn.pauseReading(ClientPause.Upstream);
  };

  onRequestEnd(): void {
    const upstream = this.upstream;
    if (upstream === null || this.finished || this.requestSent) return;
    if (this.req.t.chunked) upstream.write('0\r\n\r\n');
    this.requestSent = true;
    if (!upstream.isConnecting && !this.headSent) this.arm(Phase.Read);
  }

  // ---- the upstream connection ----

  onUpstreamConnect(): void {
    if (!this.headSent) this.arm(this.requestSent ? Phase.Read : Phase.Send);
  }

  onUpstreamDrain(): void {
    this.conn.resumeReading(ClientPause.Upstream);
  }

  onReadStart(): void {
    this.conn.socket.cork();
  }

  onReadEnd(free: () => void): boolean {
    const socket = this.conn.socket;
    socket.uncork();
    if (socket.queuedBytes === 0 || socket.closed) return true;
    // The kernel did not take it all: the rest points into the upstream's read buffer, and is also
    // the backpressure signal (the upstream is not read until the client has caught up).
    if (!this.finished) {
      this.arm(Phase.ClientSend);
      this.conn.sendWatch.start();
    }
    socket.whenFlushed(() => {
      if (!this.finished && this.phase === Phase.ClientSend) this.arm(Phase.Read);
      free();
    });
    return false;
  }

  onResponseHead(status: number, reason: string, rawHeaders: string[], contentLength: number): void {
    this.server!.health.succeeded();
    this.status = status;
    if (this.attempts !== null) this.attempts[this.attempts.length - 1]!.status = status;
    this.keepClient = this.conn.sink.head(this.req, status, reason, rawHeaders, contentLength);
    this.headSent = true;
    this.arm(Phase.Read);
  }

  onResponseBody(chunk: Buffer): void {
    this.deadline = Date.now() + this.conn.front.ctx.timeouts.read;
    this.conn.sink.data(chunk);
  }

  onResponseEnd(): void {
    this.conn.sink.end();
    const upstream = this.upstream!;
    this.upstream = null;
    // Only a connection whose request went out whole can carry another.
    this.server!.pool.release(upstream, this.requestSent);
    this.finish(Outcome.Completed, this.keepClient);
  }

  onUpstreamError(err: NodeJS.ErrnoException, connecting: boolean): void {
    const upstream = this.upstream;
    this.upstream = null;
    if (this.finished) return;
    const server = this.server!;
    const req = this.req;
    const log = this.conn.front.ctx.log;
    if (this.headSent) {
      log.error(`upstream prematurely closed connection while reading upstream (${errnoOf(err, err.message)}), upstream: "http://${server.label}${req.url}"`);
      return this.finish(Outcome.Aborted);
    }
    const kind = failureKind(err, connecting);
    const timeout = kind === 'timeout';
    // A reused keep-alive socket that the upstream had just closed is a race, not a sick server.
    const stale = kind === 'reset' && upstream !== null && upstream.exchanges > 1;
    // Given up because the master took the server out: its doing, not the server's failure.
    const withdrawn = err instanceof UpstreamWithdrawnError;
    if (!stale && !withdrawn) server.health.failed(Date.now());
    log[withdrawn ? 'warn' : 'error'](
      `${err instanceof UpstreamTimeoutError ? `upstream timed out while ${err.whileDoing}` : `${errnoOf(err)}: ${err.message} while ${kind === 'connect' ? 'connecting to' : 'talking to'} upstream`}, ` +
        `client: ${this.conn.clientAddress(req)}, request: "${req.method} ${req.url} HTTP/1.${req.versionMinor}", ` +
        `upstream: "http://${server.label}${req.url}", host: "${req.t.host ?? ''}"`,
    );
    const attempt = this.attempts?.[this.attempts.length - 1];
    if (attempt !== undefined) {
      attempt.status = timeout ? 504 : 502;
      attempt.endedAt = Date.now();
    }
    if (mayTryNextServer(err, kind, req.method, req.hasBody)) {
      if (stale && !this.retriedStale) {
        this.retriedStale = true;
        this.tried!.delete(server);
        return this.attempt();
      }
      // Members, not a count: the server just tried may have left the group.
      if (this.group.hasUntried(this.tried!)) return this.attempt();
    }
    this.fail(timeout ? 504 : 502);
  }

  // ---- deadlines and the client side ----

  onDeadline(): void {
    const upstream = this.upstream;
    this.deadline = 0;
    if (upstream === null) return;
    if (this.phase === Phase.ClientSend) {
      // nginx's send_timeout runs between two writes: a client that took bytes gets another.
      if (this.conn.sendWatch.tookBytes()) return this.arm(Phase.ClientSend);
      const req = this.req;
      this.conn.sendWatch.timedOut(`, request: "${req.method} ${req.url} HTTP/1.${req.versionMinor}", upstream: "http://${this.server!.label}${req.url}"`);
      return this.finish(Outcome.Aborted);
    }
    const err = this.phase === Phase.Connect ? new UpstreamConnectTimeoutError() : this.phase === Phase.Send ? new UpstreamSendTimeoutError() : new UpstreamReadTimeoutError();
    upstream.destroy(); // detaches this exchange first: no second report
    this.onUpstreamError(err, this.phase === Phase.Connect);
  }

  /** client_max_body_size passed mid-stream, or client_body_timeout: answer `status` if no response started. */
  refuse(status: number): void {
    this.fail(status, true);
  }

  /** The client connection closed before the response was done. */
  clientGone(): void {
    this.finish(Outcome.ClientGone);
  }

  /** No response has begun: an error page with `status`; else the response is cut short. */
  private fail(status: number, close = false): void {
    if (this.finished) return;
    if (this.headSent) return this.finish(Outcome.Aborted);
    // Any unread request body makes the connection unusable for the next request.
    const keep = !close && this.conn.mayKeepAlive(this.req);
    this.status = status;
    this.upstream?.destroy(); // one refused mid-request; none after an upstream failure
    this.upstream = null;
    this.conn.sink.errorPage(status, this.req.method === 'HEAD', keep);
    this.finish(Outcome.Completed, keep);
  }

  /**
   * The one exit: whatever upstream connection is still held is destroyed (a completed one was
   * handed back already), the request is logged, and the client connection hears how it ended.
   * `keepClient` (Completed only): the connection may serve the next request.
   */
  private finish(outcome: Outcome, keepClient = false): void {
    if (this.finished) return;
    this.finished = true;
    this.deadline = 0;
    this.occupy(null);
    const upstream = this.upstream;
    this.upstream = null;
    upstream?.destroy();
    const status = outcome === Outcome.ClientGone && !this.headSent ? 499 : this.status;
    const last = this.attempts?.[this.attempts.length - 1];
    if (last !== undefined && last.endedAt === 0) last.endedAt = Date.now();
    this.conn.logRequest(this.req, status, this.conn.bytesSent() - this.startBytes, this.attempts ?? NO_ATTEMPTS);
    if (outcome === Outcome.Completed) this.conn.exchangeDone(this.req, keepClient);
    else if (outcome === Outcome.Aborted) this.conn.sink.abort();
  }
}
