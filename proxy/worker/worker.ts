// A worker: joins a master through the socket in the handoff directory, receives client fds
// over it, acknowledges each, and serves them with its HTTP front.
//   TERM, INT  exit now     QUIT (signal or channel message), or the master gone: finish, then exit
//   HUP        ignored (the master reloads)
import net from 'node:net';
import { ChannelWriter } from '../handoff/channel-writer';
import { masterSocketPath, readMasterIdentity, readPublishedConfig } from '../handoff/handoff-dir';
import { describeUnfitness, inheritedSpawnKey, unfitness, workerHostName } from '../handoff/host-identity';
import { native } from '../handoff/native';
import { decode, encode, encodeRegister, MessageType, type FixedMessage } from '../handoff/protocol';
import type { Config } from '../config/types';
import { requireHttpParser } from '../http1/llhttp';
import type { Logger } from '../observability/logger';
import { workerIdOf } from '../observability/worker-identity';
import type { ConnectionHandler } from '../proxying/connection-handler';
import { Front } from '../proxying/front';
import { effectiveConnectionLimit } from './connection-limit';
import { UpstreamReporter } from './upstream-reporter';
import { applyWorkerPriority } from './process-priority';
import { ReusedPorts } from './reused-ports';

const GRACEFUL_SHUTDOWN_MS = 30_000;
const IDLE_GRACE_MS = 500;
/** How long a quitting worker waits for its queued messages (ACKs) to reach the master. */
const CHANNEL_FLUSH_MS = 5_000;
const STATUS_INTERVAL_MS = 1_000;
/** How long a quitting worker waits for its access-log lines to be written. */
const ACCESS_LOG_FLUSH_MS = 2_000;
/** Below this many connections a worker's open-files limit is worth a warning. */
const SMALL_CONNECTION_LIMIT = 1024;

export class Worker {
  private channel: ChannelWriter | null = null;
  private front: Front | null = null;
  /** What serves each listener's connections, by listener index (connection-handler.ts). */
  private listenerHandlers: readonly ConnectionHandler[] = [];
  private config: Config | null = null;
  /** Client connections open in this worker, however they arrived; reported with each ACK and STATUS. */
  private clients = 0;
  private quitting = false;
  /** A report (ACK or STATUS) goes out at the end of this poll phase. */
  private reportScheduled = false;
  /** Connections closed since the last report: the master's count of ours is stale. */
  private statusDue = false;
  /** The latest connection served and not yet acknowledged (ACKs are cumulative); -1: none. */
  private pendingAck = -1;
  private lastReported = 0;
  private lastReportedClients = 0;
  /** limits.maxConnectionsPerWorker, or less when the open-files limit leaves room for fewer. */
  private connectionLimit = 0;
  /** reuseport: the listening sockets this worker accepts on itself. */
  private reusedPorts: ReusedPorts | null = null;
  private upstreamReporter: UpstreamReporter | null = null;
  private readonly handlers: Record<number, (msg: FixedMessage, fd: number, truncated: boolean) => void> = {
    [MessageType.CONNECTION]: (msg, fd, truncated) => this.onConnection(msg, fd, truncated),
    [MessageType.QUIT]: () => void this.quit('the master asked'),
    [MessageType.WELCOME]: (msg) => this.onWelcome(msg),
    [MessageType.REOPEN]: () => this.reopenLogs('the master asked'),
  };

  constructor(
    private readonly handoffDir: string,
    private readonly log: Logger,
  ) {}

  /** Connects to the master, retrying while it is not up yet (a worker may start first). */
  async start(waitMs: number): Promise<void> {
    requireHttpParser(); // before joining: a worker that cannot parse must take no connection
    const path = masterSocketPath(this.handoffDir);
    const deadline = Date.now() + waitMs;
    let fd = -1;
    for (;;) {
      try {
        fd = native.seqpacketConnect(path);
        break;
      } catch (err) {
        if (Date.now() >= deadline) throw err;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    this.config = readPublishedConfig(this.handoffDir);
    applyWorkerPriority(this.config.workerPriority, this.config.handoff.transport, this.log);
    const { limit, fdLimit } = effectiveConnectionLimit(this.config.limits.maxConnectionsPerWorker);
    this.connectionLimit = limit;
    if (limit < this.config.limits.maxConnectionsPerWorker) {
      // A warning only when the cap really bites; trimming 10000 to 9982 is just worth knowing.
      this.log.log(limit < SMALL_CONNECTION_LIMIT ? 'warn' : 'info',
        `${this.config.limits.maxConnectionsPerWorker} connections exceed the open files limit (${fdLimit}): taking at most ${limit}`);
    }
    this.front = new Front(this.config, this.log);
    // Every listener speaks HTTP/1 today.
    this.listenerHandlers = this.config.listeners.map(() => this.front!);
    this.channel = new ChannelWriter(
      fd,
      (header, passedFd, truncated) => this.onMessage(header, passedFd, truncated),
      (code) => void this.quit(`the master's channel closed${code ? ` (${code})` : ''}`),
    );
    // The limit goes with REGISTER so the master never offers more than this worker can hold; who
    // this worker is and whether it can serve under this transport go with it (host-identity.ts).
    const { transport } = this.config.handoff;
    const unfit = unfitness(transport, typeof process.send === 'function', readMasterIdentity(this.handoffDir));
    if (unfit) this.log.warn(`joining under the ${transport} transport, which this worker cannot serve (${describeUnfitness(unfit)}), so it stays idle`);
    this.channel.send(encodeRegister(process.pid, this.connectionLimit, { spawnKey: inheritedSpawnKey(), unfit, host: workerHostName() }));
    this.upstreamReporter = new UpstreamReporter(this.front.upstreamServers, (message) => this.channel!.send(message));
    this.upstreamReporter.reportChanges();
    this.reportPeriodically();
    if (transport === 'ipc') this.receiveOverIpc();
    if (transport === 'reuseport' && !unfit) {
      this.reusedPorts = new ReusedPorts(this.config.listeners, (index, fd) => this.onAccepted(this.handlerFor(index), fd), this.log);
    }
    process.on('SIGTERM', () => this.exitNow());
    process.on('SIGINT', () => this.exitNow());
    process.on('SIGQUIT', () => void this.quit('SIGQUIT'));
    // A HUP for the whole process group (a closed terminal, `kill -HUP -PGID`) reaches the workers
    // too. Node's default would end them; as nginx's, they ignore it: the master reloads, and a
    // reload replaces workers rather than reloading them.
    process.on('SIGHUP', () => this.log.info('SIGHUP ignored, since the master reloads and replaces its workers'));
    // As nginx's workers, a worker reopens its logs on its own USR1 too: a worker that joined
    // from another container shares no signals with the master (Node would start its inspector).
    process.on('SIGUSR1', () => this.reopenLogs('SIGUSR1'));
  }

  private onMessage(header: Buffer, fd: number, truncated: boolean): void {
    const msg = decode(header);
    const handler = msg && msg.type !== MessageType.REGISTER && msg.type !== MessageType.UPSTREAM ? this.handlers[msg.type] : undefined;
    if (!msg || msg.type === MessageType.REGISTER || msg.type === MessageType.UPSTREAM || !handler) {
      if (fd >= 0) native.closeFd(fd);
      this.log.error('the master sent a malformed message, which is ignored');
      return;
    }
    handler(msg, fd, truncated);
  }

  private reopenLogs(why: string): void {
    if (!this.front?.accessLog) return;
    this.log.notice(`reopening the access log (${why})`);
    this.front.accessLog.reopen();
  }

  /** The master's name for this worker, for the access log and workerHeader. */
  private onWelcome(msg: FixedMessage): void {
    const id = workerIdOf(msg.a);
    this.log.notice(`joined the master as ${id} (generation ${msg.b})`);
    this.front?.nameWorker(id);
  }

  private onConnection(msg: FixedMessage, fd: number, truncated: boolean): void {
    const atLimit = this.clients >= this.connectionLimit;
    // MSG_CTRUNC: the kernel could not install the fd here (EMFILE); the master still has it.
    if (fd < 0 || truncated || this.quitting || atLimit) {
      if (fd >= 0) native.closeFd(fd);
      if (truncated) this.log.warn(`connection ${msg.seq} arrived without its fd (MSG_CTRUNC: this worker is probably out of fds), so it goes back to the master`);
      else if (atLimit && !this.quitting) this.log.info(`connection ${msg.seq} goes back to the master, since this worker is at its connection limit (${this.connectionLimit})`);
      this.sendCounts(MessageType.REJECT, msg.seq);
      return;
    }
    if (this.serveFd(this.handlerFor(msg.a), fd, `connection ${msg.seq}`, true)) this.acknowledge(msg.seq);
    else this.sendCounts(MessageType.REJECT, msg.seq);
  }

  /**
   * The handler of listener `index` (CONNECTION's `a`, the ipc message's `listener`). An index
   * this worker's config does not have (a listener added by a reload this worker predates) is
   * served by the front, as every listener is today.
   */
  private handlerFor(index: number | undefined): ConnectionHandler {
    return (index === undefined ? undefined : this.listenerHandlers[index]) ?? this.front!;
  }

  /**
   * Serves a client fd that a listener of ours accepted (handed off, or reuseport): false, with
   * the fd closed, when it cannot be opened. Such sockets have TCP_NODELAY from the listener.
   */
  private serveFd(handler: ConnectionHandler, fd: number, what: string, handedOff: boolean): boolean {
    try {
      handler.serveFd(fd, this.onClientClosed, handedOff);
    } catch (err) {
      native.closeFd(fd);
      this.log.error(`${what} cannot be opened (${(err as Error).message}), so it is refused`);
      return false;
    }
    this.clients++;
    return true;
  }

  /**
   * One ACK goes out once the poll phase that brought a burst of CONNECTIONs is over, for the
   * last of them: it covers the earlier ones too (protocol.ts), so the master is woken once and
   * reads one message per burst. The master keeps its copy of each fd until then, so every path
   * that closes the channel or exits sends it first (flushAcks): an adopted connection must
   * never look lost and be handed out again.
   */
  private acknowledge(seq: number): void {
    this.pendingAck = seq;
    this.scheduleReport();
  }

  private readonly flushAcks = (): void => {
    const seq = this.pendingAck;
    if (seq === -1) return;
    this.pendingAck = -1;
    this.sendCounts(MessageType.ACK, seq);
  };

  private scheduleReport(): void {
    if (this.reportScheduled) return;
    this.reportScheduled = true;
    setImmediate(this.report);
  }

  /**
   * Once per event-loop turn, however many connections came and went: an ACK when some came
   * (it carries the open-connection count and requests, as a STATUS does, so none goes with it),
   * else a STATUS when some closed, so least-conn stays true and a full worker gets work again.
   */
  private readonly report = (): void => {
    this.reportScheduled = false;
    const statusDue = this.statusDue;
    this.statusDue = false;
    if (this.pendingAck !== -1) this.flushAcks();
    else if (statusDue && !this.quitting) this.sendCounts(MessageType.STATUS, 0);
  };

  /**
   * Every client connection, however it arrived, is counted in `clients` until this runs. With
   * reuseport the kernel, not the master, picks the worker: the master's count is only for
   * /metrics and the dashboard, and the report once a second keeps it current without a message
   * (and a master wakeup) per event-loop turn.
   */
  private readonly onClientClosed = (): void => {
    this.clients--;
    if (this.quitting) return;
    if (this.config!.handoff.transport !== 'reuseport') {
      this.statusDue = true;
      this.scheduleReport();
    }
    if (this.reusedPorts?.isPaused && this.clients < this.connectionLimit) this.reusedPorts.setAccepting(true);
  };

  /**
   * A client socket that Node made (the "ipc" transport). Fds accepted on a listener of ours
   * (native.tcpListen) have TCP_NODELAY from it already; these are given it here.
   */
  private adopt(socket: net.Socket, listener: number | undefined): void {
    this.clients++;
    socket.setNoDelay(true);
    socket.on('close', this.onClientClosed);
    this.handlerFor(listener).serve(socket);
  }

  /** The "ipc" transport: sockets arrive on Node's child_process channel (spawned workers only). */
  private receiveOverIpc(): void {
    process.on('message', (msg: { handoff?: string; listener?: number }, socket: net.Socket | undefined) => {
      if (msg?.handoff !== 'connection' || !socket) return;
      if (this.quitting) socket.destroy();
      else this.adopt(socket, msg.listener);
    });
  }

  private onAccepted(handler: ConnectionHandler, fd: number): void {
    // reuseport: at the limit, the kernel backlog holds the rest (ReusedPorts).
    if (this.serveFd(handler, fd, 'an accepted connection', false) && this.clients >= this.connectionLimit) this.reusedPorts?.setAccepting(false);
  }

  /**
   * ACK, REJECT and STATUS all carry this worker's open connections and requests served; each
   * goes through here, so the once-a-second report knows what the master last heard.
   */
  private sendCounts(type: MessageType.ACK | MessageType.REJECT | MessageType.STATUS, seq: number): void {
    this.lastReported = this.requests();
    this.lastReportedClients = this.clients;
    this.channel!.send(encode(type, seq, this.clients, this.lastReported));
  }

  /** u32 on the wire: the count wraps, as Prometheus counters may. */
  private requests(): number {
    return (this.front?.requestsServed ?? 0) >>> 0;
  }

  /**
   * Keep-alive traffic opens and closes nothing, and reuseport connections are not reported as
   * they close: once a second, report whatever changed.
   */
  private reportPeriodically(): void {
    const timer = setInterval(() => {
      const changed = this.requests() !== this.lastReported || this.clients !== this.lastReportedClients;
      if (changed && !this.quitting) this.sendCounts(MessageType.STATUS, 0);
      if (!this.quitting) this.upstreamReporter?.reportChanges();
    }, STATUS_INTERVAL_MS);
    timer.unref();
  }

  /** Graceful: no new connections, idle ones closed, busy ones finish their response. */
  private async quit(why: string): Promise<void> {
    if (this.quitting) return;
    this.quitting = true;
    this.log.notice(`gracefully shutting down: ${why}`);
    this.flushAcks();
    this.channel?.closeWhenFlushed(CHANNEL_FLUSH_MS);
    this.reusedPorts?.close();
    const front = this.front;
    if (front) {
      front.drain();
      // Busy keep-alive connections close after their current response. Idle ones get a moment
      // to send the request they may already have in flight (closing them at once would reset
      // it: the keep-alive race), then they are closed, as nginx closes idle connections.
      // A connection whose response ends later gets the same moment from then on (closeIdle).
      const deadline = Date.now() + GRACEFUL_SHUTDOWN_MS;
      while (this.clients > 0 && Date.now() < deadline) {
        front.closeIdle(IDLE_GRACE_MS);
        await new Promise((r) => setTimeout(r, 50));
      }
      front.closeAllConnections();
      front.closeUpstreams();
      await front.accessLog?.close(ACCESS_LOG_FLUSH_MS);
    }
    process.exit(0);
  }

  private exitNow(): void {
    this.flushAcks();
    this.front?.accessLog?.closeNow();
    process.exit(0);
  }
}
