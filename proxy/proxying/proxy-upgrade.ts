// Upgrade requests (WebSocket): after the upstream answers 101 the proxy is a byte pipe between
// two sockets, as nginx with `proxy_set_header Upgrade/Connection`. proxy_read_timeout still
// applies: a tunnel silent in both directions for that long is closed.
import http from 'node:http';
import type net from 'node:net';
import { rawErrorResponse } from '../http1/error-pages';
import { clientResponseHeaders, isHiddenResponseHeader, upstreamRequestHeaders } from '../http1/headers';
import { httpDate } from '../http1/http-date';
import { errnoOf, UpstreamConnectTimeoutError, UpstreamReadTimeoutError } from '../upstream/errors';
import type { UpstreamGroup } from '../upstream/upstream-group';
import type { ProxyContext } from './proxy-context';

/** A response head with the proxy's Server and Date, without the upstream's hidden headers (headers.ts). */
function rawHead(statusCode: number, statusMessage: string, rawHeaders: readonly string[], workerLine: string): string {
  let head = `HTTP/1.1 ${statusCode} ${statusMessage}\r\nServer: handoff\r\nDate: ${httpDate()}\r\n`;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (!isHiddenResponseHeader(rawHeaders[i].toLowerCase())) head += `${rawHeaders[i]}: ${rawHeaders[i + 1]}\r\n`;
  }
  return `${head}${workerLine}\r\n`;
}

/** What a tunnel needs of the request head (the shape of node:http's IncomingMessage). */
export interface UpgradeRequest {
  readonly method: string;
  readonly url: string;
  readonly rawHeaders: string[];
  /** The client address for the client-address hash (realIp's, else the TCP peer's). */
  readonly clientAddress: string | undefined;
  /** The Host the upstream gets (canonical; the upstream group's name for a request without one). */
  readonly host: string;
  /** An absolute-form target's authority, which the Host came from. */
  readonly authority: string | undefined;
  readonly headers: { readonly upgrade: string | undefined };
}

export function proxyUpgrade(req: UpgradeRequest, client: net.Socket, head: Buffer, group: UpstreamGroup, ctx: ProxyContext): void {
  // Without a tunnel, the client's answer ends our side; read on to its FIN, discarding, so the
  // socket closes (the upgrade left it paused, and a client socket is allowed to half-close).
  client.once('finish', () => client.resume());
  const server = group.pick(new Set(), group.keyFor(req.clientAddress, req.url, req.rawHeaders));
  if (!server) {
    client.end(rawErrorResponse(502, ctx.workerLine()));
    return;
  }
  // A tunnel is a connection in flight for least-conn, for as long as the client's side lives.
  server.enter();
  client.once('close', () => server.leave());
  const headers = upstreamRequestHeaders(req.rawHeaders, client.remoteAddress, req.host, req.authority);
  headers.push('Connection', 'Upgrade', 'Upgrade', String(req.headers.upgrade));
  // A tunnel holds its socket for its whole life: never take one from (or give one to) the pool.
  const upstreamReq = http.request({ host: server.host, port: server.port, method: req.method, path: req.url, headers, setHost: false, agent: false });
  let tunnelled = false;
  // Until the upstream's answer: timeouts.connect, then timeouts.read once connected (an upstream
  // that accepts and never answers is a read timeout, as for any request).
  let connectTimer = setTimeout(() => upstreamReq.destroy(new UpstreamConnectTimeoutError()), ctx.timeouts.connect);
  upstreamReq.once('socket', (socket: net.Socket) =>
    socket.once('connect', () => {
      clearTimeout(connectTimer);
      connectTimer = setTimeout(() => upstreamReq.destroy(new UpstreamReadTimeoutError('reading the response header')), ctx.timeouts.read);
    }),
  );

  client.on('error', () => upstreamReq.destroy());
  client.on('close', () => {
    clearTimeout(connectTimer);
    upstreamReq.destroy();
  });

  upstreamReq.on('upgrade', (upstreamRes, upstream: net.Socket, upstreamHead: Buffer) => {
    clearTimeout(connectTimer);
    tunnelled = true;
    server.health.succeeded();
    client.write(rawHead(101, upstreamRes.statusMessage ?? 'Switching Protocols', upstreamRes.rawHeaders, ctx.workerLine()));
    if (upstreamHead.length > 0) client.write(upstreamHead);
    if (head.length > 0) upstream.write(head);
    const idle = setTimeout(() => upstream.destroy(), ctx.timeouts.read);
    const activity = (): void => void idle.refresh();
    upstream.on('data', activity);
    client.on('data', activity);
    upstream.on('error', () => client.destroy());
    upstream.on('close', () => {
      clearTimeout(idle);
      client.destroy();
    });
    client.on('close', () => upstream.destroy());
    upstream.pipe(client);
    client.pipe(upstream);
  });

  // The upstream declined the upgrade: pass its answer on and close, as there is no tunnel.
  // proxy_read_timeout still applies between reads of that answer.
  let responded = false;
  upstreamReq.on('response', (upstreamRes) => {
    clearTimeout(connectTimer);
    responded = true;
    client.write(rawHead(upstreamRes.statusCode ?? 502, upstreamRes.statusMessage ?? '', [...clientResponseHeaders(upstreamRes.rawHeaders), 'Connection', 'close'], ctx.workerLine()));
    const idle = setTimeout(() => upstreamReq.destroy(), ctx.timeouts.read);
    upstreamRes.on('data', () => void idle.refresh());
    upstreamRes.on('close', () => {
      clearTimeout(idle);
      // Cut short (reset, timeout): end the client's connection abruptly, never as if complete.
      if (!upstreamRes.complete) client.destroy();
    });
    client.on('close', () => clearTimeout(idle));
    upstreamRes.pipe(client);
    upstreamRes.on('error', () => client.destroy());
  });

  upstreamReq.on('error', (err: NodeJS.ErrnoException) => {
    clearTimeout(connectTimer);
    if (tunnelled) return;
    if (responded) {
      client.destroy(); // a head went out already: an error page now would read as part of the body
      return;
    }
    ctx.log.error(`${errnoOf(err)}: ${err.message} while upgrading to upstream "http://${server.label}${req.url}"`);
    if (client.writable) client.end(rawErrorResponse(errnoOf(err) === 'ETIMEDOUT' ? 504 : 502, ctx.workerLine()));
  });
  upstreamReq.end();
}
