// `npm run bench`: Handoff against nginx, HAProxy and node-http-proxy, all in front of the same
// nginx upstream on loopback, driven by wrk. Runs are interleaved (round → workload → candidates
// in shuffled order) so that a machine getting busier hurts every candidate alike. Method:
// bench/README.md.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { backendRequests, startCandidate, startUpstreams, type CandidateName, type Running } from './candidates';
import { parseOptions, USAGE, UsageError, type Options } from './options';
import {
  cpuDelta, killAllSync, machineBusyUs, peakRss, resetPeakRss, sampleTree, sleep, stopAll,
} from './procs';
import { aggregate, consoleTable, markdown, type Meta, type RunRecord } from './report';
import { runWrk, workloads as allWorkloads, writeScripts, type Workload } from './wrk';

let tmpDir: string | null = null;
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
    loadavgAtStart: os.loadavg().map((l) => l.toFixed(2)).join(' '),
  };
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
const clock = (s: number): string => `${Math.floor(s / 60)}:${String(Math.round(s % 60)).padStart(2, '0')}`;

interface Ctx {
  opts: Options;
  dir: string;
  upstreamRoots: number[];
  backendPort: number | null;
}

async function measure(ctx: Ctx, round: number, w: Workload, cand: Running): Promise<RunRecord> {
  const roots = [cand.proc.pid];
  resetPeakRss(roots);
  if (ctx.opts.warmup > 0) await runWrk(ctx.dir, w, cand.port, ctx.opts.warmup);
  const before = sampleTree(roots);
  const busyBefore = machineBusyUs();
  const selfBefore = process.cpuUsage();
  const upBefore = sampleTree(ctx.upstreamRoots);
  const viaBackend = w.name === 'backend' && ctx.backendPort !== null;
  const servedBefore = viaBackend ? await backendRequests(ctx.backendPort!) : 0;
  const r = await runWrk(ctx.dir, w, cand.port, ctx.opts.duration);
  // Requests the sample backend served in the window, less our own /stats request.
  const served = viaBackend ? (await backendRequests(ctx.backendPort!)) - servedBefore - 1 : 0;
  const after = sampleTree(roots);
  const busy = machineBusyUs() - busyBefore;
  const self = process.cpuUsage(selfBefore);
  const cpu = cpuDelta(before, after);
  const up = cpuDelta(upBefore, sampleTree(ctx.upstreamRoots));
  const rss = peakRss(roots);
  // Whatever else ran on the machine meanwhile (other people's tests): the context for odd runs.
  const others = busy - cpu.userUs - cpu.sysUs - up.userUs - up.sysUs - r.cpuUs - self.user - self.system;
  const n = Math.max(r.requests, 1);
  const seconds = r.durationUs / 1e6;
  const flags: string[] = [];
  const errorCount = Object.values(r.errors).reduce((a, b) => a + b, 0);
  if (r.failure) flags.push(r.failure);
  if (r.requests === 0) flags.push('no requests completed');
  if (errorCount > 0) {
    flags.push(`${errorCount} errors (${Object.entries(r.errors).filter(([, v]) => v > 0).map(([k, v]) => `${k} ${v}`).join(', ')})`);
  }
  if (r.requests > 0 && r.bytes / r.requests < w.minBytesPerResponse) flags.push(`short responses (${Math.round(r.bytes / r.requests)} B avg)`);
  if (viaBackend && served < 0.9 * r.requests) flags.push(`the sample backend served ${served} of ${r.requests} requests`);
  if (cand.proc.exited()) flags.push('candidate exited');
  else if (cpu.pidsChanged) flags.push('process set changed (a worker died or was respawned)');
  return {
    round, candidate: cand.name, workload: w.name, requests: r.requests, seconds,
    reqPerSec: r.requests / seconds, mibPerSec: r.bytes / seconds / 1048576,
    p50Us: r.p50Us, p99Us: r.p99Us, maxUs: r.maxUs, errors: r.errors, flags,
    cpuUsPerReq: (cpu.userUs + cpu.sysUs) / n, userUsPerReq: cpu.userUs / n, sysUsPerReq: cpu.sysUs / n,
    rssMaxMiB: rss.maxKiB / 1024, rssSumMiB: rss.sumKiB / 1024, processes: rss.processes,
    loadgenCpuUsPerReq: r.cpuUs / n, upstreamCpuUsPerReq: (up.userUs + up.sysUs) / n,
    othersCpuPct: Math.max(0, (others / r.durationUs) * 100),
  };
}

async function main(opts: Options): Promise<void> {
  const t0 = Date.now();
  const elapsed = (): number => (Date.now() - t0) / 1000;
  const log = (s: string): void => { process.stdout.write(`[${clock(elapsed())}] ${s}\n`); };
  tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'handoff-bench-'));
  keepTmp = opts.keepTmp;
  const dir = tmpDir;
  const machine = machineInfo();
  log(`${opts.mode} mode: ${opts.rounds} round(s), ${opts.warmup} s warm-up + ${opts.duration} s per run, ${opts.workers} workers, seed ${opts.seed}; tmp ${dir}`);

  const wls = allWorkloads().filter((w) => opts.workloads.includes(w.name));
  writeScripts(dir, wls);
  const up = await startUpstreams(dir, opts.upstreamWorkers, log);
  const upstreamRoots: number[] = [up.nginx.proc.pid, ...(up.backend ? [up.backend.proc.pid] : [])];
  const runnable = wls.filter((w) => w.name !== 'backend' || up.backend !== null);

  const running: Running[] = [];
  const unavailable: Record<string, string> = {};
  for (const name of opts.candidates) {
    try {
      running.push(await startCandidate(name, dir, up, opts.workers));
      log(`started ${name}`);
    } catch (err) {
      unavailable[name] = (err as Error).message;
      log(`UNAVAILABLE ${name}: ${(err as Error).message.split('\n').slice(0, 3).join(' | ')}`);
    }
  }

  const ctx: Ctx = { opts, dir, upstreamRoots, backendPort: up.backend?.port ?? null };
  const rand = rng(opts.seed);
  const perRun = opts.warmup + opts.duration + 0.4; // + startup/teardown of wrk, sampling
  const total = opts.rounds * runnable.length * running.length;
  const runs: RunRecord[] = [];
  let done = 0;
  let skipped = 0;
  log(`${total} runs, about ${clock(total * perRun)} (budget ${clock(opts.budget)})`);
  for (let round = 1; round <= opts.rounds; round++) {
    for (const w of runnable) {
      for (const cand of shuffle(running, rand)) {
        if (cand.proc.exited()) { skipped++; continue; }
        if (elapsed() + perRun > opts.budget) { skipped++; continue; }
        const rec = await measure(ctx, round, w, cand);
        runs.push(rec);
        done++;
        const head = w.throughput ? `${fmt(rec.mibPerSec)} MiB/s` : `${fmt(rec.reqPerSec)} req/s`;
        log(`${done}/${total} r${round} ${w.name.padEnd(9)} ${cand.name.padEnd(17)} ${head.padStart(13)}  p99 ${(rec.p99Us / 1000).toFixed(2)} ms  `
          + `cpu ${rec.cpuUsPerReq.toFixed(1)} µs/req  rss ${rec.rssMaxMiB.toFixed(0)} MiB${rec.flags.length ? `  ⚠ ${rec.flags.join('; ')}` : ''}`);
        if (cand.proc.exited()) {
          unavailable[cand.name] = `exited during ${w.name} round ${round}: ${cand.proc.output().trim().slice(-800)}`;
        }
        await sleep(150); // let sockets of the last run close before the next starts
      }
    }
  }
  if (skipped > 0) log(`${skipped} runs skipped (time budget or a candidate that exited)`);

  const candidateNames = running.map((r) => r.name as CandidateName);
  const rows = aggregate(runs, candidateNames, runnable);
  const meta: Meta = {
    mode: opts.mode,
    date: new Date().toISOString(),
    machine: { ...machine, loadavgAtEnd: os.loadavg().map((l) => l.toFixed(2)).join(' ') },
    settings: {
      rounds: opts.rounds, warmupS: opts.warmup, durationS: opts.duration, workers: opts.workers,
      upstream: `nginx ${opts.upstreamWorkers} worker(s)`, loadgen: 'wrk -t2', seed: opts.seed, runs: done, skipped,
    },
    unavailable,
    elapsedSeconds: elapsed(),
  };
  process.stdout.write(consoleTable(rows, runnable));
  fs.mkdirSync(path.dirname(opts.json), { recursive: true });
  fs.writeFileSync(opts.json, JSON.stringify({ ...meta, workloads: runnable, rows, runs }, null, 2) + '\n');
  fs.writeFileSync(opts.markdown, markdown(rows, runnable, meta));
  log(`wrote ${opts.json} and ${opts.markdown}`);
}

async function cleanup(): Promise<void> {
  await stopAll();
  removeTmp();
}

// Every way out stops what was started: normal end, error, Ctrl+C, SIGTERM, and (synchronously,
// as a last resort) process exit.
process.on('exit', () => { killAllSync(); removeTmp(); });
let interrupted = false;
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
