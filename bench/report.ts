// Aggregation (median over rounds, ratio to nginx) and the three outputs: console, JSON, markdown.
import type { Workload } from './wrk';
import type { ClientView } from './conn-workloads';

/** One measured run of one candidate on one workload. */
export interface RunRecord {
  round: number;
  candidate: string;
  workload: string;
  requests: number;
  seconds: number;
  reqPerSec: number;
  mibPerSec: number;
  p50Us: number;
  p99Us: number;
  maxUs: number;
  errors: Record<string, number>;
  /** Why this run cannot be trusted as-is (errors, short responses, a worker died); empty if clean. */
  flags: string[];
  cpuUsPerReq: number;
  userUsPerReq: number;
  sysUsPerReq: number;
  /** Peak RSS during the run (VmHWM, reset before warm-up): largest process and the tree's sum. */
  rssMaxMiB: number;
  rssSumMiB: number;
  /** Root process first (master / primary), then its descendants: tells workers from the master. */
  rssPerProcessMiB: number[];
  processes: number;
  loadgenCpuUsPerReq: number;
  upstreamCpuUsPerReq: number;
  /** CPU used by every other process on the machine during the window, in % of one core. */
  othersCpuPct: number;
  /** Many-connection workloads: wrk's connections at the end of the window, from the kernel. */
  clients?: ClientView;
}

/** Medians over the rounds of one (candidate, workload), and ratios to nginx's medians. */
export interface Row {
  candidate: string;
  workload: string;
  runs: number;
  /** Runs left out of the medians because they were flagged (all runs are used if none is clean). */
  flaggedRuns: number;
  flags: string[];
  reqPerSec: number;
  mibPerSec: number;
  p50Us: number;
  p99Us: number;
  cpuUsPerReq: number;
  userUsPerReq: number;
  sysUsPerReq: number;
  /** Peaks are a max over rounds, not a median: the question they answer is "how much at most". */
  rssMaxMiB: number;
  rssSumMiB: number;
  loadgenCpuUsPerReq: number;
  upstreamCpuUsPerReq: number;
  othersCpuPct: number;
  /** Relative to nginx on the same workload; null when nginx was not run. */
  ratio: { reqPerSec: number | null; cpuUsPerReq: number | null; p99Us: number | null; rssSumMiB: number | null };
}

export function median(xs: number[]): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

export function aggregate(runs: RunRecord[], candidates: string[], workloads: Workload[]): Row[] {
  const rows: Row[] = [];
  for (const w of workloads) {
    for (const c of candidates) {
      const all = runs.filter((r) => r.candidate === c && r.workload === w.name);
      if (all.length === 0) continue;
      const clean = all.filter((r) => r.flags.length === 0);
      const use = clean.length > 0 ? clean : all;
      const med = (k: keyof RunRecord): number => median(use.map((r) => r[k] as number));
      rows.push({
        candidate: c, workload: w.name, runs: all.length, flaggedRuns: all.length - clean.length,
        flags: [...new Set(all.flatMap((r) => r.flags))],
        reqPerSec: med('reqPerSec'), mibPerSec: med('mibPerSec'), p50Us: med('p50Us'), p99Us: med('p99Us'),
        cpuUsPerReq: med('cpuUsPerReq'), userUsPerReq: med('userUsPerReq'), sysUsPerReq: med('sysUsPerReq'),
        rssMaxMiB: Math.max(...all.map((r) => r.rssMaxMiB)), rssSumMiB: Math.max(...all.map((r) => r.rssSumMiB)),
        loadgenCpuUsPerReq: med('loadgenCpuUsPerReq'), upstreamCpuUsPerReq: med('upstreamCpuUsPerReq'),
        othersCpuPct: med('othersCpuPct'),
        ratio: { reqPerSec: null, cpuUsPerReq: null, p99Us: null, rssSumMiB: null },
      });
    }
  }
  for (const row of rows) {
    const ref = rows.find((r) => r.candidate === 'nginx' && r.workload === row.workload);
    if (!ref) continue;
    const div = (a: number, b: number): number | null => (b > 0 && Number.isFinite(a) ? a / b : null);
    row.ratio = {
      reqPerSec: div(row.reqPerSec, ref.reqPerSec),
      cpuUsPerReq: div(row.cpuUsPerReq, ref.cpuUsPerReq),
      p99Us: div(row.p99Us, ref.p99Us),
      rssSumMiB: div(row.rssSumMiB, ref.rssSumMiB),
    };
  }
  return rows;
}

const num = (n: number, digits = 0): string => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const ratio = (r: number | null): string => (r === null ? '' : ` (${r.toFixed(2)})`);
const ms = (us: number): string => (us / 1000).toFixed(2);

function headline(row: Row, w: Workload): string {
  return w.throughput ? `${num(row.mibPerSec)} MiB/s` : num(row.reqPerSec);
}

const HEAD = ['candidate', 'req/s (× nginx)', 'p50 ms', 'p99 ms (×)', 'CPU µs/req (×)', 'user/sys µs', 'RSS MiB max/sum (×)', 'wrk µs/req', 'upstream µs/req', 'others %core', 'flags'];

function cells(row: Row, w: Workload): string[] {
  return [
    row.candidate,
    headline(row, w) + ratio(row.ratio.reqPerSec),
    ms(row.p50Us),
    ms(row.p99Us) + ratio(row.ratio.p99Us),
    num(row.cpuUsPerReq, 1) + ratio(row.ratio.cpuUsPerReq),
    `${num(row.userUsPerReq)}/${num(row.sysUsPerReq)}`,
    `${num(row.rssMaxMiB)}/${num(row.rssSumMiB)}` + ratio(row.ratio.rssSumMiB),
    num(row.loadgenCpuUsPerReq, 1),
    num(row.upstreamCpuUsPerReq, 1),
    num(row.othersCpuPct),
    row.flags.length ? `${row.flaggedRuns}/${row.runs} runs: ${row.flags.join('; ')}` : '',
  ];
}

export function consoleTable(rows: Row[], workloads: Workload[]): string {
  const out: string[] = [];
  for (const w of workloads) {
    const rs = rows.filter((r) => r.workload === w.name);
    if (rs.length === 0) continue;
    const table = [HEAD, ...rs.map((r) => cells(r, w))];
    const widths = HEAD.map((_, i) => Math.max(...table.map((t) => t[i].length)));
    out.push(`\n== ${w.name}: ${w.title}`);
    for (const t of table) out.push(t.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd());
  }
  return out.join('\n') + '\n';
}

export interface Meta {
  mode: string;
  date: string;
  machine: Record<string, string>;
  settings: Record<string, string | number>;
  unavailable: Record<string, string>;
  /** Candidates that exited mid-run (then restarted), with their last output. */
  exits: Record<string, string[]>;
  elapsedSeconds: number;
}

/** Sections of the markdown that other modules render: the targets (at the top) and memory. */
export interface ExtraSections {
  targets: string[];
  memory: string[];
  notes: string[];
}

export function markdown(rows: Row[], workloads: Workload[], meta: Meta, extra: ExtraSections): string {
  const md: string[] = [];
  const ws = workloads.filter((w) => rows.some((r) => r.workload === w.name));
  const cands = [...new Set(rows.map((r) => r.candidate))];
  md.push(`# Handoff benchmark (${meta.mode} mode, ${meta.date})`, '');
  if (extra.targets.length) md.push('## Targets', '', ...extra.targets, '');
  md.push(Object.entries(meta.machine).map(([k, v]) => `${k}: ${v}`).join(' · '), '');
  md.push(Object.entries(meta.settings).map(([k, v]) => `${k}: ${v}`).join(' · '), '');
  if (ws.length) {
    md.push('Headline per workload: median req/s (MiB/s for 1 MiB bodies) and, in parentheses, the ratio to nginx.', '');
    md.push(`| candidate | ${ws.map((w) => w.title).join(' | ')} |`, `|---|${ws.map(() => '---|').join('')}`);
  }
  for (const c of ws.length ? cands : []) {
    md.push(`| ${c} | ${ws.map((w) => {
      const r = rows.find((x) => x.candidate === c && x.workload === w.name);
      return r ? headline(r, w) + ratio(r.ratio.reqPerSec) + (r.flags.length ? ' ⚠' : '') : '—';
    }).join(' | ')} |`);
  }
  for (const w of ws) {
    md.push('', `## ${w.title}`, '', `| ${HEAD.join(' | ')} |`, `|${HEAD.map(() => '---').join('|')}|`);
    for (const r of rows.filter((x) => x.workload === w.name)) md.push(`| ${cells(r, w).join(' | ')} |`);
  }
  md.push(...extra.memory);
  const un = Object.entries(meta.unavailable);
  if (un.length) md.push('', '## Unavailable candidates', '', ...un.map(([c, why]) => `- ${c}: ${why.split('\n')[0].slice(0, 300)}`));
  const ex = Object.entries(meta.exits);
  if (ex.length) md.push('', '## Candidates that exited during the run (restarted)', '', ...ex.map(([c, list]) => `- ${c}: ${list.length}× — ${list[0].split('\n')[0].slice(0, 300)}`));
  md.push('', 'CPU µs/req: utime+stime over the candidate\'s whole process tree during the measured window ÷ requests.',
    'RSS: peak VmHWM during warm-up + measurement, the largest process / the sum over the tree (max over rounds).',
    ...extra.notes,
    `⚠ = some runs had errors or other flags (see the tables); flagged runs are left out of medians when clean ones exist. Total time ${Math.round(meta.elapsedSeconds)} s.`, '');
  return md.join('\n');
}
