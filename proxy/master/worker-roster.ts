// Every worker link the master has, by standing: connected but not yet registered, the current
// generation (gets new connections), the generation before the last reload (finishing its
// requests, gets nothing new, told to QUIT once the current one is complete), and the workers
// told to QUIT (older generations, late registrants), listed until their channels close: they
// may still hold unacknowledged connections, which a closed channel re-sends. Until the first
// worker of a new generation registers, the old one keeps serving: a reload whose workers never
// come up (they crash at start, or speak another protocol) leaves the proxy as it was, not empty.
// A worker that cannot serve under the transport (it says why when it registers) stands apart,
// idle: it must neither take connections nor count as the next generation having arrived.
import { describeUnfitness } from '../handoff/host-identity';
import type { WorkerSnapshot, WorkerState } from '../observability/master-metrics';
import type { WorkerLink } from './worker-link';

export class WorkerRoster {
  private readonly unregistered = new Set<WorkerLink>();
  /** In registration order: what the scheduling policy chooses from. */
  private current: WorkerLink[] = [];
  private retiring: WorkerLink[] = [];
  /** Told to QUIT: no connections, but a graceful shutdown still waits for their handoffs. */
  private readonly quitting = new Set<WorkerLink>();
  /** Registered and unable to serve under this transport (WorkerLink.unfit). */
  private readonly idle = new Set<WorkerLink>();
  private retireTimer: NodeJS.Timeout | null = null;
  /** The wait for a new generation ran out with none of it registered; the first to come ends it. */
  private successorLate = false;

  connected(link: WorkerLink): void {
    this.unregistered.add(link);
  }

  /** False if the link was not waiting to register (a second REGISTER changes nothing). */
  register(link: WorkerLink, expected: number): boolean {
    if (!this.unregistered.delete(link)) return false;
    this.current.push(link);
    if ((this.retireTimer && this.current.length >= expected) || this.successorLate) this.quitRetiring();
    return true;
  }

  /** A worker that cannot serve under this transport: listed, told nothing, given nothing. */
  registerIdle(link: WorkerLink): void {
    if (this.unregistered.delete(link)) this.idle.add(link);
  }

  /**
   * A worker of a generation already replaced (it registered after a later reload): it gets no
   * connections and is told to quit at once; it stays listed until its channel closes.
   */
  registerRetired(link: WorkerLink): void {
    if (!this.unregistered.delete(link)) return;
    this.quitting.add(link);
    link.sendQuit();
  }

  /** Drops a link, wherever it stands. True if it was registered (it may hold connections). */
  remove(link: WorkerLink): boolean {
    if (this.unregistered.delete(link)) return false;
    if (this.quitting.delete(link) || this.idle.delete(link)) return true;
    for (const list of [this.current, this.retiring]) {
      const index = list.indexOf(link);
      if (index !== -1) {
        list.splice(index, 1);
        return true;
      }
    }
    return false;
  }

  get registeredCount(): number {
    return this.current.length;
  }

  /**
   * The links that may take a connection: the current generation, or the one before it while no
   * worker of the current one has registered.
   */
  candidates(): readonly WorkerLink[] {
    return this.current.length > 0 ? this.current : this.retiring;
  }

  /**
   * Reload: the current generation hands over to the next as soon as one of it registers, and is
   * told to quit when all of it has (or `waitMs` after the reload, once at least one has), so
   * there is never a moment without a worker. `onLate` runs if `waitMs` passes with none
   * registered: the old generation then keeps serving until one does. Returns how many retire.
   */
  retireCurrent(waitMs: number, onLate: () => void): number {
    if (this.current.length > 0) {
      this.quitRetiring(); // a reload during a reload: the generation before last goes now
      this.retiring = this.current.splice(0);
    } else {
      // A reload while none of the last one's workers has registered: the generation before is
      // still the one serving, and stays until a worker of this newest one registers.
      if (this.retireTimer) clearTimeout(this.retireTimer);
      this.successorLate = false;
    }
    this.retireTimer = setTimeout(() => {
      this.retireTimer = null;
      if (this.current.length > 0) return this.quitRetiring();
      this.successorLate = true;
      onLate();
    }, waitMs);
    return this.retiring.length;
  }

  private quitRetiring(): void {
    if (this.retireTimer) clearTimeout(this.retireTimer);
    this.retireTimer = null;
    this.successorLate = false;
    for (const link of this.retiring.splice(0)) {
      link.sendQuit();
      this.quitting.add(link);
    }
  }

  /** Every registered link, whatever its generation: the workers that may hold connections. */
  registered(): WorkerLink[] {
    return [...this.current, ...this.retiring, ...this.quitting, ...this.idle];
  }

  /** Every link, for shutdown. */
  all(): WorkerLink[] {
    if (this.retireTimer) clearTimeout(this.retireTimer);
    return [...this.registered(), ...this.unregistered];
  }

  /**
   * One row per registered worker, in registration order within each standing. Unresponsive
   * comes first: whatever its standing, a worker not reading its channel is what matters about it.
   */
  snapshot(): WorkerSnapshot[] {
    const serving = new Set(this.candidates());
    const now = Date.now();
    const state = (l: WorkerLink): WorkerState =>
      l.stalled(now) ? 'stalled' : this.idle.has(l) ? 'idle' : serving.has(l) ? 'serving' : 'draining';
    return this.registered().map((l) => ({
      ...l.identity!,
      state: state(l),
      idleReason: l.unfit && describeUnfitness(l.unfit),
      activeConnections: l.activeConnections,
      inFlight: l.inFlightCount,
      requestsServed: l.requestsServed,
      handoffsSent: l.handoffsSent,
    }));
  }
}
