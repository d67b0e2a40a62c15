// The soak's leak check on synthetic series: it must pass a steady state however noisy, and fail
// a slow leak, or the soak proves nothing.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { judgePooledTrend, judgeTrend, median, pooledSlope, slope, thirdsGrowth, type Point, type TrendBound } from '../helpers/leak-trend';

const MiB = 1024 * 1024;
const FD_BOUND: TrendBound = { allowance: 4, perMinute: 0 };
const RSS_BOUND: TrendBound = { allowance: 8 * MiB, perMinute: 2 * MiB };

/** A small deterministic generator: the same series every run. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function series(seconds: number, value: (t: number) => number, t0 = 0): Point[] {
  return Array.from({ length: seconds }, (_, i) => ({ t: t0 + i, v: value(t0 + i) }));
}

/** Connections come and go: ±6 fds around a level, the worst of it at random. */
function fdNoise(seed: number): (t: number) => number {
  const r = prng(seed);
  return () => Math.round((r() - 0.5) * 12);
}

/** V8's heap: grows with allocation until a major GC gives it back, plus page-level jitter. */
function gcSawtooth(periodS: number, amplitude: number, seed: number): (t: number) => number {
  const r = prng(seed);
  return (t) => ((t % periodS) / periodS) * amplitude + (r() - 0.5) * MiB;
}

describe('leak trend', () => {
  it('fits slopes and medians exactly on clean data', () => {
    assert.equal(slope(series(10, (t) => 3 * t + 7)), 3);
    assert.equal(median([5, 1, 3]), 3);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.equal(thirdsGrowth(series(91, (t) => t)), 60);
    // Two series at different levels, each flat: no slope, though a single fit would see a climb.
    const low = series(30, () => 10);
    const high = series(30, () => 50, 30);
    assert.equal(pooledSlope([low, high]), 0);
    assert.ok(slope([...low, ...high]) > 1);
  });

  it('passes a flat fd series with noise', () => {
    const noise = fdNoise(1);
    const verdict = judgeTrend(series(300, () => 40 + noise(0)), FD_BOUND);
    assert.equal(verdict.leaking, false, JSON.stringify(verdict));
  });

  it('passes a flat fd series with a burst of connections at the very end', () => {
    const noise = fdNoise(2);
    const verdict = judgeTrend(series(300, (t) => 40 + noise(0) + (t >= 295 ? 30 : 0)), FD_BOUND);
    assert.equal(verdict.leaking, false, JSON.stringify(verdict));
  });

  it('fails an fd series that gains one fd every 30 s under the same noise', () => {
    const noise = fdNoise(3);
    const verdict = judgeTrend(series(300, (t) => 40 + Math.floor(t / 30) + noise(0)), FD_BOUND);
    assert.equal(verdict.leaking, true, JSON.stringify(verdict));
  });

  it('passes an RSS series with a GC sawtooth of 20 MiB', () => {
    for (const period of [17, 40, 90]) {
      const verdict = judgeTrend(series(300, gcSawtooth(period, 20 * MiB, period)), RSS_BOUND);
      assert.equal(verdict.leaking, false, `period ${period}: ${JSON.stringify(verdict)}`);
    }
  });

  it('fails the same sawtooth with a leak of one 64 KiB buffer per request at 5 requests/s', () => {
    const saw = gcSawtooth(40, 20 * MiB, 4);
    const verdict = judgeTrend(series(300, (t) => saw(t) + t * 5 * 64 * 1024), RSS_BOUND);
    assert.equal(verdict.leaking, true, JSON.stringify(verdict));
  });

  it('pools workers that each start at their own level: steady ones pass', () => {
    const noise = fdNoise(5);
    const workers = [0, 1, 2, 3, 4, 5].map((k) => series(40, () => 30 + 7 * k + noise(0), 45 * k));
    const verdict = judgePooledTrend(workers, FD_BOUND);
    assert.equal(verdict.leaking, false, JSON.stringify(verdict));
  });

  it('pools workers: each gaining an fd every 4 s of its life fails', () => {
    const noise = fdNoise(6);
    const workers = [0, 1, 2, 3, 4, 5].map((k) => series(40, (t) => 30 + Math.floor((t - 45 * k) / 4) + noise(0), 45 * k));
    const verdict = judgePooledTrend(workers, FD_BOUND);
    assert.equal(verdict.leaking, true, JSON.stringify(verdict));
  });

  it('has nothing to judge in series too short to have thirds', () => {
    assert.equal(judgePooledTrend([series(2, (t) => t * 100)], FD_BOUND).leaking, false);
  });
});
