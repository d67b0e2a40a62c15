// The targets of issue 17 (performance, round 2), each with Handoff's figure on the default
// transport next to nginx's from the same run, the ratio, and whether it is met. Everything is
// computed from the run's rows; a target whose data was not measured says so.
import type { MemoryRow, WholeBench } from './memory-report';
import type { Row, RunRecord } from './report';
import type { Workload } from './wrk';

/** The default transport: the Handoff every target is about. */
export const HANDOFF = 'handoff-seqpacket';
const NGINX = 'nginx';

/**
 * "At least as today" for 1 MiB responses and POST 64 KiB bodies: their ratios to nginx in the
 * last full run before issue 17 was filed (1 MiB: 1,511 MiB/s, 1.41× nginx; POST 64 KiB:
 * 10,222 req/s, 0.95×). Ratios, because absolute figures drift with the machine and the day.
 */
export const RATIOS_BEFORE_ISSUE_17 = { '1mib': 1.41, post64k: 0.95 } as const;

export const TARGET_LIMITS = {
  keepaliveReqPerSec: 0.9, keepaliveCpuPerReq: 1.3, closeReqPerSec: 0.8, p99: 1.5,
  idleMBPer1000: 1.5, wsKeptMB: 2, idleWorkerRssMB: 40, peakWorkerRssMB: 64,
} as const;

/** The issue's memory targets are in MB (10^6 bytes); /proc gives KiB and the tables MiB. */
const MB_PER_MIB = 1.048576;
const inMB = (mib: number): string => `${(mib * MB_PER_MIB).toFixed(2)} MB`;

export type TargetStatus = 'met' | 'not met' | 'not measured';

export interface Target {
  target: string;
  handoff: string;
  nginx: string;
  ratio: string;
  status: TargetStatus;
}

export interface TargetInputs {
  rows: Row[];
  runs: RunRecord[];
  workloads: Workload[];
  memory: MemoryRow[];
  whole: WholeBench;
}

const num = (n: number, d = 0): string => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
const x = (r: number | null): string => (r === null ? '' : `${r.toFixed(2)}×`);
const warn = (flags: string[]): string => (flags.length ? ' ⚠' : '');
const status = (measured: boolean, met: boolean): TargetStatus => (!measured ? 'not measured' : met ? 'met' : 'not met');

export function computeTargets(t: TargetInputs): Target[] {
  const row = (c: string, w: string): Row | undefined => t.rows.find((r) => r.candidate === c && r.workload === w);
  const mem = (c: string, w: string): MemoryRow | undefined => t.memory.find((r) => r.candidate === c && r.workload === w);
  const out: Target[] = [];

  /** A target on one wrk figure: Handoff's and nginx's, the ratio, met if `ok(ratio)`. */
  const wrkTarget = (target: string, w: string, fig: (r: Row) => string, ratio: (r: Row) => number | null, ok: (r: number) => boolean): void => {
    const h = row(HANDOFF, w);
    const n = row(NGINX, w);
    const r = h ? ratio(h) : null;
    out.push({
      target, handoff: h ? fig(h) + warn(h.flags) : '—', nginx: n ? fig(n) + warn(n.flags) : '—', ratio: x(r),
      status: status(r !== null, r !== null && ok(r)),
    });
  };
  const reqs = (r: Row): string => `${num(r.reqPerSec)} req/s`;
  const L = TARGET_LIMITS;
  wrkTarget(`keep-alive, 50 connections: req/s ≥ ${L.keepaliveReqPerSec}× nginx`, 'keepalive', reqs, (r) => r.ratio.reqPerSec, (r) => r >= L.keepaliveReqPerSec);
  wrkTarget(`keep-alive: CPU per request ≤ ${L.keepaliveCpuPerReq}× nginx`, 'keepalive', (r) => `${num(r.cpuUsPerReq, 1)} µs/req`, (r) => r.ratio.cpuUsPerReq, (r) => r <= L.keepaliveCpuPerReq);
  wrkTarget(`a new connection per request: req/s ≥ ${L.closeReqPerSec}× nginx`, 'close', reqs, (r) => r.ratio.reqPerSec, (r) => r >= L.closeReqPerSec);
  for (const w of t.workloads) {
    wrkTarget(`p99 ≤ ${L.p99}× nginx: ${w.title}`, w.name, (r) => `${(r.p99Us / 1000).toFixed(2)} ms`, (r) => r.ratio.p99Us, (r) => r <= L.p99);
  }
  const big = RATIOS_BEFORE_ISSUE_17['1mib'];
  wrkTarget(`1 MiB responses: at least as before (${big}× nginx)`, '1mib', (r) => `${num(r.mibPerSec)} MiB/s`, (r) => r.ratio.reqPerSec, (r) => r >= big);
  const post = RATIOS_BEFORE_ISSUE_17.post64k;
  wrkTarget(`POST 64 KiB: at least as before (${post}× nginx)`, 'post64k', reqs, (r) => r.ratio.reqPerSec, (r) => r >= post);
  out.push(tenK(t, row));

  const idle = (c: string): string => {
    const m = mem(c, 'idle-memory');
    return m ? `${inMB(m.mibPer1000)} (anon ${inMB(m.anonMibPer1000)})${warn(m.flags)}` : '—';
  };
  const hIdle = mem(HANDOFF, 'idle-memory');
  const nIdle = mem(NGINX, 'idle-memory');
  out.push({
    target: `memory per 1,000 idle keep-alive connections ≤ ${L.idleMBPer1000} MB per worker`, handoff: idle(HANDOFF), nginx: idle(NGINX),
    ratio: hIdle && nIdle && nIdle.mibPer1000 > 0 ? x(hIdle.mibPer1000 / nIdle.mibPer1000) : '',
    status: status(hIdle !== undefined, hIdle !== undefined && hIdle.answered === hIdle.asked && hIdle.mibPer1000 * MB_PER_MIB <= L.idleMBPer1000),
  });
  const ws = (c: string): string => {
    const m = mem(c, 'ws-memory');
    return m ? `${m.afterMinusBeforeMiB >= 0 ? '+' : ''}${inMB(m.afterMinusBeforeMiB)} (anon ${inMB(m.anonAfterMinusBeforeMiB)}), ${m.answered}/${m.asked} echoed${warn(m.flags)}` : '—';
  };
  const hWs = mem(HANDOFF, 'ws-memory');
  out.push({
    target: `after ${hWs?.asked.toLocaleString('en-US') ?? '2,000'} WebSockets open and close, worker RSS within ${L.wsKeptMB} MB of its baseline`,
    handoff: ws(HANDOFF), nginx: ws(NGINX), ratio: '',
    status: status(hWs !== undefined, hWs !== undefined && hWs.answered === hWs.asked && hWs.afterMinusBeforeMiB * MB_PER_MIB <= L.wsKeptMB),
  });
  const idleRss = (c: string): number | null => {
    // The stricter of the two idle figures: right after start, and before the idle-memory run.
    const figures = [...(t.whole.idleAtStart[c] ?? []).map((p) => p.rssKiB / 1024), ...(mem(c, 'idle-memory') ? [mem(c, 'idle-memory')!.idleRssMiB] : [])];
    return figures.length ? Math.max(...figures) : null;
  };
  const peak = (c: string): number | null => {
    const ks = t.whole.peakKiB[c] ?? [];
    return ks.length ? Math.max(...ks) / 1024 : null;
  };
  const mb = (v: number | null): string => (v === null ? '—' : `${(v * MB_PER_MIB).toFixed(1)} MB`);
  /** The private (anonymous) part of the largest idle worker at start: the rest is shared file pages. */
  const anonAtStart = (c: string): string => {
    const ps = t.whole.idleAtStart[c] ?? [];
    return ps.length ? ` (anon ${(Math.max(...ps.map((p) => p.anonKiB)) / 1024 * MB_PER_MIB).toFixed(1)})` : '';
  };
  const absolute = (target: string, f: (c: string) => number | null, limit: number, note: (c: string) => string = () => ''): void => {
    const h = f(HANDOFF);
    const n = f(NGINX);
    out.push({
      target, handoff: mb(h) + note(HANDOFF), nginx: mb(n) + note(NGINX), ratio: h !== null && n ? x(h / n) : '',
      status: status(h !== null, h !== null && h * MB_PER_MIB <= limit),
    });
  };
  absolute(`idle worker RSS ≤ ${L.idleWorkerRssMB} MB (largest worker)`, idleRss, L.idleWorkerRssMB, anonAtStart);
  absolute(`peak worker RSS over the whole bench ≤ ${L.peakWorkerRssMB} MB (largest worker)`, peak, L.peakWorkerRssMB);
  return out;
}

/** 10,000 connections all served: every run clean (no wrk error, every connection answered). */
function tenK(t: TargetInputs, row: (c: string, w: string) => Row | undefined): Target {
  const fig = (c: string): string => {
    const r = row(c, '10k');
    if (!r) return '—';
    const runs = t.runs.filter((x) => x.candidate === c && x.workload === '10k');
    const worst = Math.min(...runs.map((x) => (x.clients ? x.clients.established - x.clients.unanswered : 0)));
    return `${num(r.reqPerSec)} req/s, p99 ${(r.p99Us / 1000).toFixed(2)} ms, ${num(worst)} answered${warn(r.flags)}`;
  };
  const h = row(HANDOFF, '10k');
  const count = t.workloads.find((w) => w.name === '10k')?.connections ?? 10_000;
  return {
    target: `${num(count)} concurrent keep-alive connections, all served (every one answered, no wrk errors)`,
    handoff: fig(HANDOFF), nginx: fig(NGINX), ratio: h ? x(h.ratio.reqPerSec) : '',
    status: status(h !== undefined, h !== undefined && h.flaggedRuns === 0),
  };
}

export function targetsTable(targets: Target[], markdown: boolean): string[] {
  const head = ['target', HANDOFF, NGINX, 'ratio', 'met?'];
  const body = targets.map((t) => [t.target, t.handoff, t.nginx, t.ratio, t.status === 'met' ? 'met' : t.status === 'not met' ? '**not met**' : 'not measured']);
  if (markdown) return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...body.map((b) => `| ${b.join(' | ')} |`)];
  const plain = body.map((b) => b.map((c) => c.replace(/\*\*/g, '')));
  const widths = head.map((_, i) => Math.max(...[head, ...plain].map((r) => r[i].length)));
  return [head, ...plain].map((r) => r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd());
}
