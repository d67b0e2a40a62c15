// The master's view of one registered worker: its channel, the handoffs it has not yet
// acknowledged, and the load it last reported. A worker joins through the socket in the handoff
// directory whether the master spawned it or someone started it by hand (or in another container).
import type { ChildProcess } from 'node:child_process';
import type net from 'node:net';
import { ChannelWriter } from '../handoff/channel-writer';
import { MAX_FDS_PER_MESSAGE } from '../handoff/native';
import { CONNECTIONS_SINCE_PROTOCOL, encode, MessageType, type Unfitness } from '../handoff/protocol';
import type { WorkerIdentity } from '../observability/master-metrics';
import { workerNumberOf } from '../observability/worker-identity';
import { WorkerUpstreamFigures } from './upstream-figures';
import { describeWorker } from './worker-identities';

/**
 * An accepted client connection on its way to a worker. The master owns it until the worker
 * has it: an ACK for an fd (seqpacket), Node's own handle ack for a socket (ipc).
 */
export interface Handoff {
  /** seqpacket: the accepted fd; -1 with the ipc transport. */
  readonly fd: number;
  /** ipc: the accepted (paused) socket; null with seqpacket. */
  readonly socket: net.Socket | null;
  readonly listener: number;
  /** Workers that have been given this connection and lost or rejected it. */
  attempts: number;
  /** Date.now() when it was last sent to a worker (WorkerLink.hand). */
  sentAt: number;
}

/** How one of the master's children ended. */
export interface ExitStatus {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export class WorkerLink {
  /** Given when the worker's REGISTER arrives; null until then (such a link gets no connections). */
  identity: WorkerIdentity | null = null;
  /** Registered, but cannot serve under this transport (it gets no connections): why. */
  unfit: Unfitness | null = null;
  /** ipc transport: the spawned child whose IPC channel carries the sockets (null: not ours). */
  ipcChild: ChildProcess | null = null;
  /** A child of ours that has exited (its channel may close just before or after). */
  exit: ExitStatus | null = null;
  /** Connections handed to it, acknowledged or not. */
  handoffsSent = 0;
  /** Open client connections, as the worker last reported (ACK, REJECT, STATUS). */
  activeConnections = 0;
  /** Requests the worker has served, as it last reported. */
  requestsServed = 0;
  /** Its upstream servers' requests, failures and down time, as it last reported (UPSTREAM). */
  readonly upstreamFigures = new WorkerUpstreamFigures();
  /** The handoff protocol version its REGISTER gave; 0 until then. */
  protocol = 0;
  /** Date.now() until which this worker gets no connections (after a REJECT); 0 = none. */
  private refusingUntil = 0;
  /** Sent (or queued to send) and not yet acknowledged, by sequence number. */
  private readonly inFlight = new Map<number, Handoff>();
  private readonly writer: ChannelWriter;
  /** The last sequence number given on this channel (ACKs are per channel, so are the numbers). */
  private lastSeq = 0;
  /**
   * Handed (in flight) but not yet sent: the fds of one burst go to the worker in one message
   * (CONNECTIONS) once the poll phase that accepted them is over. Everything else sent on the
   * channel sends these first, so messages keep the order they were made in.
   */
  private outbox: Handoff[] = [];
  private outboxSeq = 0;
  private quitSent = false;
  /** Listening sockets the worker keeps a copy of (LISTENER), by index 0..n-1. */
  private listenersGiven = 0;

  constructor(
    fd: number,
    private readonly maxInFlight: number,
    /** handoff.ackTimeout: past it, an unacknowledged handoff makes the worker stalled. */
    private readonly ackTimeoutMs: number,
    /** limits.maxConnectionsPerWorker; lowered by the worker's own limit when it registers. */
    private maxConnections: number,
    onMessage: (link: WorkerLink, header: Buffer, fd: number) => void,
    onClose: (link: WorkerLink) => void,
  ) {
    this.writer = new ChannelWriter(fd, (header, passedFd) => onMessage(this, header, passedFd), () => onClose(this));
  }

  /** For log lines. */
  get name(): string {
    return this.identity ? describeWorker(this.identity) : 'an unregistered worker';
  }

  /** This master told it to QUIT: its leaving is expected. */
  get quitRequested(): boolean {
    return this.quitSent;
  }

  get inFlightCount(): number {
    return this.inFlight.size;
  }

  /** What least-conn compares: connections the worker serves plus those on their way. */
  get load(): number {
    return this.activeConnections + this.inFlight.size;
  }

  hasRoom(now = Date.now()): boolean {
    if (this.refusingUntil !== 0) {
      if (now < this.refusingUntil) return false;
      this.refusingUntil = 0;
    }
    return this.identity !== null && this.unfit === null && this.inFlight.size < this.maxInFlight && this.load < this.maxConnections && !this.stalled(now);
  }

  /**
   * Its oldest unacknowledged handoff is older than the ACK deadline: the worker is not reading its
   * channel (stopped, hung in a busy loop, a long GC pause). It gets no new connections until it
   * acknowledges again, or each would wait out the whole stall, as nginx never lets happen: there a
   * stuck worker simply stops accepting. What it already took stays with it: its fds may be read
   * by it the moment it wakes, and sending them elsewhere would let two processes serve one
   * connection. Needs no timer: it is asked at each pick, and an ACK ends it (ACKs are cumulative,
   * so the oldest in flight, the map's first, is the one to look at).
   */
  stalled(now = Date.now()): boolean {
    if (this.inFlight.size === 0) return false;
    const oldest = this.inFlight.values().next().value as Handoff;
    return now - oldest.sentAt >= this.ackTimeoutMs;
  }

  /**
   * The worker rejected a connection (out of fds, at its limit): give it none for a while, or a
   * policy like round robin would keep offering it the very connections it cannot take.
   */
  refuseFor(ms: number): void {
    this.refusingUntil = Date.now() + ms;
  }

  /** The worker's own connection limit (it may hold fewer than the config says: its open-files limit). */
  limitConnections(workerLimit: number): void {
    if (workerLimit > 0) this.maxConnections = Math.min(this.maxConnections, workerLimit);
  }

  /** The sequence number of the next connection handed to this worker. */
  nextSeq(): number {
    this.lastSeq = (this.lastSeq + 1) >>> 0;
    return this.lastSeq;
  }

  /** `onLost` is for the ipc transport, whose failures arrive in a callback rather than as a channel close. */
  hand(seq: number, handoff: Handoff, onLost: (handoff: Handoff) => void): void {
    handoff.sentAt = Date.now();
    this.inFlight.set(seq, handoff);
    this.handoffsSent++;
    if (handoff.socket === null) {
      if (this.protocol < CONNECTIONS_SINCE_PROTOCOL) return this.writer.send(encode(MessageType.CONNECTION, seq, handoff.listener), handoff.fd);
      // A burst goes as one message only if its numbers follow on (CONNECTIONS carries the first).
      const last = this.outbox.length - 1;
      if (last >= 0 && (seq !== ((this.outboxSeq + last + 1) >>> 0) || handoff.listener !== this.outbox[last].listener)) this.sendOutbox();
      if (this.outbox.length === 0) {
        this.outboxSeq = seq;
        setImmediate(this.sendOutbox);
      }
      this.outbox.push(handoff);
      return;
    }
    // Node waits for the child's internal ack, then closes the master's handle itself.
    this.ipcChild!.send({ handoff: 'connection', listener: handoff.listener }, handoff.socket, { keepOpen: false }, (err) => {
      if (!this.inFlight.delete(seq)) return; // already taken back as an orphan
      if (err) onLost(handoff);
      else this.activeConnections++;
    });
  }

  /** The connections handed since the last send, as few messages as their number allows. */
  private readonly sendOutbox = (): void => {
    const outbox = this.outbox;
    if (outbox.length === 0) return;
    this.outbox = [];
    for (let at = 0; at < outbox.length; at += MAX_FDS_PER_MESSAGE) {
      const part = outbox.slice(at, at + MAX_FDS_PER_MESSAGE);
      const seq = (this.outboxSeq + at) >>> 0;
      const listener = part[0].listener;
      if (part.length === 1) this.writer.send(encode(MessageType.CONNECTION, seq, listener), part[0].fd);
      else this.writer.send(encode(MessageType.CONNECTIONS, seq, listener, part.length), part.map((h) => h.fd));
    }
  };

  /** The worker could not take seq (REJECT): the handoff leaves this link. */
  settle(seq: number, activeConnections: number): Handoff | undefined {
    this.activeConnections = activeConnections;
    const handoff = this.inFlight.get(seq);
    this.inFlight.delete(seq);
    return handoff;
  }

  /**
   * The worker has seq and everything sent to it before (a cumulative ACK): those handoffs leave
   * this link, in the order they were sent (the map's). An ACK for a seq not in flight settles
   * nothing: taking "everything" on a worker's word about an unknown seq could close fds that
   * are still on their way.
   */
  settleThrough(seq: number, activeConnections: number): Handoff[] {
    this.activeConnections = activeConnections;
    if (!this.inFlight.has(seq)) return [];
    const settled: Handoff[] = [];
    for (const [sent, handoff] of this.inFlight) {
      this.inFlight.delete(sent);
      settled.push(handoff);
      if (sent === seq) break;
    }
    return settled;
  }

  /** Every unacknowledged handoff, for re-sending elsewhere when this worker is gone. */
  takeOrphans(): Handoff[] {
    const orphans = [...this.inFlight.values()];
    this.inFlight.clear();
    this.outbox = [];
    return orphans;
  }

  /** Tells the worker the name the master knows it by (WELCOME: "w" + its number). */
  welcome(identity: WorkerIdentity): void {
    this.send(encode(MessageType.WELCOME, 0, workerNumberOf(identity.id), identity.generation));
  }

  /** USR1's word to the worker: its log files are opened anew. */
  sendReopen(): void {
    this.send(encode(MessageType.REOPEN));
  }

  /**
   * A copy of each listening socket, to accept on if this master dies (the worker's lifeboat).
   * The fds stay the master's: the kernel puts a duplicate into each message.
   */
  giveListeners(fds: readonly number[]): void {
    fds.forEach((fd, index) => this.send(encode(MessageType.LISTENER, 0, index), fd));
    this.listenersGiven = fds.length;
  }

  /** The master is closing its listeners: the worker drops its copies (a LISTENER without an fd). */
  takeBackListeners(): void {
    for (let index = 0; index < this.listenersGiven; index++) this.send(encode(MessageType.LISTENER, 0, index));
    this.listenersGiven = 0;
  }

  /** A message this worker reads as it is (SERVER): the caller checks `protocol` first. */
  tell(message: Buffer): void {
    this.send(message);
  }

  /**
   * Once per link: a reload, a later reload and a graceful shutdown may each ask the same worker
   * to quit, and a QUIT is a message on the channel, not a state the worker reports back.
   */
  sendQuit(): void {
    if (this.quitSent) return;
    this.quitSent = true;
    this.send(encode(MessageType.QUIT));
  }

  close(): void {
    this.outbox = []; // still in flight: the caller takes them back as orphans
    this.writer.close();
  }

  private send(message: Buffer, fd = -1): void {
    this.sendOutbox();
    this.writer.send(message, fd);
  }
}
