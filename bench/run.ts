// `npm run bench`: Handoff against nginx, HAProxy and node-http-proxy, all in front of the same
// nginx upstream on loopback, driven by wrk. Runs are interleaved (round → workload → candidates
// in shuffled order) so that a machine getting busier hurts every candidate alike. Method:
// bench/README.md.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startCandidate, startUpstreams, type CandidateName, type Running } from './candidates';
import { matchedWorkerNice } from './configs';
import { measure, type Ctx } from './measure';
import { measureMemory, memoryWorkloads, servingPids, settledSample, WorkerPeaks, type MemoryRecord } from './memory';
import { aggregateMemory, MEMORY_NOTES, memoryTables, type WholeBench } from './memory-report';
import { parseOptions, USAGE, UsageError, type Options } from './options';
import { killAllSync, sleep, stop, stopAll } from './procs';
import { aggregate, consoleTable, markdown, type Meta, type RunRecord } from './report';
import { computeTargets, targetsTable } from './targets';
import { workloads as allWorkloads, writeScripts } from './wrk';

let tmpDir: string | null = null;
let interrupted = false;
let keepTmp = false;

function removeTmp(): void {
  if (tmpDir && !keepTmp) fs.rmSync(tmpDir, { recursive: true, force: true });
  tmpDir = null;
}

/** Small deterministic PRNG (mulberry32), so a run's order can be reproduced from its seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffle<T>(xs: T[], rand: () => number): T[] {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

function cmdOutput(cmd: string, args: string[]): string {
  try {
    // nginx -v writes to stderr; take whichever stream has text.
    const r = execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return r.split('\n')[0].trim();
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string };
    return `${e.stdout ?? ''}${e.stderr ?? ''}`.split('\n')[0].trim() || 'unavailable';
  }
}

function readTrimmed(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    return 'n/a';
  }
}

function machineInfo(): Record<string, string> {
  const nginx = execFileSync('sh', ['-c', 'nginx -v 2>&1 || true'], { encoding: 'utf8' }).trim();
  return {
    nproc: String(os.availableParallelism()),
    cpu: os.cpus()[0]?.model ?? 'unknown',
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    nginx: nginx.replace(/^nginx version: /, ''),
    haproxy: cmdOutput('haproxy', ['-v']).replace(/ - https.*$/, ''),
    wrk: execFileSync('sh', ['-c', 'wrk -v 2>&1 | head -1 || true'], { encoding: 'utf8' }).trim().replace(/ Copyright.*$/, ''),
    // 1: nice values weigh only within a session (bench/README.md, worker priority).
    autogroup: readTrimmed('/proc/sys/kernel/sched_autogroup_enabled'),
    loadavgAtStart: os.loadavg().map((l) => l.toFixed(2)).join(' '),
  };
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
const clock = (s: number): string => `${Math.floor(s / 60)}:${String(Math.round(s % 60)).padStart(2, '0')}`;

/** A candidate that exits is restarted this often (then dropped): a crash is reported, not hidden. */
const MAX_RESTARTS = 2;

async function main(opts: Options): Promise<void> {
  const t0 = Date.now();
  const elapsed = (): number => (Date.now() - t0) / 1000;
  const log = (s: string): void => { process.stdout.write(`[${clock(elapsed())}] ${s}\n`); };
  tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'handoff-bench-'));
  keepTmp = opts.keepTmp;
  const dir = tmpDir;
  const machine = machineInfo();
  log(`${opts.mode} mode: ${opts.rounds} round(s), ${opts.warmup} s warm-up + ${opts.duration} s per run, ${opts.workers} workers, seed ${opts.seed}; tmp ${dir}`);

  const wls = allWorkloads(opts.mode === 'quick').filter((w) => opts.workloads.includes(w.name));
  const mws = memoryWorkloads(opts.mode === 'quick').filter((w) => opts.workloads.includes(w.name));
  writeScripts(dir, wls);
  const up = await startUpstreams(dir, opts.upstreamWorkers, log);
  const upstreamRoots: number[] = [up.nginx.proc.pid, ...(up.backend ? [up.backend.proc.pid] : [])];
  const runnable = wls.filter((w) => w.name !== 'backend' || up.backend !== null);
  const memRunnable = mws.filter((w) => w.name !== 'ws-memory' || up.backend !== null);

  const workerNice = matchedWorkerNice();
  const running = new Map<CandidateName, Running>();
  const unavailable: Record<string, string> = {};
  const exits: Record<string, string[]> = {};
  for (const name of opts.candidates) {
    try {
      running.set(name, await startCandidate(name, dir, up, opts.workers, workerNice, { baselineDir: opts.baseline }));
      log(`started ${name}`);
    } catch (err) {
      unavailable[name] = (err as Error).message;
      log(`UNAVAILABLE ${name}: ${(err as Error).message.split('\n').slice(0, 3).join(' | ')}`);
    }
  }
  const measured = [...running.keys()];
  // Each worker's RSS before any load (it has answered one smoke request), and peaks from here on.
  const whole: WholeBench = { idleAtStart: {}, peakKiB: {} };
  for (const [name, cand] of running) whole.idleAtStart[name] = await settledSample(servingPids(cand), 1000);
  const peaks = new WorkerPeaks();

  const ctx: Ctx = { opts, dir, upstreamRoots, backendPort: up.backend?.port ?? null };
  const rand = rng(opts.seed);
  const perRun = opts.warmup + opts.duration + 0.4; // + startup/teardown of wrk, sampling
  const total = opts.rounds * (runnable.length + memRunnable.length) * running.size;
  const estimate = opts.rounds * running.size * (runnable.length * perRun + memRunnable.reduce((a, w) => a + w.estimateS, 0));
  const runs: RunRecord[] = [];
  const memRuns: MemoryRecord[] = [];
  let done = 0;
  let skipped = 0;

  // Written at the end, and also after a fatal error: what was measured is never thrown away.
  const report = (): void => {
    const rows = aggregate(runs, measured, runnable);
    const memRows = aggregateMemory(memRuns, measured, memRunnable);
    for (const c of measured) whole.peakKiB[c] = peaks.of(c);
    const targets = computeTargets({ rows, runs, workloads: runnable.filter((w) => rows.some((r) => r.workload === w.name)), memory: memRows, whole });
    const meta: Meta = {
      mode: opts.mode,
      date: new Date().toISOString(),
      machine: { ...machine, loadavgAtEnd: os.loadavg().map((l) => l.toFixed(2)).join(' ') },
      settings: {
        rounds: opts.rounds, warmupS: opts.warmup, durationS: opts.duration, workers: opts.workers,
        workerNice: workerNice ?? 'unchanged',
        upstream: `nginx ${opts.upstreamWorkers} worker(s)`, loadgen: 'wrk -t2', seed: opts.seed, runs: done, skipped,
      },
      unavailable,
      exits,
      elapsedSeconds: elapsed(),
    };
    process.stdout.write(consoleTable(rows, runnable));
    process.stdout.write(`${memoryTables(memRows, memRunnable, whole, false).join('\n')}\n\n== targets (issue 17)\n${targetsTable(targets, false).join('\n')}\n`);
    fs.mkdirSync(path.dirname(opts.json), { recursive: true });
    const json = { ...meta, workloads: runnable, rows, runs, memoryWorkloads: memRunnable, memoryRows: memRows, memoryRuns: memRuns, workerMemory: whole, targets };
    fs.writeFileSync(opts.json, JSON.stringify(json, null, 2) + '\n');
    fs.writeFileSync(opts.markdown, markdown(rows, runnable, meta, {
      targets: targetsTable(targets, true), memory: memoryTables(memRows, memRunnable, whole, true), notes: MEMORY_NOTES,
    }));
    log(`wrote ${opts.json} and ${opts.markdown}`);
  };

  /** The candidate, restarted if it exited since its last run; null once it is given up on. */
  const ensure = async (name: CandidateName): Promise<Running | null> => {
    const cand = running.get(name);
    if (!cand) return null;
    if (!cand.proc.exited()) return cand;
    const history = (exits[name] ??= []);
    history.push(`${new Date().toISOString()} exit ${cand.proc.child.exitCode ?? cand.proc.child.signalCode}: ${cand.proc.output().trim().slice(-600)}`);
    log(`${name} EXITED (${cand.proc.child.exitCode ?? cand.proc.child.signalCode}); last output: ${cand.proc.output().trim().split('\n').slice(-3).join(' | ')}`);
    if (history.length > MAX_RESTARTS) {
      running.delete(name);
      unavailable[name] = `exited ${history.length} times; last: ${history[history.length - 1]}`;
      return null;
    }
    try {
      const again = await startCandidate(name, dir, up, opts.workers, workerNice, { baselineDir: opts.baseline });
      running.set(name, again);
      log(`restarted ${name}`);
      return again;
    } catch (err) {
      running.delete(name);
      unavailable[name] = `exited, and failed to restart: ${(err as Error).message}`;
      return null;
    }
  };

  /**
   * The memory workloads start from a freshly started candidate: memory a worker took for an
   * earlier workload's connections (10k) is kept by its allocator and reused, and would hide what
   * new connections cost. Not in quick mode, which has no time for it and whose figures are not
   * meant to be read.
   */
  const fresh = async (name: CandidateName): Promise<Running | null> => {
    const old = await ensure(name);
    if (!old || opts.mode === 'quick') return old;
    await stop(old.proc);
    try {
      const cand = await startCandidate(name, dir, up, opts.workers, workerNice, { baselineDir: opts.baseline });
      running.set(name, cand);
      return cand;
    } catch (err) {
      running.delete(name);
      unavailable[name] = `failed to restart for a memory run: ${(err as Error).message}`;
      return null;
    }
  };

  log(`${total} runs, about ${clock(estimate)} (budget ${clock(opts.budget)})`);
  try {
    for (let round = 1; round <= opts.rounds; round++) {
      for (const w of runnable) {
        for (const name of shuffle(measured, rand)) {
          if (elapsed() + perRun > opts.budget) { skipped++; continue; }
          if (up.nginx.proc.exited()) throw new Error(`the upstream nginx exited: ${up.nginx.proc.output().slice(-500)}`);
          const cand = await ensure(name);
          if (!cand) { skipped++; continue; }
          const rec = await measure(ctx, round, w, cand);
          peaks.note(name, servingPids(cand));
          runs.push(rec);
          done++;
          const head = w.throughput ? `${fmt(rec.mibPerSec)} MiB/s` : `${fmt(rec.reqPerSec)} req/s`;
          log(`${done}/${total} r${round} ${w.name.padEnd(9)} ${name.padEnd(17)} ${head.padStart(13)}  p99 ${(rec.p99Us / 1000).toFixed(2)} ms  `
            + `cpu ${rec.cpuUsPerReq.toFixed(1)} µs/req  rss ${rec.rssMaxMiB.toFixed(0)} MiB  others ${rec.othersCpuPct.toFixed(0)}%`
            + `${rec.flags.length ? `  ⚠ ${rec.flags.join('; ')}` : ''}`);
          await sleep(150); // let sockets of the last run close before the next starts
        }
      }
      for (const w of memRunnable) {
        for (const name of shuffle(measured, rand)) {
          if (elapsed() + w.estimateS > opts.budget) { skipped++; continue; }
          const cand = await fresh(name);
          if (!cand) { skipped++; continue; }
          const rec = await measureMemory(ctx, round, w, cand);
          peaks.note(name, servingPids(cand));
          memRuns.push(rec);
          done++;
          const mb = (k: number): string => (k / 1024).toFixed(1);
          log(`${done}/${total} r${round} ${w.name.padEnd(11)} ${name.padEnd(17)} ${rec.answered}/${rec.asked} answered  RSS/worker MiB before ${rec.before.map((p) => mb(p.rssKiB)).join(',')}`
            + `  during ${rec.during.map((p) => mb(p.rssKiB)).join(',')}  after ${rec.after.map((p) => mb(p.rssKiB)).join(',')}  ${rec.seconds.toFixed(1)} s`
            + `${rec.flags.length ? `  ⚠ ${rec.flags.join('; ')}` : ''}`);
        }
      }
    }
  } finally {
    if (skipped > 0) log(`${skipped} runs skipped (time budget or a candidate given up on)`);
    if (!interrupted) report();
  }
}

async function cleanup(): Promise<void> {
  await stopAll();
  removeTmp();
}

// Every way out stops what was started: normal end, error, Ctrl+C, SIGTERM, and (synchronously,
// as a last resort) process exit.
process.on('exit', () => { killAllSync(); removeTmp(); });
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(sig, () => {
    interrupted = true;
    process.stderr.write(`\nbench: ${sig}, stopping everything\n`);
    void cleanup().finally(() => process.exit(130));
  });
}

let opts: Options | 'help';
try {
  opts = parseOptions(process.argv.slice(2));
} catch (err) {
  if (!(err instanceof UsageError)) throw err;
  process.stderr.write(`bench: ${err.message}\n\n${USAGE}`);
  process.exit(2);
}
if (opts === 'help') {
  process.stdout.write(USAGE);
} else {
  main(opts).then(cleanup, async (err: unknown) => {
    if (interrupted) return; // the signal handler is already cleaning up and sets the exit code
    process.stderr.write(`bench: ${(err as Error).stack ?? String(err)}\n`);
    await cleanup();
    process.exit(1);
  });
}
