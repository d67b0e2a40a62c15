// The memory workloads: a worker's resident memory idle, with many idle keep-alive connections
// open, and before/during/after many WebSockets; and each worker's peak over the whole bench.
// Only the processes that serve connections are measured: Handoff's workers (not its master),
// nginx's workers, HAProxy's one process, node-http-proxy's cluster workers.
import fs from 'node:fs';
import type { Running } from './candidates';
import { BACKEND_HOST } from './configs';
import {
  awaitConnectionsGone, closeIdleConnections, closeWebSockets, openIdleConnections, openWebSockets, type Opened,
} from './conn-workloads';
import type { Ctx } from './measure';
import { descendants, resetPeakRss, sleep } from './procs';

export const MEMORY_WORKLOADS = ['idle-memory', 'ws-memory'] as const;
export type MemoryWorkloadName = (typeof MEMORY_WORKLOADS)[number];

export interface MemoryWorkload {
  readonly name: MemoryWorkloadName;
  readonly title: string;
  /** How many connections (idle) or WebSockets are opened. */
  readonly count: number;
  /** Seconds one run takes at most on a normal day, for the time budget. */
  readonly estimateS: number;
}

export function memoryWorkloads(quick: boolean): MemoryWorkload[] {
  const idle = quick ? 1000 : 5000;
  const ws = quick ? 500 : 2000;
  return [
    { name: 'idle-memory', title: `${idle.toLocaleString('en-US')} idle keep-alive connections: RSS per worker`, count: idle, estimateS: quick ? 2 : 8 },
    { name: 'ws-memory', title: `${ws.toLocaleString('en-US')} WebSockets opened and closed: RSS per worker`, count: ws, estimateS: quick ? 2.5 : 9 },
  ];
}

/** Resident memory of one process, KiB: all of it, and the anonymous (its own, private) part. */
export interface ProcMem {
  pid: number;
  rssKiB: number;
  /** Anonymous pages (heap, stacks): the rest of the RSS is file pages, e.g. the node binary's, shared by every node process. */
  anonKiB: number;
}

function field(text: string, name: string): number | null {
  const m = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text);
  return m ? Number(m[1]) : null;
}

/** From /proc/PID/smaps_rollup (exact, walks the page tables); null if the process is gone. */
export function procMem(pid: number): ProcMem | null {
  try {
    const text = fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const rss = field(text, 'Rss');
    const anon = field(text, 'Anonymous');
    return rss === null || anon === null ? null : { pid, rssKiB: rss, anonKiB: anon };
  } catch {
    return null;
  }
}

/** VmHWM (peak RSS since the last reset), KiB, or 0 if the process is gone. */
export function peakKiB(pid: number): number {
  try {
    return field(fs.readFileSync(`/proc/${pid}/status`, 'utf8'), 'VmHWM') ?? 0;
  } catch {
    return 0;
  }
}

function argv(pid: number): string[] {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return [];
  }
}

/** The processes of a candidate that hold client connections. */
export function servingPids(cand: Running): number[] {
  if (cand.name === 'haproxy') return [cand.proc.pid];
  const children = descendants(cand.proc.pid);
  if (cand.name.startsWith('handoff-')) return children.filter((pid) => argv(pid).includes('worker'));
  return children; // nginx's workers, node-http-proxy's cluster workers
}

/**
 * RSS of `pids` once it stops moving: sampled every 250 ms until the sum changes by less than
 * 256 KiB between two samples (memory being freed or faulted in settles), at most `maxMs`.
 */
export async function settledSample(pids: number[], maxMs: number): Promise<ProcMem[]> {
  const sample = (): ProcMem[] => pids.map((p) => procMem(p) ?? { pid: p, rssKiB: 0, anonKiB: 0 });
  const sum = (xs: ProcMem[]): number => xs.reduce((a, x) => a + x.rssKiB, 0);
  const deadline = Date.now() + maxMs;
  let last = sample();
  for (;;) {
    await sleep(250);
    const now = sample();
    if (Math.abs(sum(now) - sum(last)) < 256 || Date.now() > deadline) return now;
    last = now;
  }
}

/** One run of a memory workload on one candidate. Per-process arrays are in `pids` order. */
export interface MemoryRecord {
  round: number;
  candidate: string;
  workload: MemoryWorkloadName;
  pids: number[];
  /** Connections or WebSockets asked for, and how many were answered (response / echo). */
  asked: number;
  answered: number;
  before: ProcMem[];
  /** With every connection open (idle), or every WebSocket open after its echo. */
  during: ProcMem[];
  /** After they closed, the candidate let go of them, and its RSS stopped moving. */
  after: ProcMem[];
  /** VmHWM per process over the run (reset at its start). */
  peakKiB: number[];
  seconds: number;
  flags: string[];
}

/** How long after its connections are gone a worker's memory is read as "after". */
export const RETURN_WINDOW_MS = 3000;
/** Connections (or WebSockets) opened and closed before the baseline is read. */
const WARM_UP_COUNT = 100;

export async function measureMemory(ctx: Ctx, round: number, w: MemoryWorkload, cand: Running): Promise<MemoryRecord> {
  const t0 = Date.now();
  const quick = ctx.opts.mode === 'quick';
  const settleMs = quick ? 1500 : 4000;
  const openMs = quick ? 15_000 : 30_000;
  const flags: string[] = [];
  if (!(await awaitConnectionsGone(cand.port, 10_000))) flags.push('the previous run\'s connections were still open at the start');
  const pids = servingPids(cand);
  // A small burst of the same kind first, so that the baseline already holds what any first use
  // leaves for good (compiled code, pools): what the figures show is what the burst itself keeps.
  if (w.name === 'idle-memory') closeIdleConnections((await openIdleConnections(cand.port, WARM_UP_COUNT, openMs)).clients);
  else await closeWebSockets((await openWebSockets(cand.port, BACKEND_HOST, WARM_UP_COUNT, openMs)).clients, 5000);
  if (!(await awaitConnectionsGone(cand.port, 10_000))) flags.push('the warm-up\'s connections were still open 10 s after they closed');
  await sleep(RETURN_WINDOW_MS);
  resetPeakRss([cand.proc.pid]);
  const before = await settledSample(pids, settleMs);
  let opened: Opened<unknown>;
  let during: ProcMem[];
  if (w.name === 'idle-memory') {
    const idle = await openIdleConnections(cand.port, w.count, openMs);
    during = await settledSample(pids, settleMs);
    closeIdleConnections(idle.clients);
    opened = idle;
  } else {
    const wss = await openWebSockets(cand.port, BACKEND_HOST, w.count, openMs);
    during = await settledSample(pids, settleMs);
    const stuck = await closeWebSockets(wss.clients, 5000);
    if (stuck > 0) flags.push(`${stuck} WebSockets did not finish the close handshake in 5 s (dropped)`);
    opened = wss;
  }
  if (!(await awaitConnectionsGone(cand.port, 10_000))) flags.push('the candidate still held client connections 10 s after they closed');
  // "Returns to its baseline" is read at a set time after the last connection went, the same for
  // every candidate: nginx frees at each close, a Handoff worker once it has been idle for a
  // status interval (proxy/worker/idle-heap-release.ts), V8 on its own schedule.
  await sleep(RETURN_WINDOW_MS);
  const after = await settledSample(pids, settleMs);
  const what = w.name === 'idle-memory' ? 'connections' : 'WebSockets';
  if (opened.answered < w.count) flags.push(`${w.count - opened.answered} of ${w.count} ${what} not answered${opened.errors.length ? ` (${opened.errors.join('; ')})` : ''}`);
  if (opened.closedEarly() > 0) flags.push(`${opened.closedEarly()} ${what} closed by the candidate while they should stay open`);
  if (cand.proc.exited()) flags.push('candidate exited');
  else if (servingPids(cand).join() !== pids.join()) flags.push('process set changed (a worker died or was respawned)');
  return {
    round, candidate: cand.name, workload: w.name, pids, asked: w.count, answered: opened.answered,
    before, during, after, peakKiB: pids.map(peakKiB), seconds: (Date.now() - t0) / 1000, flags,
  };
}

/**
 * Each serving process's peak RSS over the whole bench: the harness resets VmHWM before every
 * run (each run reports its own peak), so the per-run peaks are kept here as a running max.
 */
export class WorkerPeaks {
  private readonly byCandidate = new Map<string, Map<number, number>>();

  /** Reads the current VmHWM of `pids` (right after a run, before the next reset). */
  note(candidate: string, pids: number[]): void {
    const peaks = this.byCandidate.get(candidate) ?? new Map<number, number>();
    this.byCandidate.set(candidate, peaks);
    for (const pid of pids) peaks.set(pid, Math.max(peaks.get(pid) ?? 0, peakKiB(pid)));
  }

  /** Per process that ever served (a respawned worker is a new one), KiB. */
  of(candidate: string): number[] {
    return [...(this.byCandidate.get(candidate)?.values() ?? [])];
  }
}
