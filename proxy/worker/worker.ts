// A worker: joins a master through the socket in the handoff directory, receives client fds
// over it, acknowledges each, and serves them with its HTTP front.
//   TERM, INT  exit now     QUIT (signal or channel message): finish, then exit
//   HUP        ignored (the master reloads)
// If the master dies (its channel closes without a QUIT), the worker is orphaned: it accepts on
// the master's listening sockets itself (the lifeboat; reuseport: on its own, as before) until a
// new master takes the handoff directory over, then finishes its requests and exits. A worker
// with nothing to accept on (ipc transport, or a master older than protocol 5) just finishes.
//   serving    joined to a master
//   orphaned   the master died: accepting on its own, watching for a successor
//   quitting   finishing its requests, then exit
import type net from 'node:net';
import { ChannelWriter } from '../handoff/channel-writer';
import { readMasterIdentity } from '../handoff/handoff-dir';
import { describeUnfitness, inheritedSpawnKey, unfitness, workerHostName } from '../handoff/host-identity';
import { MAX_FDS_PER_MESSAGE, native } from '../handoff/native';
import { decode, encodeRegister, MessageType, type FixedMessage, type ServerMessage } from '../handoff/protocol';
import { formatAddress } from '../config/addresses';
import type { Config } from '../config/types';
import { requireHttpParser } from '../http1/llhttp';
import type { Logger } from '../observability/logger';
import { workerIdOf } from '../observability/worker-identity';
import { Front } from '../proxying/front';
import { ConnectionIntake } from './connection-intake';
import { effectiveConnectionLimit } from './connection-limit';
import { IdleHeapRelease } from './idle-heap-release';
import { joinMaster } from './join-master';
import { LoadReporter } from './load-reporter';
import { UpstreamReporter } from './upstream-reporter';
import { applyWorkerPriority } from './process-priority';
import { ReusedPorts } from './reused-ports';
import { Lifeboat } from './lifeboat';
import { watchForSuccessor } from './successor-watch';

const GRACEFUL_SHUTDOWN_MS = 30_000;
const IDLE_GRACE_MS = 500;
/** How long a quitting worker waits for its queued messages (ACKs) to reach the master. */
const CHANNEL_FLUSH_MS = 5_000;
const STATUS_INTERVAL_MS = 1_000;
/** How long a quitting worker waits for its access-log lines to be written. */
const ACCESS_LOG_FLUSH_MS = 2_000;
/** Below this many connections a worker's open-files limit is worth a warning. */
const SMALL_CONNECTION_LIMIT = 1024;

type WorkerState = 'serving' | 'orphaned' | 'quitting';

export class Worker {
  private channel: ChannelWriter | null = null;
  private front: Front | null = null;
  private config: Config | null = null;
  /** Serves and counts the client connections (connection-intake.ts). */
  private intake: ConnectionIntake | null = null;
  private state: WorkerState = 'serving';
  /** The open connections and requests served, as ACK, REJECT and STATUS tell the master. */
  private readonly load: LoadReporter;
  /** reuseport: the listening sockets this worker accepts on itself. */
  private reusedPorts: ReusedPorts | null = null;
  /** seqpacket: copies of the master's listening sockets, accepted on if the master dies. */
  private readonly lifeboat: Lifeboat;
  private stopWatchingForSuccessor: (() => void) | null = null;
  private upstreamReporter: UpstreamReporter | null = null;
  private readonly heapRelease = new IdleHeapRelease();
  private readonly handlers: Record<number, (msg: FixedMessage, fd: number, truncated: boolean) => void> = {
    [MessageType.CONNECTION]: (msg, fd, truncated) => this.intake!.onConnection(msg, fd, truncated),
    [MessageType.QUIT]: () => void this.quit('the master asked'),
    [MessageType.WELCOME]: (msg) => this.onWelcome(msg),
    [MessageType.LISTENER]: (msg, fd, truncated) => this.onListener(msg, fd, truncated),
    [MessageType.REOPEN]: () => this.reopenLogs('the master asked'),
  };

  constructor(
    private readonly handoffDir: string,
    private readonly log: Logger,
  ) {
    this.lifeboat = new Lifeboat(log);
    this.load = new LoadReporter(
      (message) => this.channel!.send(message),
      () => this.clients,
      () => this.front?.requestsServed ?? 0,
      () => this.quitting,
    );
  }

  /** Client connections open in this worker, however they arrived. */
  private get clients(): number {
    return this.intake?.clients ?? 0;
  }

  get quitting(): boolean {
    return this.state === 'quitting';
  }

  /** Connects to the master, retrying while it is not up yet (a worker may start first). */
  async start(waitMs: number): Promise<void> {
    requireHttpParser(); // before joining: a worker that cannot parse must take no connection
    const { fd, config } = await joinMaster(this.handoffDir, waitMs);
    this.config = config;
    applyWorkerPriority(this.config.workerPriority, this.config.handoff.transport, this.log);
    const { limit, fdLimit } = effectiveConnectionLimit(this.config.limits.maxConnectionsPerWorker);
    if (limit < this.config.limits.maxConnectionsPerWorker) {
      // A warning only when the cap really bites; trimming 10000 to 9982 is just worth knowing.
      this.log.log(limit < SMALL_CONNECTION_LIMIT ? 'warn' : 'info',
        `${this.config.limits.maxConnectionsPerWorker} connections exceed the open files limit (${fdLimit}): taking at most ${limit}`);
    }
    this.front = new Front(this.config, this.log);
    // Every listener speaks HTTP/1 today.
    const handlers = this.config.listeners.map(() => this.front!);
    this.intake = new ConnectionIntake(handlers, this.front, limit, this.load, this, this.log);
    this.channel = new ChannelWriter(
      fd,
      (header, passedFd, truncated, moreFds) => this.onMessage(header, passedFd, truncated, moreFds),
      (code) => this.onMasterGone(code),
      MAX_FDS_PER_MESSAGE,
    );
    // The limit goes with REGISTER so the master never offers more than this worker can hold; who
    // this worker is and whether it can serve under this transport go with it (host-identity.ts).
    const { transport } = this.config.handoff;
    const unfit = unfitness(transport, typeof process.send === 'function', readMasterIdentity(this.handoffDir));
    if (unfit) this.log.warn(`joining under the ${transport} transport, which this worker cannot serve (${describeUnfitness(unfit)}), so it stays idle`);
    this.channel.send(encodeRegister(process.pid, limit, { spawnKey: inheritedSpawnKey(), unfit, host: workerHostName() }));
    this.upstreamReporter = new UpstreamReporter(() => this.front!.upstreamServers, (message) => this.channel!.send(message));
    this.upstreamReporter.reportChanges();
    this.reportPeriodically();
    if (transport === 'ipc') this.receiveOverIpc();
    if (transport === 'reuseport' && !unfit) {
      this.reusedPorts = new ReusedPorts(this.config.listeners, (index, fd) => this.intake!.onAccepted(index, fd), this.log);
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

  private onMessage(header: Buffer, fd: number, truncated: boolean, moreFds: number[] | undefined): void {
    const msg = decode(header);
    if (msg?.type === MessageType.CONNECTIONS) return this.intake!.onConnections(msg, fd, truncated, moreFds ?? []);
    // Only CONNECTIONS brings more than one fd: any other's extras are nobody's.
    if (moreFds !== undefined) for (const extra of moreFds) native.closeFd(extra);
    if (msg?.type === MessageType.SERVER && fd < 0) return this.onServer(msg);
    const handler = msg && msg.type !== MessageType.REGISTER && msg.type !== MessageType.UPSTREAM && msg.type !== MessageType.SERVER ? this.handlers[msg.type] : undefined;
    if (!msg || msg.type === MessageType.REGISTER || msg.type === MessageType.UPSTREAM || msg.type === MessageType.SERVER || !handler) {
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

  /** A copy of a listening socket to keep (the lifeboat), or, without an fd, one to drop. */
  private onListener(msg: FixedMessage, fd: number, truncated: boolean): void {
    if (truncated) return this.log.warn(`the master's listener ${msg.a} arrived without its fd (MSG_CTRUNC: out of fds?): it would close with the master`);
    if (fd < 0) return this.lifeboat.drop(msg.a);
    if (this.state !== 'serving' || this.config!.handoff.transport !== 'seqpacket') return native.closeFd(fd);
    this.lifeboat.hold(msg.a, fd);
  }

  /**
   * The channel closed without a QUIT: the master died (a graceful master says QUIT first).
   * With listening sockets to accept on, serve on as an orphan until a new master comes.
   */
  private onMasterGone(code: string | null): void {
    if (this.state !== 'serving') return;
    const why = `the master's channel closed${code ? ` (${code})` : ''}`;
    const accepting = this.reusedPorts ? this.config!.listeners.length : this.lifeboat.launch((index, fd) => this.intake!.onAccepted(index, fd));
    if (accepting === 0) return void this.quit(why);
    this.state = 'orphaned';
    this.log.warn(`${why} without a QUIT: the master died; accepting on ${accepting} listening socket(s) myself until a new master takes over ${this.handoffDir}`);
    this.stopWatchingForSuccessor = watchForSuccessor(this.handoffDir, (pid) => {
      // From a check phase: the poll phase just before it emptied the accept queues, which the
      // kernel would reset when the last copy of a listening socket closes (lifeboat.ts).
      setImmediate(() => void this.quit(`a new master${pid === null ? '' : ` (pid ${pid})`} took over ${this.handoffDir}`));
    });
  }

  /** The master's word on an upstream server: joined, left, down or up by its health checks. */
  private onServer(msg: ServerMessage): void {
    const group = this.front?.router.groupAt(msg.upstream);
    const change = group?.apply(msg);
    if (group && change) this.log.info(`upstream server ${formatAddress(msg.host, msg.port)} of "${group.name}" ${change === 'down' ? `is down (${msg.reason})` : change}`);
  }

  /** reuseport's listeners, or the lifeboat once launched. */
  get ownIntake(): ReusedPorts | Lifeboat | null {
    return this.reusedPorts ?? (this.lifeboat.isAccepting ? this.lifeboat : null);
  }

  /** reuseport: closes go with the report once a second (connection-intake.ts). */
  get reportsEachClose(): boolean {
    return this.config!.handoff.transport !== 'reuseport';
  }

  /** The "ipc" transport: sockets arrive on Node's child_process channel (spawned workers only). */
  private receiveOverIpc(): void {
    process.on('message', (msg: { handoff?: string; listener?: number }, socket: net.Socket | undefined) => {
      if (msg?.handoff !== 'connection' || !socket) return;
      if (this.quitting) socket.destroy();
      else this.intake!.adopt(socket, msg.listener);
    });
  }

  /** Once a second, whatever changed: keep-alive traffic and reuseport closes send no report of their own. */
  private reportPeriodically(): void {
    const timer = setInterval(() => {
      if (this.quitting) return;
      this.load.reportIfChanged();
      this.upstreamReporter?.reportChanges();
      this.heapRelease.check(this.clients, this.front?.requestsServed ?? 0);
    }, STATUS_INTERVAL_MS);
    timer.unref();
  }

  /** Graceful: no new connections, idle ones closed, busy ones finish their response. */
  private async quit(why: string): Promise<void> {
    if (this.quitting) return;
    this.state = 'quitting';
    this.log.notice(`gracefully shutting down: ${why}`);
    this.stopWatchingForSuccessor?.();
    this.load.flushAcks();
    this.channel?.closeWhenFlushed(CHANNEL_FLUSH_MS);
    this.reusedPorts?.close();
    this.lifeboat.close();
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
    this.load.flushAcks();
    this.front?.accessLog?.closeNow();
    process.exit(0);
  }
}
