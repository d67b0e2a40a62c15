// Where each accepted connection goes: to the worker the scheduling policy picks, or, when every
// worker is full, into a short queue while accepting pauses (the kernel backlog holds the rest).
// A connection a worker lost or rejected is handed out again, never twice to a worker that just
// refused it; after MAX_HANDOFF_ATTEMPTS it is closed. The master owns each connection until a
// worker acknowledges it; then the master's copy is released here, and only here.
import { native } from '../handoff/native';
import type { MasterCounters } from '../observability/master-metrics';
import type { Logger } from '../observability/logger';
import type { SchedulingPolicy } from './scheduling-policy';
import type { Handoff, WorkerLink } from './worker-link';

/** A connection that every worker lost or rejected this many times is closed (a reset to the client). */
const MAX_HANDOFF_ATTEMPTS = 5;
/** How long a worker that rejected a connection gets no new ones. */
const REJECT_BACKOFF_MS = 250;

/** What the dispatcher needs of the accept side: stop and restart taking connections. */
export interface AcceptControl {
  readonly isPaused: boolean;
  pause(): void;
  resume(): void;
}

export class Dispatcher {
  /** Accepted connections waiting for a worker with room; accepting is paused meanwhile. */
  private readonly waiting: Handoff[] = [];
  private retryTimer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(
    /** The policy and the workers it may choose from, asked at each decision (both change on reload). */
    private readonly choose: () => { policy: SchedulingPolicy; candidates: readonly WorkerLink[] },
    private readonly accept: AcceptControl,
    private readonly counters: MasterCounters,
    private readonly log: Logger,
  ) {}

  get waitingCount(): number {
    return this.waiting.length;
  }

  accepted(handoff: Handoff): void {
    this.counters.accepted++;
    this.dispatch(handoff);
  }

  private pick(): WorkerLink | null {
    const { policy, candidates } = this.choose();
    return policy.pick(candidates);
  }

  private dispatch(handoff: Handoff): void {
    const link = this.pick();
    if (link === null) {
      this.waiting.push(handoff);
      if (!this.accept.isPaused) this.counters.acceptPauses++;
      this.accept.pause();
      return;
    }
    link.hand(link.nextSeq(), handoff, (lost) => this.redispatch(lost, `the IPC send to ${link.name} failed`));
    if (handoff.socket !== null) this.counters.handedOff++; // ipc: Node acknowledges internally
  }

  /** Room appeared (an ACK, a STATUS, a new worker): hand out parked connections, then accept again. */
  drainWaiting(): void {
    while (this.waiting.length > 0 && this.pick() !== null) this.dispatch(this.waiting.shift()!);
    if (this.waiting.length === 0 && !this.stopped) this.accept.resume();
  }

  /** The master's copy of a connection that is done with (handed over, or given up on). */
  private release(handoff: Handoff): void {
    if (handoff.socket !== null) handoff.socket.destroy();
    else native.closeFd(handoff.fd);
  }

  private redispatch(handoff: Handoff, why: string): void {
    handoff.attempts++;
    this.counters.resent++;
    if (handoff.attempts >= MAX_HANDOFF_ATTEMPTS) {
      this.counters.dropped++;
      this.log.error(`closing a connection that ${handoff.attempts} workers could not take (${why})`);
      this.release(handoff);
      return;
    }
    this.dispatch(handoff);
  }

  /**
   * ACK: the worker has its own copies of seq and of those sent before it; ours can go (close,
   * never shutdown: the socket is shared).
   */
  acknowledged(link: WorkerLink, seq: number, activeConnections: number): void {
    for (const handoff of link.settleThrough(seq, activeConnections)) {
      this.counters.handedOff++;
      this.release(handoff);
    }
    this.drainWaiting();
  }

  /** REJECT: the worker could not take it (out of fds, at its limit); we still hold it. */
  rejected(link: WorkerLink, seq: number, activeConnections: number): void {
    const handoff = link.settle(seq, activeConnections);
    link.refuseFor(REJECT_BACKOFF_MS);
    // Parked connections may be waiting for this worker alone: look again when its pause ends.
    this.retryTimer ??= setTimeout(() => {
      this.retryTimer = null;
      this.drainWaiting();
    }, REJECT_BACKOFF_MS);
    if (handoff) this.redispatch(handoff, `${link.name} rejected it`);
  }

  /** The worker's channel closed: what it had not acknowledged goes to the others. Returns how many. */
  workerGone(link: WorkerLink): number {
    const orphans = link.takeOrphans();
    for (const handoff of orphans) this.redispatch(handoff, `${link.name} left`);
    return orphans.length;
  }

  /** Shutdown, once the workers are gone: whatever is still ours is closed. */
  stop(links: readonly WorkerLink[]): void {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    for (const handoff of this.waiting.splice(0)) this.release(handoff);
    for (const link of links) for (const handoff of link.takeOrphans()) this.release(handoff);
  }

  /** Shutdown begins: accepting stays paused whatever frees up. */
  stopAccepting(): void {
    this.stopped = true;
  }
}
