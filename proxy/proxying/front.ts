// A worker's client-facing side: every client connection it serves, the routes and upstreams they
// share, and the one sweep of their deadlines. Client connections are parsed by Node's llhttp
// directly (client-connection.ts), upstream ones by llhttp in response mode over raw sockets with a
// keep-alive pool per server (upstream-pool.ts): node:http's Server + http.request cost 150-300 µs
// of CPU per proxied request on this project's machines, in the objects, streams and per-request
// timers they allocate.
import type net from 'node:net';
import type { Config } from '../config/types';
import { NetClientSocket } from '../io/client-socket';
import { HandleSocket } from '../io/handle-socket';
import { socketFromTcpFd } from '../io/socket-from-fd';
import { AccessLog } from '../observability/access-log';
import { LogWriter } from '../observability/log-writer';
import type { Logger } from '../observability/logger';
import { ClientConnection, type ConnectionFront } from './client-connection';
import type { ConnectionHandler } from './connection-handler';
import { DeadlineSweeper } from './deadline-sweeper';
import { RealIp } from './real-ip';
import { closeLingerMs, type ProxyContext } from './proxy-context';
import { Router } from './router';
import type { UpstreamServer } from '../upstream/upstream-server';

/** The most one client read takes, as net's default. */
const CLIENT_READ_BYTES = 64 * 1024;

export class Front implements ConnectionFront, ConnectionHandler {
  readonly router: Router;
  readonly ctx: ProxyContext;
  readonly accessLog: AccessLog | null;
  /** The Connection/Keep-Alive lines of every response on a connection that stays open. */
  keepAliveLines: string;
  /** The Connection line of a response that closes its connection (and the worker's header). */
  closeLines = 'Connection: close\r\n';
  /** config.workerHeader's line once the master has named this worker; '' until then or when off. */
  private workerLine = '';
  private readonly workerHeader: string | null;
  private readonly keepAliveOnly: string;
  /** Set by drain(): responses say Connection: close and connections end after them. */
  closing = false;
  private drainedAt = 0;
  /** Requests taken so far (reported to the master for its metrics and dashboard). */
  requestsServed = 0;
  private readonly sweeper: DeadlineSweeper;
  private readonly readBuffer = Buffer.allocUnsafe(CLIENT_READ_BYTES);
  private readonly connections = new Set<ClientConnection>();

  /**
   * The master's name for this worker (WELCOME), once it has told us: in the access log, and in
   * config.workerHeader when that is set.
   */
  nameWorker(id: string): void {
    if (this.accessLog) this.accessLog.worker = id;
    if (this.workerHeader === null) return;
    this.workerLine = `${this.workerHeader}: ${id}\r\n`;
    this.keepAliveLines = this.keepAliveOnly + this.workerLine;
    this.closeLines = `Connection: close\r\n${this.workerLine}`;
  }

  get upstreamServers(): readonly UpstreamServer[] {
    return this.router.servers;
  }

  constructor(config: Config, log: Logger) {
    this.router = new Router(config.routes, config.upstreams);
    this.ctx = { timeouts: config.timeouts, maxBodySize: config.limits.maxBodySize, upgrades: config.upgrades, realIp: config.realIp ? new RealIp(config.realIp) : null, log, workerLine: () => this.workerLine };
    this.workerHeader = config.workerHeader;
    this.accessLog = config.accessLog === null
      ? null
      : new AccessLog(new LogWriter(config.accessLog.file, (level, message) => log.log(level, message)), config.accessLog.format);
    const t = config.timeouts;
    this.keepAliveOnly = `Connection: keep-alive\r\nKeep-Alive: timeout=${Math.floor(t.keepAlive / 1000)}\r\n`;
    this.keepAliveLines = this.keepAliveOnly;
    // Every duration a deadline is set to run (deadline-sweeper.ts relies on the shortest).
    this.sweeper = new DeadlineSweeper(Math.min(t.connect, t.read, t.send, t.clientHeader, t.clientBody, t.keepAlive, t.clientSend, closeLingerMs(this.ctx)));
  }

  /** Serves a client socket that Node made (the "ipc" transport). */
  serve(socket: net.Socket): void {
    new ClientConnection(this, (listener) => new NetClientSocket(socket, listener), null);
  }

  /**
   * Opens a socket on an accepted TCP fd and serves it; `onClose` runs once it has closed. Throws
   * if the fd cannot be opened; the caller still owns the fd then. `handedOff`: the master passed
   * it, and may still hold its own copy (so closing sends the FIN first: ClientSocket.closeAfterFin).
   * Fds are served on their bare TCP handle (handle-socket.ts), reading into one buffer for the
   * whole worker rather than a new 64 KiB one per read: llhttp copies what it keeps (header
   * strings, body chunks), so nothing of a read outlives its parse. Without libuv's bindings,
   * on a net.Socket.
   */
  serveFd(fd: number, onClose: () => void, handedOff: boolean): void {
    new ClientConnection(this, (listener) => HandleSocket.open(fd, this.readBuffer, listener, handedOff) ?? new NetClientSocket(socketFromTcpFd(fd), listener), onClose);
  }

  track(conn: ClientConnection): void {
    this.connections.add(conn);
    this.sweeper.add(conn);
  }

  /** A connection closed, or became a tunnel (which keeps its own timeout). */
  untrack(conn: ClientConnection): void {
    this.connections.delete(conn);
    this.sweeper.delete(conn);
  }

  /**
   * Not closing idle connections here: a request may already be on its way on one (the worker
   * closes them after a grace period with closeIdle()).
   */
  drain(): void {
    if (this.closing) return;
    this.closing = true;
    this.drainedAt = Date.now();
  }

  /**
   * Closes connections that have been idle for `graceMs` since draining began or since their
   * last response, whichever came later: a client may have sent its next request on a response
   * that promised keep-alive just before the drain, and closing under it would reset that request.
   */
  closeIdle(graceMs: number): void {
    const now = Date.now();
    for (const conn of this.connections) {
      if (conn.idle && now >= Math.max(conn.idleSince, this.drainedAt) + graceMs) conn.destroy();
    }
  }

  /** Closes every connection, busy or not: the end of a graceful shutdown. */
  closeAllConnections(): void {
    this.sweeper.stop();
    for (const conn of this.connections) conn.destroy();
  }

  closeUpstreams(): void {
    this.router.closeUpstreams();
  }
}
