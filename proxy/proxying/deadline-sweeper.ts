// Every deadline of a worker's client connections (and of the upstream exchange each runs), fired
// on time by one timer instead of a timer per socket per phase.
//
// Each connection keeps plain `deadline` timestamps (0 = none) that it moves with a property write
// as it changes phase or sees activity: nothing per request reaches this file, which is what keeps
// it cheap (node:http enforces headersTimeout the same way, by sweeping its ConnectionsList). A
// sweep alone is late by up to its period, though, and nginx fires its timers exactly (a red-black
// tree of them, the earliest deciding how long epoll_wait may sleep). So the one timer here wakes
// for whichever comes first:
//  - the next full sweep, once per `interval`: it checks every connection and lists, sorted, the
//    few whose earliest deadline falls before the sweep after it;
//  - the first deadline on that list: only the listed connections due by then are checked.
// Why the list cannot miss a deadline: no deadline is ever set closer than `interval` to the
// moment it is set (the interval is at most the shortest duration any deadline runs), so one set
// after a sweep is never due before the next sweep, which will see it. A deadline moved after it
// was listed can only have moved later; check() fires only what has passed, so a stale entry
// costs one call and nothing else.
// The cost is per sweep, not per request: one pass over the connections per interval, and a sort
// of those due within it.

export interface Sweepable {
  /** The earliest deadline it runs now (a Date.now() value); 0 = none. */
  nextDeadline(): number;
  /** Fires whatever deadline of this object has passed; `now` is Date.now(). */
  check(now: number): void;
}

/** The longest period between sweeps: the sort and the list stay short however long the timeouts. */
const MAX_INTERVAL_MS = 1_000;
/**
 * Sweeping more often than this costs more than it saves: timeouts shorter than it (a config of a
 * few ms, tests) fire up to this late, as they are set nearer than one interval.
 */
const MIN_INTERVAL_MS = 25;
/**
 * Deadlines in the same slot of this many ms fire in one wake: at most 100 wakes a second however
 * many connections time out, each at most this late (nginx's timer_resolution, which is off by
 * default there, does the same for the same reason).
 */
const WAKE_SLOT_MS = 10;

interface Due {
  readonly at: number;
  readonly item: Sweepable;
}

export class DeadlineSweeper {
  private readonly items = new Set<Sweepable>();
  private readonly interval: number;
  private nextSweepAt: number;
  /** Listed at the last sweep, sorted by deadline: the ones due before the next sweep. */
  private due: Due[] = [];
  /** The first entry of `due` not yet checked. */
  private dueIndex = 0;
  private timer: NodeJS.Timeout | null = null;

  /** `shortestDeadlineMs`: the shortest duration any deadline of the swept objects is set to run. */
  constructor(shortestDeadlineMs: number) {
    this.interval = Math.min(MAX_INTERVAL_MS, Math.max(MIN_INTERVAL_MS, shortestDeadlineMs));
    const now = Date.now();
    this.nextSweepAt = now + this.interval;
    this.arm(now);
  }

  add(item: Sweepable): void {
    this.items.add(item);
  }

  delete(item: Sweepable): void {
    this.items.delete(item);
  }

  stop(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.due = [];
  }

  private readonly wake = (): void => {
    this.timer = null;
    const now = Date.now();
    if (now >= this.nextSweepAt) this.sweep(now);
    else this.fireDue(now);
    this.arm(now);
  };

  private sweep(now: number): void {
    this.nextSweepAt = now + this.interval;
    const due: Due[] = [];
    // A check may close its connection, which deletes it from the set mid-iteration: a Set allows that.
    for (const item of this.items) {
      item.check(now);
      const at = item.nextDeadline();
      if (at !== 0 && at < this.nextSweepAt) due.push({ at, item });
    }
    due.sort((a, b) => a.at - b.at);
    this.due = due;
    this.dueIndex = 0;
  }

  /** Each listed entry is checked once at most: one whose deadline did not pass is the next sweep's. */
  private fireDue(now: number): void {
    const due = this.due;
    let i = this.dueIndex;
    for (; i < due.length && due[i].at <= now; i++) {
      const item = due[i].item;
      if (this.items.has(item)) item.check(now);
    }
    this.dueIndex = i;
  }

  private arm(now: number): void {
    let at = this.nextSweepAt;
    if (this.dueIndex < this.due.length) at = Math.min(at, Math.ceil(this.due[this.dueIndex].at / WAKE_SLOT_MS) * WAKE_SLOT_MS);
    this.timer = setTimeout(this.wake, Math.max(1, at - now));
    // Timeouts must never keep a worker alive on their own: shutdown exits explicitly.
    this.timer.unref();
  }
}
