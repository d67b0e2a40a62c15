// Does a resource (fds, RSS) trend up over a run? The soak's leak check, kept apart so that unit
// tests can feed it synthetic series and show it passes a steady state and fails a leak.
//
// A series is judged leaking only when two estimates agree that it grew by more than its bound
// allows: the least-squares slope projected over the span (sees a steady climb, but a spike at
// either end tilts it) and the growth of the median from the first third of the span to the last
// (blind to spikes and to a GC sawtooth, which moves the median little, but noisy on short runs).
// A real leak moves both; noise rarely moves both the same way beyond the bound.

export interface Point {
  /** Seconds since any fixed origin. */
  readonly t: number;
  readonly v: number;
}

/** Growth allowed over a span: a fixed allowance plus so much per minute (0 for fds). */
export interface TrendBound {
  readonly allowance: number;
  readonly perMinute: number;
}

export interface TrendVerdict {
  /** Points judged. */
  readonly n: number;
  /** Seconds from the first point judged to the last. */
  readonly span: number;
  /** Least-squares slope, per minute. */
  readonly slopePerMinute: number;
  /** The slope times the span: the growth the fit says happened. */
  readonly fittedGrowth: number;
  /** Median of the first third of the span, and of the last (pooled: the medians of each series' own). */
  readonly early: number;
  readonly late: number;
  /** `late - early` (pooled: the median of each series' own). */
  readonly thirdsGrowth: number;
  /** What the bound allows over this span. */
  readonly allowed: number;
  readonly leaking: boolean;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Least-squares slope of v over t (units per second); 0 for fewer than two distinct times. */
export function slope(points: readonly Point[]): number {
  return pooledSlope([points]);
}

/**
 * One slope for several series that each have their own level (a worker's fds depend on what it
 * holds; each new worker starts from its own baseline): the least-squares slope of the series
 * taken about their own means, so that a step from one series to the next counts for nothing.
 */
export function pooledSlope(series: readonly (readonly Point[])[]): number {
  let sxy = 0;
  let sxx = 0;
  for (const points of series) {
    if (points.length < 2) continue;
    let mt = 0;
    let mv = 0;
    for (const p of points) {
      mt += p.t;
      mv += p.v;
    }
    mt /= points.length;
    mv /= points.length;
    for (const p of points) {
      sxy += (p.t - mt) * (p.v - mv);
      sxx += (p.t - mt) ** 2;
    }
  }
  return sxx === 0 ? 0 : sxy / sxx;
}

/** Medians of the first and the last third of the span (by time, not by count). */
export function thirds(points: readonly Point[]): { early: number; late: number } {
  if (points.length < 3) return { early: median(points.map((p) => p.v)), late: median(points.map((p) => p.v)) };
  const first = points[0]!.t;
  const third = (points[points.length - 1]!.t - first) / 3;
  return {
    early: median(points.filter((p) => p.t <= first + third).map((p) => p.v)),
    late: median(points.filter((p) => p.t >= first + 2 * third).map((p) => p.v)),
  };
}

/** Median of the last third of the span minus that of the first third. */
export function thirdsGrowth(points: readonly Point[]): number {
  if (points.length < 3) return 0;
  const { early, late } = thirds(points);
  return late - early;
}

function spanOf(points: readonly Point[]): number {
  return points.length < 2 ? 0 : points[points.length - 1]!.t - points[0]!.t;
}

function allowedOver(bound: TrendBound, span: number): number {
  return bound.allowance + (bound.perMinute * span) / 60;
}

/** One series over the whole run (the master's). Points in time order. */
export function judgeTrend(points: readonly Point[], bound: TrendBound): TrendVerdict {
  const span = spanOf(points);
  const perSecond = slope(points);
  const fittedGrowth = perSecond * span;
  const { early, late } = thirds(points);
  const growth = thirdsGrowth(points);
  const allowed = allowedOver(bound, span);
  return {
    n: points.length,
    span,
    slopePerMinute: perSecond * 60,
    fittedGrowth,
    early,
    late,
    thirdsGrowth: growth,
    allowed,
    leaking: fittedGrowth > allowed && growth > allowed,
  };
}

/**
 * Many short series of one role (the workers: reloads and kills replace them, so each lives only
 * so long). A leak in a worker grows each worker over its own life: the pooled slope is projected
 * over the median life, and the thirds growth is the median of each worker's own.
 */
export function judgePooledTrend(series: readonly (readonly Point[])[], bound: TrendBound): TrendVerdict {
  const judged = series.filter((s) => s.length >= 3);
  const span = median(judged.map(spanOf));
  if (judged.length === 0) {
    return { n: 0, span: 0, slopePerMinute: 0, fittedGrowth: 0, early: NaN, late: NaN, thirdsGrowth: 0, allowed: allowedOver(bound, 0), leaking: false };
  }
  const perSecond = pooledSlope(judged);
  const fittedGrowth = perSecond * span;
  const growth = median(judged.map(thirdsGrowth));
  const each = judged.map(thirds);
  const allowed = allowedOver(bound, span);
  return {
    n: judged.reduce((sum, s) => sum + s.length, 0),
    span,
    slopePerMinute: perSecond * 60,
    fittedGrowth,
    early: median(each.map((e) => e.early)),
    late: median(each.map((e) => e.late)),
    thirdsGrowth: growth,
    allowed,
    leaking: fittedGrowth > allowed && growth > allowed,
  };
}
