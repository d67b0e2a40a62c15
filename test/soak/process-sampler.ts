// Samples the fd count and RSS of the master and of every live worker, once a call (the soak
// calls it every second), and keeps each worker's life apart: reloads and kills replace workers,
// so a worker's samples are judged only while it served (not while it drained or died).
import fs from 'node:fs';
import { childPids, fdCount, rssBytes } from '../helpers/procfs';
import type { Point } from '../helpers/leak-trend';

export type WorkerStanding = 'serving' | 'retiring';

export interface ProcessSample {
  /** Seconds since the sampler started. */
  readonly t: number;
  readonly pid: number;
  readonly role: 'master' | 'worker';
  /** Workers only: the order in which the sampler first saw them, from 1. */
  readonly worker: number;
  readonly standing: WorkerStanding;
  /** Seconds since the worker joined the master (the master: since the sampler started; -1: not joined yet). */
  readonly age: number;
  readonly fds: number;
  readonly rss: number;
}

interface WorkerLife {
  readonly index: number;
  /** When it joined the master (started getting connections); null until it has. */
  joinedAt: number | null;
  retiredAt: number | null;
}

const CSV_HEAD = 't_s,pid,role,worker,standing,age_s,fds,rss_kib\n';
const TOTALS_HEAD = 't_s,master_fds,master_rss_kib,workers,worker_fds,worker_rss_kib,total_fds,total_rss_kib\n';

export class ProcessSampler {
  readonly samples: ProcessSample[] = [];
  private readonly lives = new Map<number, WorkerLife>();
  private readonly startedAt = Date.now();

  constructor(
    private readonly masterPid: number,
    /** Every sample, one row each; and the per-second totals across processes. */
    private readonly csv: { readonly samples: string; readonly totals: string },
  ) {
    fs.writeFileSync(csv.samples, CSV_HEAD);
    fs.writeFileSync(csv.totals, TOTALS_HEAD);
  }

  now(): number {
    return (Date.now() - this.startedAt) / 1000;
  }

  /** Live workers that are still the ones getting new connections (one not sampled yet is). */
  servingWorkers(): number[] {
    return childPids(this.masterPid).filter((pid) => (this.lives.get(pid)?.retiredAt ?? null) === null);
  }

  /** A reload: every worker alive now belongs to the generation being replaced. */
  retireAll(): void {
    for (const pid of childPids(this.masterPid)) this.retire(pid);
  }

  /** The worker has joined the master: its warm-up counts from now. */
  joined(pid: number): void {
    const life = this.see(pid);
    life.joinedAt ??= this.now();
  }

  retire(pid: number): void {
    const life = this.see(pid);
    life.retiredAt ??= this.now();
  }

  sample(): void {
    const t = this.now();
    const rows: ProcessSample[] = [];
    const read = (pid: number, role: 'master' | 'worker', worker: number, standing: WorkerStanding, age: number): void => {
      try {
        rows.push({ t, pid, role, worker, standing, age, fds: fdCount(pid), rss: rssBytes(pid) });
      } catch {
        // exited between the listing and the read: nothing to sample
      }
    };
    read(this.masterPid, 'master', 0, 'serving', t);
    for (const pid of childPids(this.masterPid)) {
      const life = this.see(pid);
      read(pid, 'worker', life.index, life.retiredAt === null ? 'serving' : 'retiring', life.joinedAt === null ? -1 : t - life.joinedAt);
    }
    this.samples.push(...rows);
    const kib = (bytes: number): number => Math.round(bytes / 1024);
    fs.appendFileSync(
      this.csv.samples,
      rows.map((r) => `${r.t.toFixed(1)},${r.pid},${r.role},${r.worker},${r.standing},${r.age.toFixed(1)},${r.fds},${kib(r.rss)}\n`).join(''),
    );
    const master = rows.find((r) => r.role === 'master');
    const workers = rows.filter((r) => r.role === 'worker');
    const sum = (xs: ProcessSample[], f: (s: ProcessSample) => number): number => xs.reduce((a, s) => a + f(s), 0);
    fs.appendFileSync(
      this.csv.totals,
      `${t.toFixed(1)},${master?.fds ?? ''},${master ? kib(master.rss) : ''},${workers.length},${sum(workers, (s) => s.fds)},` +
        `${kib(sum(workers, (s) => s.rss))},${sum(rows, (s) => s.fds)},${kib(sum(rows, (s) => s.rss))}\n`,
    );
  }

  /** The master's series after `warmUpS`. */
  masterSeries(metric: 'fds' | 'rss', warmUpS: number): Point[] {
    return this.samples.filter((s) => s.role === 'master' && s.t >= warmUpS).map((s) => ({ t: s.t, v: s[metric] }));
  }

  /** Each worker's series while it served, from `warmUpS` after it joined. */
  workerSeries(metric: 'fds' | 'rss', warmUpS: number): Point[][] {
    const byWorker = new Map<number, Point[]>();
    for (const s of this.samples) {
      if (s.role !== 'worker' || s.standing !== 'serving' || s.age < warmUpS) continue;
      let points = byWorker.get(s.worker);
      if (!points) byWorker.set(s.worker, (points = []));
      points.push({ t: s.t, v: s[metric] });
    }
    return [...byWorker.values()];
  }

  workersSeen(): number {
    return this.lives.size;
  }

  private see(pid: number): WorkerLife {
    let life = this.lives.get(pid);
    if (!life) this.lives.set(pid, (life = { index: this.lives.size + 1, joinedAt: null, retiredAt: null }));
    return life;
  }
}
