// The master's side of its workers' channels: a new channel becomes a WorkerLink; its REGISTER
// admits the worker (refused for its protocol, told to quit if a reload replaced it, idle if it
// cannot serve under this transport), then welcomes it (WELCOME, upstream SERVER states, copies
// of the listening sockets); ACK, REJECT and STATUS feed the dispatcher; a closed channel is a
// departure whose unacknowledged connections go to other workers.
import type { Config } from '../config/types';
import { describeUnfitness } from '../handoff/host-identity';
import { native } from '../handoff/native';
import { decode, LISTENERS_SINCE_PROTOCOL, MessageType, OLDEST_WORKER_PROTOCOL, PROTOCOL_VERSION, WELCOME_SINCE_PROTOCOL, type FixedMessage, type Register } from '../handoff/protocol';
import type { EventTimeline } from '../observability/event-timeline';
import type { Logger } from '../observability/logger';
import { stdoutLines } from '../observability/sync-output';
import type { Dispatcher } from './dispatcher';
import type { IpcListenerSet } from './ipc-listener-set';
import { ListenerSet } from './listener-set';
import type { Succession } from './succession';
import type { UpstreamControl } from './upstream-control';
import type { WorkerDepartures } from './worker-departures';
import { describeWorker, type WorkerIdentities } from './worker-identities';
import { WorkerLink } from './worker-link';
import type { WorkerRoster } from './worker-roster';
import type { WorkerSpawner } from './worker-spawner';

/** What the master owns that its workers' channels read or act on. */
export interface ChannelContext {
  /** The current config (a reload replaces it). */
  config(): Config;
  /** The generation new workers join under (a reload raises it). */
  generation(): number;
  /** Set once the master has started. */
  succession(): Succession | null;
  readonly listeners: ListenerSet | IpcListenerSet;
  readonly roster: WorkerRoster;
  readonly dispatcher: Dispatcher;
  readonly spawner: WorkerSpawner;
  readonly identities: WorkerIdentities;
  readonly upstreams: UpstreamControl;
  readonly departures: WorkerDepartures;
  readonly timeline: EventTimeline;
  readonly log: Logger;
}

export class WorkerChannels {
  private announcedReady = false;
  private readonly handlers: Partial<Record<FixedMessage['type'], (link: WorkerLink, msg: FixedMessage) => void>> = {
    [MessageType.ACK]: (link, msg) => this.onAck(link, msg),
    [MessageType.REJECT]: (link, msg) => this.onReject(link, msg),
    [MessageType.STATUS]: (link, msg) => this.onStatus(link, msg),
  };

  constructor(private readonly master: ChannelContext) {}

  /** A worker connected to the handoff socket: it is known, not yet registered. */
  connected(fd: number): void {
    const { handoff, limits } = this.master.config();
    const link = new WorkerLink(
      fd,
      handoff.maxInFlightPerWorker,
      handoff.ackTimeout,
      limits.maxConnectionsPerWorker,
      (l, header, passedFd) => this.onWorkerMessage(l, header, passedFd),
      (l) => this.onWorkerGone(l),
    );
    this.master.roster.connected(link);
  }

  private onWorkerMessage(link: WorkerLink, header: Buffer, passedFd: number): void {
    if (passedFd >= 0) native.closeFd(passedFd); // workers never send fds; do not leak one
    const msg = decode(header);
    if (msg?.type === MessageType.REGISTER) return this.onRegister(link, msg);
    // Figures count only from a worker that has said who it is.
    if (msg?.type === MessageType.UPSTREAM) return void (link.identity !== null && this.master.upstreams.record(link, msg));
    const handler = msg && msg.type !== MessageType.SERVER ? this.handlers[msg.type] : undefined;
    if (!msg || msg.type === MessageType.SERVER || !handler) {
      this.master.log.error(`${link.name} sent a malformed message, so its channel is closed`);
      link.close();
      this.onWorkerGone(link);
      return;
    }
    handler(link, msg);
  }

  private onRegister(link: WorkerLink, msg: Register): void {
    if (link.identity !== null) return; // a second REGISTER changes nothing
    const { roster, spawner, log } = this.master;
    const config = this.master.config();
    const generation = this.master.generation();
    if (msg.version < OLDEST_WORKER_PROTOCOL || msg.version > PROTOCOL_VERSION) {
      log.error(`worker ${msg.pid} speaks handoff protocol ${msg.version} and this master ${OLDEST_WORKER_PROTOCOL} to ${PROTOCOL_VERSION}, so it is refused`);
      roster.remove(link);
      link.close();
      return;
    }
    // A child of ours registers under the generation it was spawned for: one spawned before a
    // reload may register after it, only to be told to quit.
    const worker = this.master.identities.identify(msg, (spawned) => (spawned ? spawner.generationOf(msg.pid) : null) ?? generation);
    link.identity = worker;
    link.protocol = msg.version;
    const own = worker.origin === 'spawned';
    if (own && spawner.isRetired(worker.pid)) {
      // Spawned before a reload that has already replaced its generation: it only registers to quit.
      log.notice(`${describeWorker(worker)} registered after a later reload replaced it, so it is told to quit`);
      roster.registerRetired(link);
      return;
    }
    link.limitConnections(msg.maxConnections);
    link.ipcChild = own ? spawner.ipcChild(worker.pid) : null;
    // The worker's own word (it compared network namespaces), or, for a worker older than protocol
    // 3 under ipc, ours: a worker that is not our child has no IPC channel for the sockets.
    link.unfit = msg.self?.unfit ?? (config.handoff.transport === 'ipc' && link.ipcChild === null ? 'ipc-not-spawned' : null);
    if (msg.version >= WELCOME_SINCE_PROTOCOL) link.welcome(worker);
    // Slots and upstream numbers are the current config's: an older generation's worker keeps its own.
    if (worker.generation === generation) this.master.upstreams.welcome(link);
    const idleReason = link.unfit && describeUnfitness(link.unfit);
    this.master.timeline.add({ kind: 'worker-joined', worker, idleReason });
    if (link.unfit) {
      roster.registerIdle(link);
      log.warn(`${describeWorker(worker)} joined under the ${config.handoff.transport} transport and stays idle: ${idleReason}`);
      return;
    }
    if (!roster.register(link, config.workers)) return;
    this.master.succession()?.announceServing();
    // The lifeboat: the workers keep the listening sockets, to accept on them if this master dies.
    const { listeners } = this.master;
    if (msg.version >= LISTENERS_SINCE_PROTOCOL && listeners instanceof ListenerSet) link.giveListeners(listeners.fds);
    log.notice(`${describeWorker(worker)} joined (${roster.registeredCount} registered)`);
    const ownRegistered = roster.registered().filter((l) => l.identity!.origin === 'spawned').length;
    if (!this.announcedReady && ownRegistered >= config.workers) {
      this.announcedReady = true;
      stdoutLines.write(`handoff: ${ownRegistered} workers ready\n`);
    }
    this.master.dispatcher.drainWaiting();
  }

  private onAck(link: WorkerLink, msg: FixedMessage): void {
    link.requestsServed = msg.b;
    this.master.dispatcher.acknowledged(link, msg.seq, msg.a);
  }

  private onReject(link: WorkerLink, msg: FixedMessage): void {
    link.requestsServed = msg.b;
    this.master.dispatcher.rejected(link, msg.seq, msg.a);
  }

  private onStatus(link: WorkerLink, msg: FixedMessage): void {
    link.activeConnections = msg.a;
    link.requestsServed = msg.b;
    this.master.dispatcher.drainWaiting();
  }

  /** The channel closed: the worker exited or crashed. Its unacknowledged connections go elsewhere. */
  private onWorkerGone(link: WorkerLink): void {
    if (this.master.roster.remove(link)) this.master.departures.channelClosed(link, this.master.dispatcher.workerGone(link));
  }
}
