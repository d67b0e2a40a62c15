// One proxied request, from the client's request head to the end of the upstream's response.
// Bodies stream both ways with backpressure (pipe); nothing is buffered whole.
//
// Outcomes, as nginx:
//  - the upstream refuses or resets before a response: try the next server when it is safe
//    (nothing of the body was consumed), else 502;
//  - connect, send or read timeout before the response head: 504;
//  - the upstream dies or times out mid-response: the client connection is destroyed, so the
//    client sees a truncated response (never one that looks complete);
//  - the client goes away: the upstream request is destroyed and its socket leaves the pool.
import http from 'node:http';
import type net from 'node:net';
import type { TimeoutsConfig } from '../config/types';
import type { Logger } from '../observability/logger';
import { failureKind, mayTryNextServer, UpstreamTimeout, type FailureKind } from '../upstream/upstream-failure';
import type { UpstreamGroup } from '../upstream/upstream-group';
import type { UpstreamServer } from '../upstream/upstream-server';
import { sendErrorPage } from './error-pages';
import { forwardBody } from './forward-body';
import { clientResponseHeaders, upstreamRequestHeaders } from './headers';
import { watchUpstreamTimeouts } from './upstream-timers';

export interface ProxyContext {
  readonly timeouts: TimeoutsConfig;
  /** client_max_body_size in bytes; 0 = unlimited. */
  readonly maxBodySize: number;
  /** Upgrade protocols tunnelled (config.upgrades); any other makes a plain request. */
  readonly upgrades: readonly string[];
  readonly log: Logger;
}

/**
 * How long a client that had its connection's last answer may take to close its side before the
 * proxy cuts it off (both engines; at most timeouts.keepAlive): a lingering close, as nginx's.
 */
export function closeLingerMs(ctx: ProxyContext): number {
  return Math.min(5_000, ctx.timeouts.keepAlive);
}

/** Why an attempt failed; decides the status and whether another server may be tried. */
type Failure = { kind: FailureKind; message: string };

export function requestHasBody(req: http.IncomingMessage): boolean {
  const te = req.headers['transfer-encoding'];
  if (te !== undefined) return true;
  const cl = req.headers['content-length'];
  return cl !== undefined && cl !== '0';
}

export function proxyRequest(req: http.IncomingMessage, res: http.ServerResponse, group: UpstreamGroup, ctx: ProxyContext): void {
  const tried = new Set<UpstreamServer>();
  const hasBody = requestHasBody(req);
  const headers = upstreamRequestHeaders(req.rawHeaders, req.socket.remoteAddress, req.headers['transfer-encoding'] !== undefined);
  let clientGone = false;
  let current: http.ClientRequest | null = null;
  let retriedStaleSocket = false;
  // nginx's proxy_next_upstream (error, non_idempotent off): we stream bodies, so only a request
  // without one can be replayed; a connect failure is always safe, a reset only for idempotent methods.

  /**
   * The client side is over (it went away, or its body was refused): the upstream attempt is
   * dropped quietly — no error log, no failure counted against the server, no retry.
   */
  const abandonUpstream = (): void => {
    clientGone = true;
    current?.destroy();
  };

  res.on('close', () => {
    if (!res.writableFinished) abandonUpstream();
  });

  if (hasBody) {
    if (ctx.maxBodySize > 0 && !withinBodyLimit(req, res, ctx.maxBodySize, abandonUpstream)) return;
    watchBodyTimeout(req, res, ctx.timeouts.clientBody, abandonUpstream);
  }

  const attempt = (): void => {
    const server = group.pick(tried);
    if (!server) return fail(502);
    tried.add(server);
    const upstreamReq = http.request({
      host: server.host,
      port: server.port,
      method: req.method,
      path: req.url,
      headers,
      agent: server.agent,
      setHost: false,
    });
    current = upstreamReq;
    let responded = false;
    let connectTimer: NodeJS.Timeout | null = null;

    upstreamReq.on('socket', (socket) => {
      // The Agent has no connect timeout: arm one while a fresh socket is connecting.
      if (socket.connecting) {
        connectTimer = setTimeout(() => upstreamReq.destroy(new UpstreamTimeout('connecting')), ctx.timeouts.connect);
        socket.once('connect', () => clearTimeout(connectTimer!));
      }
    });
    watchUpstreamTimeouts(upstreamReq, res, ctx.timeouts, {
      onUpstreamTimeout: (phase) => upstreamReq.destroy(new UpstreamTimeout(phase)),
      onClientTimeout: () => {
        ctx.log.error(
          `client timed out while sending response to client, client: ${req.socket.remoteAddress}, ` +
            `request: "${req.method} ${req.url} HTTP/${req.httpVersion}", upstream: "http://${server.label}${req.url}"`,
        );
        res.destroy();
        upstreamReq.destroy();
      },
    });

    upstreamReq.on('response', (upstreamRes) => {
      responded = true;
      if (connectTimer) clearTimeout(connectTimer);
      server.markHealthy();
      forwardResponse(upstreamRes, res, server, ctx);
    });

    // A 101 to a request that did not ask to upgrade (its Upgrade is never forwarded): node:http
    // would drop the socket and emit nothing, and the client would wait forever.
    upstreamReq.on('upgrade', (_upstreamRes: http.IncomingMessage, socket: net.Socket) => {
      responded = true; // no other server is asked: this one answered, wrongly (as the fast engine)
      if (connectTimer) clearTimeout(connectTimer);
      socket.destroy();
      ctx.log.error(`upstream switched protocols on a request without Upgrade, upstream: "http://${server.label}${req.url}"`);
      fail(502);
    });

    upstreamReq.on('error', (err: NodeJS.ErrnoException) => {
      if (connectTimer) clearTimeout(connectTimer);
      if (responded || clientGone) return; // after the head, forwardResponse owns the outcome
      const failure = classify(err, upstreamReq);
      // A reused keep-alive socket that the upstream had just closed is a race, not a sick server.
      const staleKeepAlive = failure.kind === 'reset' && upstreamReq.reusedSocket;
      if (!staleKeepAlive) server.markFailed(Date.now());
      ctx.log.error(
        `${failure.message} while ${failure.kind === 'connect' ? 'connecting to' : 'talking to'} upstream, ` +
          `client: ${req.socket.remoteAddress}, request: "${req.method} ${req.url} HTTP/${req.httpVersion}", ` +
          `upstream: "http://${server.label}${req.url}", host: "${req.headers.host ?? ''}"`,
      );
      if (mayTryNextServer(err, failure.kind, req.method ?? 'GET', hasBody)) {
        if (staleKeepAlive && !retriedStaleSocket) {
          retriedStaleSocket = true;
          tried.delete(server); // the same server again, on a fresh or another pooled socket
          return attempt();
        }
        if (tried.size < group.servers.length) return attempt();
      }
      fail(failure.kind === 'timeout' ? 504 : 502);
    });

    if (hasBody) forwardBody(req, upstreamReq);
    else upstreamReq.end();
  };

  const fail = (status: number): void => {
    if (clientGone || res.headersSent) {
      res.destroy();
      return;
    }
    // Any unread request body makes the connection unusable for the next request.
    sendErrorPage(res, status, hasBody && !req.complete);
    watchResponseTail(res, ctx, 'an error page');
  };

  attempt();
}

function classify(err: NodeJS.ErrnoException, upstreamReq: http.ClientRequest): Failure {
  const kind = failureKind(err, upstreamReq.socket?.connecting ?? false);
  return { kind, message: kind === 'timeout' ? err.message : `${err.code ?? 'error'}: ${err.message}` };
}

function forwardResponse(upstreamRes: http.IncomingMessage, res: http.ServerResponse, server: UpstreamServer, ctx: ProxyContext): void {
  if (res.destroyed) {
    upstreamRes.destroy();
    return;
  }
  // node:http adds its own Date (the upstream's is hidden, as nginx hides it).
  try {
    res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.statusMessage, ['Server', 'handoff', ...clientResponseHeaders(upstreamRes.rawHeaders)]);
  } catch (err) {
    // node:http refuses to write some bytes an upstream may send in a head (a header value with
    // bytes above 0x7f, a status under 100); the fast engine passes them through. Never a throw
    // out of here: it would end the worker, and every client on it.
    ctx.log.error(`upstream sent a response head node:http cannot pass on (${(err as Error).message}), upstream: "http://${server.label}${res.req.url}"`);
    upstreamRes.destroy();
    sendErrorPage(res, 502, true);
    return;
  }
  upstreamRes.pipe(res);
  upstreamRes.once('end', () => watchResponseTail(res, ctx, `upstream: "http://${server.label}${res.req.url}"`));
  // The upstream died (or timed out) mid-body: end the client's connection abruptly, so a
  // Content-Length or chunked client sees the truncation instead of a complete-looking body.
  upstreamRes.on('error', () => {});
  upstreamRes.on('close', () => {
    // (Destroyed already: the client went away or timed out first, and that was reported.)
    if (!upstreamRes.complete && !res.destroyed) {
      ctx.log.error(`upstream prematurely closed connection while reading upstream, upstream: "http://${server.label}${res.req.url}"`);
      res.destroy();
    }
  });
}

/**
 * send_timeout for what the client has still to take once the upstream has sent everything (the
 * exchange's own watch ends with the upstream): a client that takes no byte for clientSend is cut
 * off after one to two periods, as on the fast engine. Without it, a client that stops reading
 * would hold its connection, and every request pipelined behind it, for as long as it liked.
 */
export function watchResponseTail(res: http.ServerResponse, ctx: ProxyContext, detail: string): void {
  const socket = res.socket;
  if (socket === null || res.writableFinished || res.destroyed) return;
  let mark = socket.writableLength;
  const timer = setInterval(() => {
    if (res.writableFinished || res.destroyed) return clearInterval(timer);
    const queued = socket.writableLength;
    if (queued < mark) {
      mark = queued;
      return;
    }
    clearInterval(timer);
    ctx.log.error(`client timed out while sending response to client, client: ${socket.remoteAddress}, request: "${res.req.method} ${res.req.url}", ${detail}`);
    res.destroy();
  }, ctx.timeouts.clientSend);
  res.once('close', () => clearInterval(timer));
}

/**
 * client_max_body_size: a declared Content-Length over the limit is refused before anything is
 * sent upstream; a chunked body is counted as it streams and cut when it passes the limit.
 * Either way the client gets 413 (if no response has started) and the connection closes.
 */
function withinBodyLimit(req: http.IncomingMessage, res: http.ServerResponse, limit: number, abortUpstream: () => void): boolean {
  const refuse = (): void => {
    abortUpstream();
    if (!res.headersSent) sendErrorPage(res, 413, true);
    else res.destroy();
  };
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) {
    refuse();
    return false;
  }
  let received = 0;
  req.on('data', (chunk: Buffer) => {
    received += chunk.length;
    if (received > limit) refuse();
  });
  return true;
}

/**
 * client_body_timeout: the time between two reads of the request body — while the body is being
 * read: not while the pipe to the upstream holds it paused (that wait is the send timeout's).
 */
function watchBodyTimeout(req: http.IncomingMessage, res: http.ServerResponse, ms: number, abandonUpstream: () => void): void {
  let paused = false;
  const timer = setTimeout(() => {
    if (paused) return; // re-armed by 'resume'
    abandonUpstream(); // it waits for a body that will not come
    if (!res.headersSent) sendErrorPage(res, 408, true);
    else res.destroy();
  }, ms);
  req.on('pause', () => (paused = true));
  req.on('resume', () => {
    paused = false;
    timer.refresh();
  });
  req.on('data', () => timer.refresh());
  req.on('end', () => clearTimeout(timer));
  req.on('close', () => clearTimeout(timer));
}
