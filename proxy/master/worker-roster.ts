// Every worker link the master has, by standing: connected but not yet registered, the current
// generation (gets new connections), and the generation before the last reload (finishing its
// requests, gets nothing new, told to QUIT once the current one is complete).
import type { WorkerSnapshot } from '../observability/master-metrics';
import type { WorkerLink } from './worker-link';

export class WorkerRoster {
  private readonly unregistered = new Set<WorkerLink>();
  /** In registration order: what the scheduling policy chooses from. */
  private current: WorkerLink[] = [];
  private retiring: WorkerLink[] = [];
  private retireTimer: NodeJS.Timeout | null = null;

  connected(link: WorkerLink): void {
    this.unregistered.add(link);
  }

  /** False if the link was not waiting to register (a second REGISTER changes nothing). */
  register(link: WorkerLink, expected: number): boolean {
    if (!this.unregistered.delete(link)) return false;
    this.current.push(link);
    if (this.retireTimer && this.current.length >= expected) this.quitRetiring();
    return true;
  }

  /** Drops a link, wherever it stands. True if it was registered (it may hold connections). */
  remove(link: WorkerLink): boolean {
    if (this.unregistered.delete(link)) return false;
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

  /** The links that may take a connection; with the ipc transport only our own children can. */
  candidates(ipcOnly: boolean): readonly WorkerLink[] {
    return ipcOnly ? this.current.filter((l) => l.ipcChild !== null) : this.current;
  }

  /**
   * Reload: the current generation stops getting connections now, and is told to quit when the
   * next one has registered (or after `waitMs`), so there is never a moment without a worker.
   * Returns how many were retired.
   */
  retireCurrent(waitMs: number): number {
    this.quitRetiring(); // a reload during a reload: the generation before last goes now
    this.retiring = this.current.splice(0);
    this.retireTimer = setTimeout(() => this.quitRetiring(), waitMs);
    return this.retiring.length;
  }

  private quitRetiring(): void {
    if (this.retireTimer) clearTimeout(this.retireTimer);
    this.retireTimer = null;
    for (const link of this.retiring) link.sendQuit();
  }

  /** Registered links, both generations. */
  registered(): WorkerLink[] {
    return [...this.current, ...this.retiring];
  }

  /** Every link, for shutdown. */
  all(): WorkerLink[] {
    if (this.retireTimer) clearTimeout(this.retireTimer);
    return [...this.current, ...this.retiring, ...this.unregistered];
  }

  snapshot(): WorkerSnapshot[] {
    const row = (generation: 'current' | 'retiring') => (l: WorkerLink): WorkerSnapshot => ({
      pid: l.pid!,
      generation,
      activeConnections: l.activeConnections,
      inFlight: l.inFlightCount,
      requestsServed: l.requestsServed,
    });
    return [...this.current.map(row('current')), ...this.retiring.map(row('retiring'))];
  }
}
