// The master: binds the listeners, accepts connections and hands each fd to a worker over the
// handoff socket, acknowledged by sequence number, re-sent if the worker is lost first.
//
// As nginx's ngx_master_process_cycle: signal handlers only raise flags; one cycle does the work.
//   TERM, INT  fast shutdown          QUIT  graceful shutdown (workers finish their requests)
//   USR1       reopen the log files: every worker is told to reopen its access log
//   HUP        reload: load the config anew; if it is good, start new workers with it and let
//              the old ones finish their requests; if not, keep everything as it is. A HUP while
//              a reload is still loading its config makes one more reload after it (ReloadGate)
//
// handoff.transport picks how connections reach workers, all behind the same dispatch:
//   seqpacket  the addon accepts, the fd goes over <dir>/master.sock (SCM_RIGHTS), acknowledged
//   ipc        Node's net.Server accepts, the socket goes over Node's child_process IPC channel
//   reuseport  the master only checks the ports; each worker binds them with SO_REUSEPORT and
//              accepts itself (no master in the path, as nginx's `listen ... reuseport`)
import type { Config } from '../config/types';
import { newSpawnKey, ownIdentity } from '../handoff/host-identity';
import { REOPEN_SINCE_PROTOCOL } from '../handoff/protocol';
import { EventTimeline } from '../observability/event-timeline';
import type { Logger } from '../observability/logger';
import { stdoutLines } from '../observability/sync-output';
import { ConfigError } from '../config/errors';
import { IpcListenerSet } from './ipc-listener-set';
import { checkReloadable } from './reload-check';
import { newCounters, type StatusSnapshot } from '../observability/master-metrics';
import { StatusServer } from '../observability/status-server';
import { checkAccessLogFile } from './access-log-check';
import { ListenerSet } from './listener-set';
import { removePidFile, writePidFile } from './pid-file';
import { createPolicy, type SchedulingPolicy } from './scheduling-policy';
import { Dispatcher } from './dispatcher';
import { drainThenQuit } from './graceful-drain';
import { HandoffDirKeeper } from './handoff-dir-keeper';
import { ReloadGate } from './reload-gate';
import { UpstreamControl } from './upstream-control';
import { Succession } from './succession';
import { WorkerDepartures } from './worker-departures';
import { WorkerChannels } from './worker-channels';
import { WorkerIdentities } from './worker-identities';
import type { ExitStatus, WorkerLink } from './worker-link';
import { WorkerRoster } from './worker-roster';
import { WorkerSpawner, type WorkerCommand } from './worker-spawner';

/** How long workers get to finish their requests on a graceful shutdown before SIGKILL. */
const GRACEFUL_SHUTDOWN_MS = 30_000;

/** How long a new generation gets to register before the old one is told to quit anyway. */
const NEW_GENERATION_WAIT_MS = 5_000;

type Flag = 'terminate' | 'quit' | 'reload' | 'reopen';

export class Master {
  private readonly listeners: ListenerSet | IpcListenerSet;
  private policy: SchedulingPolicy;
  private readonly spawner: WorkerSpawner;
  private readonly roster = new WorkerRoster();
  private readonly reloads: ReloadGate;
  private readonly counters = newCounters();
  private readonly dispatcher: Dispatcher;
  private readonly startedAt = Date.now();
  private readonly identity = ownIdentity();
  private readonly identities: WorkerIdentities;
  private readonly timeline = new EventTimeline();
  private readonly departures: WorkerDepartures;
  /** Upstream membership, active health checks and re-resolution, told to the workers. */
  private readonly upstreams: UpstreamControl;
  /** 1 at start, one more per successful reload: the generation new workers join under. */
  private generation = 1;
  private statusServer: StatusServer | null = null;
  private addresses: string[] = [];
  private readonly handoffDir: HandoffDirKeeper;
  private readonly flags = new Set<Flag>();
  private cycleScheduled = false;
  private stopping = false;
  /** Set at start: taking over from a master that died, and saying when this one serves. */
  private succession: Succession | null = null;
  /** Where start() wrote the pid (a reload may name another file; this one is removed at exit). */
  private readonly pidFile: string;
  /** The listeners workers are told about (reuseport: with port 0 resolved). */
  private publishedListeners: Config['listeners'] = [];
  /** REGISTER, ACK, REJECT and STATUS from the workers, and their channels closing. */
  private readonly workerChannels: WorkerChannels;

  constructor(
    private config: Config,
    workerCommand: WorkerCommand,
    /** Loads, validates and resolves the config file again (for SIGHUP). */
    private readonly loadConfig: () => Promise<Config>,
    private readonly log: Logger,
  ) {
    this.pidFile = config.pidFile;
    this.listeners = config.handoff.transport === 'ipc' ? new IpcListenerSet(log) : new ListenerSet(log);
    this.policy = createPolicy(config.handoff.policy);
    const spawnKey = newSpawnKey();
    this.handoffDir = new HandoffDirKeeper(config.handoff.dir, this.identity, (fd) => this.workerChannels.connected(fd), log);
    this.spawner = new WorkerSpawner(workerCommand, config.handoff.transport === 'ipc', spawnKey,
      (pid, exit) => this.onChildExit(pid, exit), () => this.handoffDir.ensure(), log);
    this.identities = new WorkerIdentities(spawnKey, (pid) => this.spawner.isChild(pid));
    this.departures = new WorkerDepartures(log, this.timeline, () => this.stopping);
    this.reloads = new ReloadGate(() => this.raise('reload'), log);
    this.upstreams = new UpstreamControl(() => this.currentGeneration(), () => this.roster.registered(), log);
    this.dispatcher = new Dispatcher(
      () => ({ policy: this.policy, candidates: this.roster.candidates() }),
      this.listeners,
      this.counters,
      log,
    );
    this.workerChannels = new WorkerChannels({
      config: () => this.config,
      generation: () => this.generation,
      succession: () => this.succession,
      listeners: this.listeners,
      roster: this.roster,
      dispatcher: this.dispatcher,
      spawner: this.spawner,
      identities: this.identities,
      upstreams: this.upstreams,
      departures: this.departures,
      timeline: this.timeline,
      log,
    });
  }

  /** Binds everything first (so a bad address fails before any worker starts), then spawns. */
  async start(): Promise<void> {
    const { dir, transport } = this.config.handoff;
    checkAccessLogFile(this.config);
    this.handoffDir.take();
    const succession = new Succession(dir, this.identity, (identity) => this.handoffDir.announce(identity), this.log);
    this.succession = succession;
    const orphansMayHoldPorts = succession.previousMasterDied(transport);
    let published = this.config;
    this.publishedListeners = this.config.listeners;
    if (this.listeners instanceof IpcListenerSet) {
      await this.listeners.bind(this.config.listeners);
    } else {
      this.listeners.bind(this.config.listeners, orphansMayHoldPorts);
      if (transport === 'reuseport') {
        // Only a check (and port 0 resolved): the workers bind these ports themselves.
        this.publishedListeners = this.listeners.boundListeners();
        published = { ...this.config, listeners: this.publishedListeners };
      }
    }
    const addresses = this.listeners.addresses;
    this.addresses = addresses;
    if (transport === 'reuseport') this.listeners.close();
    try {
      this.upstreams.adopt(published, (withSlots) => this.handoffDir.open(withSlots));
    } catch (err) {
      this.listeners.close();
      throw err;
    }
    if (this.listeners instanceof IpcListenerSet) {
      this.listeners.startAccepting((socket, listener) => this.dispatcher.accepted({ fd: -1, socket, listener, attempts: 0, sentAt: 0 }));
    } else if (transport === 'seqpacket') {
      this.listeners.startAccepting((fd, listener) => this.dispatcher.accepted({ fd, socket: null, listener, attempts: 0, sentAt: 0 }));
    }
    for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => this.raise('terminate'));
    process.on('SIGQUIT', () => this.raise('quit'));
    process.on('SIGHUP', () => this.raise('reload'));
    // Node would start its inspector on USR1; as nginx's master, this one has the logs reopened.
    process.on('SIGUSR1', () => this.raise('reopen'));
    stdoutLines.write(`handoff: master ${process.pid} listening on ${addresses.join(', ')} (${transport}), handoff dir ${dir}\n`);
    if (this.config.status) {
      this.statusServer = new StatusServer(() => this.snapshot(), this.log);
      const at = await this.statusServer.listen(this.config.status.host, this.config.status.port);
      stdoutLines.write(`handoff: status and dashboard on http://${at}/\n`);
    }
    // Last: a master that failed to start leaves no pid file behind for `-s` to find.
    writePidFile(this.pidFile);
    this.spawner.start(this.config.workers, this.generation);
  }

  // ---- signals: flags and one cycle -------------------------------------------------------

  private raise(flag: Flag): void {
    this.flags.add(flag);
    if (this.cycleScheduled) return;
    this.cycleScheduled = true;
    setImmediate(() => this.cycle());
  }

  private cycle(): void {
    this.cycleScheduled = false;
    if (this.flags.has('terminate')) void this.shutdown(false);
    else if (this.flags.has('quit')) void this.shutdown(true);
    else {
      if (this.flags.has('reopen')) this.reopenLogs();
      if (this.flags.has('reload')) void this.reload();
    }
    this.flags.clear();
  }

  // ---- reopen ----------------------------------------------------------------------------

  /**
   * As nginx's master on USR1: the master writes only to stdout and stderr, so it has nothing of
   * its own to reopen; every worker reopens its access log, told over its channel (joined workers
   * in other containers too). One older than protocol 5 cannot be told: it reopens on its own
   * USR1.
   */
  private reopenLogs(): void {
    const links = this.roster.all().filter((l) => l.identity !== null);
    const told = links.filter((l) => l.protocol >= REOPEN_SINCE_PROTOCOL);
    for (const link of told) link.sendReopen();
    this.log.notice(`reopening the log files: ${told.length} worker(s) told to reopen theirs`);
    for (const link of links.filter((l) => l.protocol < REOPEN_SINCE_PROTOCOL)) {
      this.log.warn(`${link.name} speaks handoff protocol ${link.protocol}, too old to be told to reopen its logs, so it needs its own USR1`);
    }
  }

  // ---- reload -----------------------------------------------------------------------------

  private async reload(): Promise<void> {
    if (!this.stopping) await this.reloads.run(() => this.loadAndRestart());
  }

  private async loadAndRestart(): Promise<void> {
    let next: Config;
    try {
      next = await this.loadConfig();
      checkReloadable(this.config, next);
      checkAccessLogFile(next);
      if (this.stopping) return;
      // The last step that can fail, before anything changes: new workers read what is published.
      this.upstreams.adopt({ ...next, listeners: this.publishedListeners }, (withSlots) => this.handoffDir.publish(withSlots));
    } catch (err) {
      const detail = err instanceof ConfigError ? err.message : `cannot publish the new configuration: ${(err as Error).message}`;
      // One line: what a multi-line ConfigError lists, "; " between its problems.
      const problems = detail.split('\n').map((line) => line.trim()).filter((line) => line !== '');
      this.log.error(`reload failed, the current configuration stays: ${problems.join('; ')}`);
      this.timeline.add({ kind: 'reload-refused', error: detail.split('\n').find((line) => line.trim() !== '')?.trim() ?? detail });
      return;
    }
    this.config = next;
    this.policy = createPolicy(next.handoff.policy);
    const retired = this.roster.retireCurrent(NEW_GENERATION_WAIT_MS, () =>
      this.log.error(
        `no new worker has registered in the ${NEW_GENERATION_WAIT_MS / 1000} s since the reload (see the errors above), ` +
          `so the old workers keep serving until one does`,
      ),
    );
    this.spawner.retire();
    this.spawner.start(next.workers, this.generation + 1);
    this.counters.reloads++;
    this.generation++;
    this.timeline.add({ kind: 'reload-done', generation: this.generation, starting: next.workers, retiring: retired });
    this.log.notice(`reloading: ${next.workers} new worker(s) are starting, and ${retired} old one(s) will finish their requests`);
  }

  // ---- workers ----------------------------------------------------------------------------

  private onChildExit(pid: number, exit: ExitStatus): void {
    const open = this.roster.registered().find((l) => l.identity!.origin === 'spawned' && l.identity!.pid === pid);
    this.departures.processExited(pid, exit, open);
  }

  snapshot(): StatusSnapshot {
    const { handoff } = this.config;
    return {
      master: {
        pid: process.pid,
        host: this.identity.host,
        transport: handoff.transport,
        policy: handoff.policy,
        generation: this.generation,
        uptimeSeconds: Math.round((Date.now() - this.startedAt) / 1000),
        listeners: this.addresses,
        acceptPaused: this.listeners.isPaused,
        waiting: this.dispatcher.waitingCount,
      },
      counters: { ...this.counters },
      workers: this.roster.snapshot(),
      upstreams: this.upstreams.snapshots(this.currentGeneration()),
      events: this.timeline.list(),
    };
  }

  /** The registered workers that read the current config. */
  private currentGeneration(): WorkerLink[] {
    return this.roster.registered().filter((l) => l.identity!.generation === this.generation);
  }

  // ---- shutdown ---------------------------------------------------------------------------

  private async shutdown(graceful: boolean): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.log.notice(graceful ? 'gracefully shutting down: the workers finish their requests, then exit' : 'exiting now: requests in flight are cut');
    this.dispatcher.stopAccepting();
    // The workers' copies of the listeners would keep the ports open: the ports close now.
    for (const link of this.roster.all()) link.takeBackListeners();
    this.listeners.close();
    this.statusServer?.close();
    this.upstreams.stop();
    if (graceful) await drainThenQuit(this.dispatcher, this.roster, GRACEFUL_SHUTDOWN_MS);
    await this.spawner.stop(graceful ? 'SIGQUIT' : 'SIGTERM', graceful ? GRACEFUL_SHUTDOWN_MS : 3_000);
    const links = this.roster.all();
    this.dispatcher.stop(links);
    // A channel that closes without a QUIT means "the master died" to a worker (it would go on
    // serving as an orphan): a fast shutdown tells the workers that joined through the directory
    // to quit (its own children got SIGTERM), as a graceful one already has.
    for (const link of links) {
      link.sendQuit();
      link.close();
    }
    this.handoffDir.close();
    removePidFile(this.pidFile);
    this.log.notice('exit: every worker has left and the handoff directory is cleaned up');
    process.exit(0);
  }
}
