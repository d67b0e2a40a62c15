// Memory figures: the memory workloads' runs aggregated (median over rounds, flagged runs left
// out when clean ones exist, as for wrk runs), each worker's idle RSS at start and peak over the
// whole bench, and their tables. "Per worker" figures are of the worst worker unless named a mean.
import type { MemoryRecord, MemoryWorkload, ProcMem } from './memory';
import { median } from './report';

export interface MemoryRow {
  candidate: string;
  workload: string;
  runs: number;
  flaggedRuns: number;
  flags: string[];
  /** Serving processes (workers). */
  workers: number;
  asked: number;
  /** The fewest answered over the runs. */
  answered: number;
  /** Idle before the run: the largest worker's RSS, and the anonymous part of it. */
  idleRssMiB: number;
  idleAnonMiB: number;
  /** With the connections open: the largest worker's RSS. */
  duringRssMiB: number;
  /** (Σ RSS during − Σ RSS before) ÷ (answered ÷ 1000) ÷ workers: MiB per 1,000 connections per worker. */
  mibPer1000: number;
  anonMibPer1000: number;
  /** After they closed − before, for the worker that kept the most. */
  afterMinusBeforeMiB: number;
  anonAfterMinusBeforeMiB: number;
  /** VmHWM over the run, the largest worker, max over rounds. */
  peakMiB: number;
}

/** Each candidate's workers over the whole bench. */
export interface WholeBench {
  /** Right after it started (it had served one smoke request), per serving process. */
  idleAtStart: Record<string, ProcMem[]>;
  /** Each serving process's peak RSS over every run, KiB. */
  peakKiB: Record<string, number[]>;
}

const mib = (kib: number): number => kib / 1024;
const sumRss = (xs: ProcMem[]): number => xs.reduce((a, x) => a + x.rssKiB, 0);
const sumAnon = (xs: ProcMem[]): number => xs.reduce((a, x) => a + x.anonKiB, 0);
const maxOf = (xs: number[]): number => (xs.length ? Math.max(...xs) : 0);

export function aggregateMemory(records: MemoryRecord[], candidates: string[], workloads: MemoryWorkload[]): MemoryRow[] {
  const rows: MemoryRow[] = [];
  for (const w of workloads) {
    for (const c of candidates) {
      const all = records.filter((r) => r.candidate === c && r.workload === w.name);
      if (all.length === 0) continue;
      const clean = all.filter((r) => r.flags.length === 0);
      const use = clean.length > 0 ? clean : all;
      const med = (f: (r: MemoryRecord) => number): number => median(use.map(f));
      const per1000 = (r: MemoryRecord, sum: (xs: ProcMem[]) => number): number =>
        r.answered > 0 && r.pids.length > 0 ? mib(sum(r.during) - sum(r.before)) / (r.answered / 1000) / r.pids.length : 0;
      const kept = (r: MemoryRecord, k: 'rssKiB' | 'anonKiB'): number => maxOf(r.after.map((a, i) => mib(a[k] - r.before[i][k])));
      rows.push({
        candidate: c, workload: w.name, runs: all.length, flaggedRuns: all.length - clean.length,
        flags: [...new Set(all.flatMap((r) => r.flags))],
        workers: maxOf(all.map((r) => r.pids.length)), asked: w.count, answered: Math.min(...all.map((r) => r.answered)),
        idleRssMiB: med((r) => mib(maxOf(r.before.map((p) => p.rssKiB)))),
        idleAnonMiB: med((r) => mib(maxOf(r.before.map((p) => p.anonKiB)))),
        duringRssMiB: med((r) => mib(maxOf(r.during.map((p) => p.rssKiB)))),
        mibPer1000: med((r) => per1000(r, sumRss)), anonMibPer1000: med((r) => per1000(r, sumAnon)),
        afterMinusBeforeMiB: med((r) => kept(r, 'rssKiB')), anonAfterMinusBeforeMiB: med((r) => kept(r, 'anonKiB')),
        peakMiB: maxOf(all.map((r) => mib(maxOf(r.peakKiB)))),
      });
    }
  }
  return rows;
}

const f1 = (n: number): string => n.toFixed(1);

const IDLE_HEAD = ['candidate', 'workers', 'answered', 'idle RSS/worker MiB (anon)', 'with them: RSS/worker MiB', 'MiB per 1,000/worker (anon)', 'after close − idle, MiB (anon)', 'peak MiB', 'flags'];
const WS_HEAD = ['candidate', 'workers', 'echoed', 'idle RSS/worker MiB (anon)', 'all open: RSS/worker MiB', 'peak MiB', 'after close − idle, MiB (anon)', 'flags'];

function cells(r: MemoryRow): string[] {
  const flags = r.flags.length ? `${r.flaggedRuns}/${r.runs} runs: ${r.flags.join('; ')}` : '';
  const idle = `${f1(r.idleRssMiB)} (${f1(r.idleAnonMiB)})`;
  const kept = `${f1(r.afterMinusBeforeMiB)} (${f1(r.anonAfterMinusBeforeMiB)})`;
  const answered = `${r.answered}/${r.asked}`;
  if (r.workload === 'idle-memory') {
    return [r.candidate, String(r.workers), answered, idle, f1(r.duringRssMiB), `${r.mibPer1000.toFixed(2)} (${r.anonMibPer1000.toFixed(2)})`, kept, f1(r.peakMiB), flags];
  }
  return [r.candidate, String(r.workers), answered, idle, f1(r.duringRssMiB), f1(r.peakMiB), kept, flags];
}

function wholeCells(c: string, whole: WholeBench): string[] {
  const start = whole.idleAtStart[c] ?? [];
  const peaks = whole.peakKiB[c] ?? [];
  return [
    c, String(start.length),
    start.map((p) => `${f1(mib(p.rssKiB))} (${f1(mib(p.anonKiB))} anon, ${f1(mib(p.rssKiB - p.anonKiB))} file)`).join(', '),
    peaks.map((k) => f1(mib(k))).join(', '),
  ];
}
const WHOLE_HEAD = ['candidate', 'workers', 'idle RSS per worker at start, MiB', 'peak RSS per worker over the bench, MiB'];

function table(head: string[], body: string[][], markdown: boolean): string[] {
  if (markdown) return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...body.map((b) => `| ${b.join(' | ')} |`)];
  const all = [head, ...body];
  const widths = head.map((_, i) => Math.max(...all.map((t) => t[i].length)));
  return all.map((t) => t.map((x, i) => x.padEnd(widths[i])).join('  ').trimEnd());
}

/** The memory sections, as markdown or as console text. */
export function memoryTables(rows: MemoryRow[], workloads: MemoryWorkload[], whole: WholeBench, markdown: boolean): string[] {
  const out: string[] = [];
  const title = (t: string): string => (markdown ? `## ${t}` : `== ${t}`);
  for (const w of workloads) {
    const rs = rows.filter((r) => r.workload === w.name);
    if (rs.length === 0) continue;
    out.push('', title(`${w.name}: ${w.title}`), ...(markdown ? [''] : []));
    out.push(...table(w.name === 'idle-memory' ? IDLE_HEAD : WS_HEAD, rs.map(cells), markdown));
  }
  const cands = Object.keys(whole.idleAtStart);
  if (cands.length) {
    out.push('', title('worker memory over the whole bench'), ...(markdown ? [''] : []));
    out.push(...table(WHOLE_HEAD, cands.map((c) => wholeCells(c, whole)), markdown));
  }
  return out;
}

export const MEMORY_NOTES = [
  'Memory: RSS from /proc/PID/smaps_rollup of the processes that serve connections (Handoff\'s and nginx\'s workers, HAProxy\'s process, node-http-proxy\'s cluster workers); "anon" is the Anonymous part (the process\'s own heap and stacks), the rest file pages (for node mostly the binary, shared by every node process).',
  'Per 1,000 idle connections per worker: (Σ RSS with them open − Σ RSS before) ÷ (answered ÷ 1000) ÷ workers. After close − idle: the worker that kept the most, once the candidate had let go of every connection and its RSS stopped moving. Peak: VmHWM, the largest worker.',
];
