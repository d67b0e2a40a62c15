// How the requests of a run through the proxy spread over its workers, read from the master's
// status listener (/status.json) before and after the run: each worker's requestsServed, by the
// id the master gives it (w1, w2, …), so workers in other containers that share a pid stay apart.
import http from 'node:http';

export interface WorkerShare {
  readonly id: string;
  readonly host: string | null;
  readonly origin: string;
  /** Requests the worker served during the run. */
  readonly requests: number;
  /** Of all requests the workers served during the run, 0..1. */
  readonly share: number;
  /** It was gone by the end of the run (killed, or retired by a reload): its last count is used. */
  readonly left: boolean;
}

interface WorkerCount {
  id: string;
  host: string | null;
  origin: string;
  requestsServed: number;
}

type Counts = Map<string, WorkerCount>;

/** Workers report their counts to the master at least once a second; a count that has not moved for this long is final. */
const SETTLED_MS = 1_200;
const SETTLE_LIMIT_MS = 5_000;

export function fetchCounts(status: URL): Promise<Counts> {
  return new Promise((resolve, reject) => {
    const req = http.get(new URL('/status.json', status), { agent: false, timeout: 3000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => {
        try {
          const workers = (JSON.parse(body) as { workers: WorkerCount[] }).workers;
          resolve(new Map(workers.map((w) => [w.id, { id: w.id, host: w.host, origin: w.origin, requestsServed: w.requestsServed }])));
        } catch (err) {
          reject(new Error(`${status.href}status.json: not the master's status (${(err as Error).message})`));
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 3 s')));
    req.on('error', (err) => reject(new Error(`cannot read the master's status at ${status.href}: ${err.message}`)));
  });
}

const total = (counts: Counts): number => [...counts.values()].reduce((n, w) => n + w.requestsServed, 0);

export class WorkerSpread {
  private before: Counts = new Map();
  /** Every worker seen, with its latest count: one that leaves mid-run keeps what it had served. */
  private seen: Counts = new Map();

  constructor(private readonly status: URL) {}

  async start(): Promise<void> {
    this.before = await this.settled();
    this.seen = new Map(this.before);
  }

  /** Polled during the run, so a worker killed mid-run is still counted up to its last report. */
  async sample(): Promise<void> {
    for (const [id, w] of await fetchCounts(this.status)) this.seen.set(id, w);
  }

  async finish(): Promise<WorkerShare[]> {
    const after = await this.settled();
    for (const [id, w] of after) this.seen.set(id, w);
    const served = [...this.seen.values()].map((w) => ({ w, requests: w.requestsServed - (this.before.get(w.id)?.requestsServed ?? 0) }));
    const sum = served.reduce((n, s) => n + s.requests, 0);
    return served
      .filter((s) => s.requests > 0 || after.has(s.w.id))
      .map(({ w, requests }) => ({ id: w.id, host: w.host, origin: w.origin, requests, share: sum > 0 ? requests / sum : 0, left: !after.has(w.id) }))
      .sort((a, b) => Number(a.id.slice(1)) - Number(b.id.slice(1)));
  }

  /** The counts once the workers' last reports are in: the total has stopped moving. */
  private async settled(): Promise<Counts> {
    const start = Date.now();
    let counts = await fetchCounts(this.status);
    let stableSince = Date.now();
    while (Date.now() - stableSince < SETTLED_MS && Date.now() - start < SETTLE_LIMIT_MS) {
      await new Promise((r) => setTimeout(r, 200));
      const next = await fetchCounts(this.status);
      if (total(next) !== total(counts) || next.size !== counts.size) stableSince = Date.now();
      counts = next;
    }
    return counts;
  }
}

/** "w1 34% · w2 33% · w3 33% (joined, 4f1c2a9b8e7d)" */
export function describeSpread(spread: readonly WorkerShare[]): string {
  return spread
    .map((w) => `${w.id} ${Math.round(w.share * 100)}%${w.origin === 'joined' ? ` (joined, ${w.host ?? '?'})` : ''}${w.left ? ' (left)' : ''}`)
    .join(' · ');
}
