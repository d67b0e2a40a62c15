// One interval timer per worker instead of a timer per socket per phase. Each connection keeps a
// plain `deadline` timestamp (0 = none) that it moves with a property write as it changes phase or
// sees activity; the sweep calls check() on every connection it holds. This is how node:http
// enforces headersTimeout too (its ConnectionsList), and it costs nothing per request.
// Precision is one interval, which is kept at a quarter of the shortest timeout (at most 1 s).

export interface Sweepable {
  /** Fires whatever deadline of this object has passed; `now` is Date.now(). */
  check(now: number): void;
}

export class DeadlineSweeper {
  private readonly items = new Set<Sweepable>();
  private readonly timer: NodeJS.Timeout;

  constructor(shortestTimeoutMs: number) {
    const interval = Math.min(1_000, Math.max(25, Math.floor(shortestTimeoutMs / 4)));
    this.timer = setInterval(() => this.sweep(), interval);
    // Timeouts must never keep a worker alive on their own: shutdown exits explicitly.
    this.timer.unref();
  }

  add(item: Sweepable): void {
    this.items.add(item);
  }

  delete(item: Sweepable): void {
    this.items.delete(item);
  }

  private sweep(): void {
    const now = Date.now();
    for (const item of this.items) item.check(now);
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
