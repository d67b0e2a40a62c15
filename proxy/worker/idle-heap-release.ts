// Gives V8's heap back once a worker goes idle after a burst, as nginx's workers free their
// per-connection pools when connections close.
//
// Why: a burst of connections (2,000 WebSockets, 200 at a time) leaves a worker's old space at
// ~25 MB of which ~9 MB is live. The tunnels' objects outlive the small young generation
// (worker-spawner.ts), so they die in old space, and an idle worker allocates nothing: no major
// GC comes to collect them, and V8's memory reducer, which would compact, starts only after 20 s
// to minutes, or not at all. Measured (2 workers, probe of 2,000 WebSockets): RSS 17-18 MB above
// baseline for as long as 90 s; after two full GCs, 5-7 MB.
//
// Two collections, because the first frees the garbage but leaves it as holes in pages that
// still hold a live object; the second picks those sparse pages for compaction (V8 chooses them
// by the live bytes the previous marking counted) and releases them. 15-30 ms of CPU for such a
// heap, once per idle period after growth, never while a connection is open.
import v8 from 'node:v8';
import vm from 'node:vm';

/** Heap growth since the last release that is worth two full GCs. */
const RELEASE_ABOVE_BYTES = 4 * 1024 * 1024;

export type Collect = () => void;

/**
 * V8's gc() without exposing it to the worker's own context: the flag makes new contexts get
 * it, and only this module's does. null where V8 refuses (the heap is then left to V8).
 */
function fullGc(): Collect | null {
  v8.setFlagsFromString('--expose-gc');
  const gc: unknown = vm.runInNewContext('typeof gc === "function" ? gc : null');
  return typeof gc === 'function' ? (gc as Collect) : null;
}

export class IdleHeapRelease {
  /** The heap's size after the last release (or at start): growth is measured from it. */
  private settledBytes: number;
  /** What the activity counter was at the last check; null when the worker was busy then. */
  private lastActivity: number | null = null;

  /** `collect`: a full GC (V8's, by default; null releases nothing); `heapBytes`: the heap's committed size. */
  constructor(
    private readonly collect: Collect | null = fullGc(),
    private readonly heapBytes: () => number = () => v8.getHeapStatistics().total_heap_size,
  ) {
    this.settledBytes = heapBytes();
  }

  /**
   * Called periodically with the open connections and a counter that moves with traffic (requests
   * served): releases once the worker has been seen idle, with nothing served, twice in a row.
   */
  check(openConnections: number, activity: number): void {
    if (openConnections > 0) {
      this.lastActivity = null;
      return;
    }
    const idleSinceLastCheck = this.lastActivity === activity;
    this.lastActivity = activity;
    if (!idleSinceLastCheck || this.collect === null) return;
    if (this.heapBytes() - this.settledBytes < RELEASE_ABOVE_BYTES) return;
    this.collect();
    this.collect();
    this.settledBytes = this.heapBytes();
  }
}
