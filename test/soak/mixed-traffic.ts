// A fixed rate of mixed client operations, bounded in concurrency so that the soak cannot starve
// the machine (or itself): an operation due while the bound is reached is skipped and counted.
import http from 'node:http';
import { OPS, type OpKind, type OpOutcome } from './client-ops';

export interface OpRecord {
  readonly kind: OpKind;
  /** ms since the epoch. */
  readonly startedAt: number;
  readonly endedAt: number;
  readonly outcome: OpOutcome;
  readonly ports: readonly number[];
}

/** Out of every 20 operations. */
const MIX: readonly [OpKind, number][] = [
  ['keepalive-get', 7],
  ['new-conn-get', 3],
  ['post', 3],
  ['chunked-upload', 2],
  ['slow-client', 1],
  ['vanish', 2],
  ['websocket', 1],
  ['upstream-error', 1],
];
const CYCLE: OpKind[] = MIX.flatMap(([kind, weight]) => Array<OpKind>(weight).fill(kind));

export interface TrafficOptions {
  readonly port: number;
  readonly perSecond: number;
  readonly maxInFlight: number;
  readonly timeoutMs: number;
}

export class MixedTraffic {
  readonly records: OpRecord[] = [];
  skipped = 0;
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  private readonly inFlight = new Set<Promise<void>>();
  private timer: NodeJS.Timeout | null = null;
  private n = 0;

  constructor(private readonly opts: TrafficOptions) {}

  start(): void {
    // Spread evenly over the cycle (a keep-alive GET is never followed by six more in a row).
    const order = spread(CYCLE);
    this.timer = setInterval(() => this.launch(order[this.n % order.length]!), 1000 / this.opts.perSecond);
  }

  /** Stops launching, waits for every operation in flight, closes the idle keep-alive connections. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await Promise.all(this.inFlight);
    this.agent.destroy();
  }

  private launch(kind: OpKind): void {
    const n = this.n++;
    if (this.inFlight.size >= this.opts.maxInFlight) {
      this.skipped++;
      return;
    }
    const ports: number[] = [];
    const startedAt = Date.now();
    const op = OPS[kind]({ port: this.opts.port, agent: this.agent, timeoutMs: this.opts.timeoutMs, n: Math.floor(n / CYCLE.length), ports }).then((outcome) => {
      this.records.push({ kind, startedAt, endedAt: Date.now(), outcome, ports });
      this.inFlight.delete(op);
    });
    this.inFlight.add(op);
  }
}

/** Interleaves the kinds so each recurs evenly over the cycle. */
function spread(cycle: OpKind[]): OpKind[] {
  const slots = cycle.map((kind, i) => {
    const of = cycle.filter((k) => k === kind);
    const rank = cycle.slice(0, i).filter((k) => k === kind).length;
    return { kind, at: (rank + 0.5) / of.length };
  });
  return slots.sort((a, b) => a.at - b.at).map((s) => s.kind);
}
