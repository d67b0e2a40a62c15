// The client-facing side of a worker: Node's HTTP server (llhttp, strict parsing) fed with
// sockets made from handed-off fds instead of its own listener.
import http from 'node:http';
import type net from 'node:net';
import type { Config } from '../config/types';
import { socketFromTcpFd } from './socket-from-fd';
import { AccessLog } from '../observability/access-log';
import type { Logger } from '../observability/logger';
import { rawErrorResponse, sendErrorPage } from './error-pages';
import { tunnelsUpgrade } from './headers';
import { headOverflowStatus, openLineStart } from './head-overflow';
import { closeLingerMs, proxyRequest, requestHasBody, watchResponseTail, type ProxyContext } from './proxy-request';
import { route, type Admission } from './request-admission';
import { splitAbsoluteForm, withHost } from './request-target';
import { MAX_REQUEST_HEAD_BYTES } from './request-parser';
import { Router } from './router';
import type { UpstreamServer } from '../upstream/upstream-server';
import { proxyUpgrade } from './proxy-upgrade';

export class HttpFront {
  private readonly server: http.Server;
  /** Per client connection, the requests waiting behind the one being answered (onRequest). */
  private readonly pipelines = new WeakMap<net.Socket, Array<() => void>>();
  private readonly pausedForPipeline = new WeakSet<net.Socket>();
  private readonly router: Router;
  private readonly ctx: ProxyContext;
  private readonly accessLog: AccessLog | null;
  private draining = false;
  private drainedAt = 0;
  /** While draining: when a response last ended (its connection may have promised keep-alive). */
  private lastResponseEnd = 0;
  private readonly noteResponseEnd = (): void => {
    if (this.draining) this.lastResponseEnd = Date.now();
  };
  requestsServed = 0;

  get upstreamServers(): readonly UpstreamServer[] {
    return this.router.servers;
  }

  constructor(config: Config, log: Logger) {
    this.router = new Router(config.routes, config.upstreams);
    this.ctx = { timeouts: config.timeouts, maxBodySize: config.limits.maxBodySize, upgrades: config.upgrades, log };
    this.accessLog = config.accessLog === 'stdout' ? new AccessLog() : null;
    const t = config.timeouts;
    this.server = http.createServer({
      maxHeaderSize: MAX_REQUEST_HEAD_BYTES,
      headersTimeout: t.clientHeader,
      // nginx has no whole-request deadline; the body gets client_body_timeout between reads instead.
      requestTimeout: 0,
      keepAliveTimeout: t.keepAlive,
      // How often Node checks headersTimeout; its 30 s default would let a slow client stay far too long.
      connectionsCheckingInterval: Math.min(1_000, Math.max(100, Math.floor(t.clientHeader / 4))),
    });
    // An http.Server that never listens starts no connection tracking, so headersTimeout is never
    // enforced for sockets given to it with emit('connection') (measured: handoff-facts.md).
    // 'listening' is what starts that tracking; the server has no socket of its own.
    this.server.emit('listening');
    // A client may half-close after its request and still read the answer (nginx serves it). By
    // default node:http aborts the request and ends the socket at the client's FIN, which cut
    // large responses short; with this it marks the response as the connection's last instead.
    (this.server as http.Server & { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;

    this.server.on('request', (req, res) => this.onRequest(req, res));
    this.server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
      if (!tunnelsUpgrade(req.headers.upgrade, this.ctx.upgrades)) return this.serveUpgradeAsPlain(req, socket);
      const routed = this.route(req);
      if (routed.status !== 0) return this.endReleasedSocket(socket, rawErrorResponse(routed.status));
      proxyUpgrade(req, socket, head, routed.group, this.ctx);
    });
    // node:http parses CONNECT to its own event; route() refuses it as nginx does (405, or 400
    // for an authority-form target): this is not a forward proxy.
    this.server.on('connect', (req: http.IncomingMessage, socket: net.Socket) => {
      const routed = this.route(req);
      this.endReleasedSocket(socket, rawErrorResponse(routed.status === 0 ? 405 : routed.status));
    });
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket: net.Socket) => this.onClientError(err, socket, log));
  }

  /** Serves one client connection. The socket is the worker's: it closes when the client or HTTP says so. */
  serve(socket: net.Socket): void {
    this.server.emit('connection', socket);
  }

  serveFd(fd: number, onClose: () => void): void {
    const socket = socketFromTcpFd(fd);
    socket.on('close', onClose);
    this.serve(socket);
  }

  /**
   * An upgrade to a protocol the config does not tunnel, answered as a plain request (the upstream
   * never sees the Upgrade). node:http has already let go of the connection (an 'upgrade'
   * listener takes every upgrade) and has not read a body: such a request with a body is refused
   * (400), or its body would reach no one while the upstream waits for it. The answer is the
   * connection's last; whatever the client sent after the head is not read.
   */
  private serveUpgradeAsPlain(req: http.IncomingMessage, socket: net.Socket): void {
    // Pipelined behind a response still being written: this answer waits its turn.
    const inFlight = (socket as net.Socket & { _httpMessage?: http.ServerResponse | null })._httpMessage;
    if (inFlight) {
      inFlight.once('finish', () => this.serveUpgradeAsPlain(req, socket));
      return;
    }
    if (socket.destroyed) return;
    socket.on('error', () => socket.destroy());
    if (requestHasBody(req)) {
      this.requestsServed++;
      return this.endReleasedSocket(socket, rawErrorResponse(400));
    }
    const res = new http.ServerResponse(req);
    res.shouldKeepAlive = false;
    res.assignSocket(socket);
    res.once('finish', () => {
      res.detachSocket(socket);
      this.endReleasedSocket(socket);
    });
    res.once('close', () => {
      if (!res.writableFinished) socket.destroy(); // the answer was cut short
    });
    this.onRequest(req, res);
  }

  /**
   * Ends a socket node:http has let go of (an upgrade or CONNECT it handed over): reads on to the
   * client's FIN, discarding, so it closes; a client that never sends one is cut off after a while,
   * as on the fast path (node:http's own timeouts no longer watch this socket).
   */
  private endReleasedSocket(socket: net.Socket, last?: Buffer): void {
    if (last === undefined) socket.end();
    else socket.end(last);
    socket.resume();
    socket.setTimeout(closeLingerMs(this.ctx), () => socket.destroy());
  }

  /**
   * One request per connection at a time, as nginx and the fast engine: node:http emits every
   * pipelined head of a read at once, and each would get an upstream connection of its own (one
   * client could open thousands). The others wait their turn, and the client is not read meanwhile.
   */
  private onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    const socket = req.socket;
    const waiting = this.pipelines.get(socket);
    if (waiting !== undefined) {
      waiting.push(() => this.serveRequest(req, res));
      if (!socket.isPaused()) {
        socket.pause();
        this.pausedForPipeline.add(socket);
      }
      return;
    }
    this.pipelines.set(socket, []);
    this.serveRequest(req, res);
  }

  /** A response is done with (sent, or cut short): the connection's next request gets its turn. */
  private nextInPipeline(socket: net.Socket): void {
    if (socket.destroyed) {
      // The client is gone (a reset the answer's write found): what it queued is not started.
      this.pipelines.delete(socket);
      this.pausedForPipeline.delete(socket);
      return;
    }
    const next = this.pipelines.get(socket)?.shift();
    if (next !== undefined) return next();
    this.pipelines.delete(socket);
    // Not when node:http paused it for its own reasons (a client slow to take its answers).
    if (this.pausedForPipeline.delete(socket) && !(socket as net.Socket & { _paused?: boolean })._paused) socket.resume();
  }

  private serveRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    res.once('close', () => this.nextInPipeline(req.socket));
    this.requestsServed++;
    // Draining (reload, graceful stop): answer, then close, so the client's next request opens a
    // new connection — to a new worker — instead of racing our close of an idle one.
    if (this.draining) res.shouldKeepAlive = false;
    res.once('finish', this.noteResponseEnd);
    this.accessLog?.track(req, res);
    const routed = this.route(req);
    if (routed.status !== 0) {
      sendErrorPage(res, routed.status, routed.close);
      watchResponseTail(res, this.ctx, 'an error page');
      return;
    }
    proxyRequest(req, res, routed.group, this.ctx);
  }

  /**
   * The same route key and refusals as the fast path (request-admission.ts). A 404 never asks for
   * the connection to close here: node:http itself reads or drops what is left of a body.
   */
  private route(req: http.IncomingMessage): Admission {
    const raw = req.rawHeaders;
    let hostCount = 0;
    for (let i = 0; i < raw.length; i += 2) if (raw[i].length === 4 && raw[i].toLowerCase() === 'host') hostCount++;
    const te = req.headers['transfer-encoding'];
    const absolute = splitAbsoluteForm(req.url ?? '/');
    const routed = route(
      {
        method: req.method ?? 'GET', versionMajor: req.httpVersionMajor, versionMinor: req.httpVersionMinor, hostCount, host: req.headers.host,
        target: absolute?.[1] ?? req.url ?? '/', authority: absolute?.[0], transferEncoding: te ?? null, bodyUnread: false,
      },
      this.router,
    );
    if (absolute !== null && routed.status === 0) {
      // Forwarded as origin-form with the target's authority as Host, as the fast path does.
      req.url = absolute[1];
      req.rawHeaders = withHost(raw, absolute[0]);
      req.headers.host = absolute[0];
    }
    return routed;
  }

  /** Malformed input from one client: answer it (400, 408, 414, 431) and close that connection only. */
  private onClientError(err: NodeJS.ErrnoException, socket: net.Socket, log: Logger): void {
    // A response already under way (the bad bytes came in the body of the request it answers):
    // an error page now would land inside that body. Close instead, as the truncation it is.
    const answering = (socket as net.Socket & { _httpMessage?: http.ServerResponse | null })._httpMessage;
    if (err.code === 'ECONNRESET' || !socket.writable || answering?.headersSent) {
      socket.destroy();
      return;
    }
    if (answering && !answering.writableFinished && answering.req.complete) {
      // The bad bytes came after a good request, whole and still being answered (pipelined): that
      // request gets its own answer, then the connection closes, as the fast engine does. (Within
      // the body of the request being answered — an EOF cuts it short — that request is at fault:
      // below, as any other.)
      log.info(`client ${socket.remoteAddress} sent an invalid request (${err.code ?? err.message}) behind one in flight: closing after its answer`);
      answering.shouldKeepAlive = false;
      return;
    }
    const status =
      err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : err.code === 'HPE_HEADER_OVERFLOW' ? overflowStatus(err) : 400;
    log.info(`client ${socket.remoteAddress} sent an invalid request (${err.code ?? err.message}): ${status}`);
    socket.end(rawErrorResponse(status));
    socket.destroySoon();
  }

  /**
   * From now on every response closes its connection. Not server.close(): that would close idle
   * keep-alive connections at once (Node 19+), racing requests already on their way.
   */
  drain(): void {
    if (!this.draining) this.drainedAt = Date.now();
    this.draining = true;
  }

  /** Closes keep-alive connections between requests; a worker shutting down calls it until none are left. */
  closeIdle(graceMs: number): void {
    // node:http closes idle connections all at once, so the grace runs from the drain and from
    // the last response to end (a connection it left idle may have a request on its way).
    if (Date.now() < Math.max(this.drainedAt, this.lastResponseEnd) + graceMs) return;
    this.server.closeIdleConnections();
  }

  closeAllConnections(): void {
    this.server.close(); // also stops the header-timeout checker
    this.server.closeAllConnections();
  }

  closeUpstreams(): void {
    this.router.closeUpstreams();
  }
}

/**
 * 414 or 431 for a head over the limit (head-overflow.ts), from the read node:http was parsing.
 * Unlike the fast engine's parser, nothing here remembers earlier reads of the head: a line that
 * began in one of those is judged by how this read begins.
 */
function overflowStatus(err: NodeJS.ErrnoException & { rawPacket?: Buffer; bytesParsed?: number }): number {
  const raw = err.rawPacket;
  if (!Buffer.isBuffer(raw)) return 431;
  return headOverflowStatus(openLineStart(raw, Math.min(raw.length, err.bytesParsed ?? raw.length), ''));
}
