// Counts and latencies of one run. Latencies are kept exactly (µs resolution) rather than in
// autocannon's histogram, which rounds to whole milliseconds: too coarse for ~1 ms keep-alive latencies.

export interface LatencySummary {
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

const CHUNK = 1 << 16;

export class Recorder {
  /** Responses with a 2xx status (their latency is recorded). */
  ok = 0;
  /** Responses with any other status. */
  non2xx = 0;
  /** Socket errors, timeouts and truncated responses (no usable response). */
  errors = 0;
  timeouts = 0;
  /** Bytes received on 2xx responses (head and body). */
  bytes = 0;
  private readonly chunks: Float64Array[] = [];
  private fill = CHUNK;

  get responses(): number {
    return this.ok + this.non2xx;
  }

  get failures(): number {
    return this.errors + this.non2xx;
  }

  /** A complete response; latency in milliseconds. */
  response(status: number, latencyMs: number, bytes: number): void {
    if (status < 200 || status > 299) {
      this.non2xx++;
      return;
    }
    this.ok++;
    this.bytes += bytes;
    if (this.fill === CHUNK) {
      this.chunks.push(new Float64Array(CHUNK));
      this.fill = 0;
    }
    this.chunks[this.chunks.length - 1]![this.fill++] = latencyMs;
  }

  error(timeout = false): void {
    this.errors++;
    if (timeout) this.timeouts++;
  }

  latency(): LatencySummary {
    const n = this.ok;
    if (n === 0) return { mean: 0, p50: 0, p90: 0, p99: 0, max: 0 };
    const all = new Float64Array(n);
    let at = 0;
    for (let i = 0; i < this.chunks.length; i++) {
      const chunk = this.chunks[i]!;
      const used = i === this.chunks.length - 1 ? this.fill : CHUNK;
      all.set(chunk.subarray(0, used), at);
      at += used;
    }
    all.sort();
    let sum = 0;
    for (let i = 0; i < n; i++) sum += all[i]!;
    // Nearest rank: the smallest value with at least p% of the samples at or below it.
    const rank = (p: number): number => all[Math.min(n - 1, Math.max(0, Math.ceil((p / 100) * n) - 1))]!;
    return { mean: sum / n, p50: rank(50), p90: rank(90), p99: rank(99), max: all[n - 1]! };
  }
}
