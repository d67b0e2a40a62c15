// How client connections come into a worker and are counted: fds the master hands over
// (CONNECTION, or a burst of them in CONNECTIONS), fds the worker accepts itself (reuseport, or
// the lifeboat once the master died), and sockets Node makes (the "ipc" transport). Each is
// served by its listener's handler, counted in `clients` until it closes, and, when it was
// handed over, acknowledged or rejected to the master.
import type net from 'node:net';
import { MAX_FDS_PER_MESSAGE, native } from '../handoff/native';
import { MessageType, type FixedMessage } from '../handoff/protocol';
import type { Logger } from '../observability/logger';
import type { ConnectionHandler } from '../proxying/connection-handler';
import type { LoadReporter } from './load-reporter';

/** What accepts connections in the worker itself: reuseport's listeners, or the launched lifeboat. */
export interface OwnIntake {
  readonly isPaused: boolean;
  setAccepting(on: boolean): void;
}

/** What the intake asks of its worker. */
export interface IntakeOwner {
  readonly quitting: boolean;
  /** reuseport: closes are reported once a second, not each on its own (see onClientClosed). */
  readonly reportsEachClose: boolean;
  readonly ownIntake: OwnIntake | null;
}

export class ConnectionIntake {
  /** Client connections open in this worker, however they arrived; reported with each ACK and STATUS. */
  clients = 0;

  constructor(
    /** What serves each listener's connections, by listener index (connection-handler.ts). */
    private readonly listenerHandlers: readonly ConnectionHandler[],
    /** Serves an index this worker's config does not have (a listener added by a later reload). */
    private readonly fallback: ConnectionHandler,
    /** limits.maxConnectionsPerWorker, or less when the open-files limit leaves room for fewer. */
    readonly limit: number,
    private readonly load: LoadReporter,
    private readonly owner: IntakeOwner,
    private readonly log: Logger,
  ) {}

  /** A handed-off connection: served and acknowledged, or given back to the master. */
  onConnection(msg: FixedMessage, fd: number, truncated: boolean): void {
    const atLimit = this.clients >= this.limit;
    const { quitting } = this.owner;
    // MSG_CTRUNC: the kernel could not install the fd here (EMFILE); the master still has it.
    if (fd < 0 || truncated || quitting || atLimit) {
      if (fd >= 0) native.closeFd(fd);
      if (truncated) this.log.warn(`connection ${msg.seq} arrived without its fd (MSG_CTRUNC: this worker is probably out of fds), so it goes back to the master`);
      else if (atLimit && !quitting) this.log.info(`connection ${msg.seq} goes back to the master, since this worker is at its connection limit (${this.limit})`);
      this.load.reject(msg.seq);
      return;
    }
    if (this.serveFd(this.handlerFor(msg.a), fd, `connection ${msg.seq}`, true)) this.load.acknowledge(msg.seq);
    else this.load.reject(msg.seq);
  }

  /**
   * A burst: connection msg.seq + i comes with the i-th fd. Those the kernel could not install
   * here (MSG_CTRUNC: it installs the first ones it can) go back to the master one by one, as a
   * CONNECTION without its fd does; fds beyond the count announced are nobody's and are closed.
   */
  onConnections(msg: FixedMessage, fd: number, truncated: boolean, moreFds: readonly number[]): void {
    const fds = fd < 0 ? [] : [fd, ...moreFds];
    if (msg.b < 2 || msg.b > MAX_FDS_PER_MESSAGE) {
      for (const each of fds) native.closeFd(each);
      this.log.error('the master sent a malformed message, which is ignored');
      return;
    }
    for (let i = msg.b; i < fds.length; i++) native.closeFd(fds[i]);
    for (let i = 0; i < msg.b; i++) {
      const lost = i >= fds.length;
      this.onConnection({ type: MessageType.CONNECTION, seq: (msg.seq + i) >>> 0, a: msg.a, b: 0 }, lost ? -1 : fds[i], lost && truncated);
    }
  }

  /** An fd the worker accepted itself (reuseport or the lifeboat): at the limit, the kernel backlog holds the rest. */
  onAccepted(listener: number, fd: number): void {
    if (this.serveFd(this.handlerFor(listener), fd, 'an accepted connection', false) && this.clients >= this.limit) {
      this.owner.ownIntake?.setAccepting(false);
    }
  }

  /**
   * A client socket that Node made (the "ipc" transport). Fds accepted on a listener of ours
   * (native.tcpListen) have TCP_NODELAY from it already; these are given it here.
   */
  adopt(socket: net.Socket, listener: number | undefined): void {
    this.clients++;
    socket.setNoDelay(true);
    socket.on('close', this.onClientClosed);
    this.handlerFor(listener).serve(socket);
  }

  /**
   * The handler of listener `index` (CONNECTION's `a`, the ipc message's `listener`). An index
   * this worker's config does not have (a listener added by a reload this worker predates) is
   * served by the front, as every listener is today.
   */
  private handlerFor(index: number | undefined): ConnectionHandler {
    return (index === undefined ? undefined : this.listenerHandlers[index]) ?? this.fallback;
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
   * Every client connection, however it arrived, is counted in `clients` until this runs. With
   * reuseport the kernel, not the master, picks the worker: the master's count is only for
   * /metrics and the dashboard, and the report once a second keeps it current without a message
   * (and a master wakeup) per event-loop turn.
   */
  private readonly onClientClosed = (): void => {
    this.clients--;
    if (this.owner.quitting) return;
    if (this.owner.reportsEachClose) this.load.connectionClosed();
    const intake = this.owner.ownIntake;
    if (intake?.isPaused && this.clients < this.limit) intake.setAccepting(true);
  };
}
