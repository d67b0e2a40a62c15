// What happened to the fleet, newest last: the dashboard's timeline and /status.json's `events`.
// Bounded (a ring): a workshop runs for hours, and the page only ever shows the last few.
import type { WorkerIdentity } from './worker-identity';

export type FleetEvent =
  | { readonly kind: 'worker-joined'; readonly worker: WorkerIdentity; readonly idleReason: string | null }
  | {
      readonly kind: 'worker-left';
      readonly worker: WorkerIdentity;
      /** "exited with code 0", "killed by SIGKILL", "channel closed" (a joined worker: no exit status here). */
      readonly why: string;
      readonly exitCode: number | null;
      readonly signal: string | null;
      /** Connections it had not acknowledged, handed to other workers. */
      readonly resent: number;
    }
  /** One of ours died before it registered (a crash at start): it has no id yet. */
  | { readonly kind: 'worker-failed-to-start'; readonly pid: number; readonly why: string }
  | { readonly kind: 'reload-done'; readonly generation: number; readonly starting: number; readonly retiring: number }
  /** `error`: the first line of what was wrong (the log has all of it). */
  | { readonly kind: 'reload-refused'; readonly error: string };

export type TimelineEntry = FleetEvent & {
  /** Increases by one per event for the master's run: the page tells new events from seen ones. */
  readonly seq: number;
  /** Date.now() when it happened. */
  readonly at: number;
};

export const TIMELINE_LENGTH = 100;

export class EventTimeline {
  private readonly entries: TimelineEntry[] = [];
  private seq = 0;

  constructor(private readonly length = TIMELINE_LENGTH) {}

  add(event: FleetEvent): void {
    this.entries.push({ ...event, seq: ++this.seq, at: Date.now() });
    if (this.entries.length > this.length) this.entries.shift();
  }

  list(): readonly TimelineEntry[] {
    return [...this.entries];
  }
}
