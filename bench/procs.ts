// Processes the harness starts, and what /proc says about them (CPU ticks, peak RSS).
// Every child is spawned as its own process-group leader so that one kill(-pgid) also reaches
// its workers (nginx, Handoff, cluster); `killAll` runs on every way out of the harness.
import { spawn, execFileSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';

export const CLK_TCK = readClockTicks();

function readClockTicks(): number {
  try {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isFinite(n) && n > 0 ? n : 100;
  } catch {
    return 100; // Linux's USER_HZ everywhere that matters
  }
}

export interface Managed {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  output(): string;
  exited(): boolean;
}

const live = new Set<Managed>();
/** Set once the harness is shutting down: nothing new may start behind the cleanup's back. */
let closed = false;

/** Spawns `cmd` in its own process group, keeping the last 64 KiB of stdout+stderr. */
export function start(name: string, cmd: string, args: string[], opts: SpawnOptions = {}): Managed {
  if (closed) throw new Error(`shutting down: not starting ${name}`);
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts, detached: true });
  let out = '';
  const keep = (d: Buffer): void => {
    out += d.toString();
    if (out.length > 65536) out = out.slice(-65536);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let done = false;
  child.once('exit', () => { done = true; live.delete(m); });
  child.once('error', (err) => { done = true; out += `\nspawn error: ${err.message}`; live.delete(m); });
  const m: Managed = { name, child, pid: child.pid ?? -1, output: () => out, exited: () => done };
  if (child.pid !== undefined) live.add(m);
  return m;
}

/** SIGTERM to the group (and stragglers that left it), then SIGKILL after `graceMs`. */
export async function stop(m: Managed, graceMs = 3000): Promise<void> {
  if (m.exited()) return;
  const tree = descendants(m.pid);
  signal(m.pid, tree, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (!m.exited() && Date.now() < deadline) await sleep(20);
  signal(m.pid, tree, 'SIGKILL');
  while (!m.exited() && Date.now() < deadline + 1000) await sleep(20);
}

function signal(pid: number, tree: number[], sig: NodeJS.Signals): void {
  for (const target of [-pid, ...tree]) {
    try { process.kill(target, sig); } catch { /* already gone */ }
  }
}

/** Synchronous last resort, for process 'exit' where nothing async runs. */
export function killAllSync(): void {
  closed = true;
  for (const m of live) signal(m.pid, descendants(m.pid), 'SIGKILL');
  live.clear();
}

export async function stopAll(): Promise<void> {
  closed = true;
  await Promise.all([...live].map((m) => stop(m, 2000)));
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A port free on 127.0.0.1 right now (the kernel's pick); the small race is acceptable on loopback. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** Resolves once a TCP connect to the port succeeds; fails if `m` exits first or time runs out. */
export async function waitForPort(port: number, m: Managed, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (m.exited()) throw new Error(`${m.name} exited before listening:\n${m.output().slice(-2000)}`);
    if (await canConnect(port)) return;
    if (Date.now() > deadline) throw new Error(`${m.name} did not listen on ${port} within ${timeoutMs} ms`);
    await sleep(50);
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

/** Every descendant pid, via each thread's `children` list (threads can fork too). */
export function descendants(pid: number): number[] {
  const out: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const p = queue.shift()!;
    let tids: string[];
    try { tids = fs.readdirSync(`/proc/${p}/task`); } catch { continue; }
    for (const tid of tids) {
      let text = '';
      try { text = fs.readFileSync(`/proc/${p}/task/${tid}/children`, 'utf8'); } catch { continue; }
      for (const c of text.trim().split(/\s+/).filter(Boolean).map(Number)) {
        if (!out.includes(c)) { out.push(c); queue.push(c); }
      }
    }
  }
  return out;
}

export interface CpuTicks { user: number; sys: number }

/** utime/stime of one process (all its threads), in clock ticks; null if it is gone. */
export function cpuTicks(pid: number): CpuTicks | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // comm may contain spaces and parentheses: fields are counted after the last ')'.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { user: Number(f[11]), sys: Number(f[12]) };
  } catch {
    return null;
  }
}

/** CPU of a process tree at one instant: per pid, so that a delta can see pids come and go. */
export type TreeSample = Map<number, CpuTicks>;

export function sampleTree(roots: number[]): TreeSample {
  const sample: TreeSample = new Map();
  for (const root of roots) {
    for (const pid of [root, ...descendants(root)]) {
      const t = cpuTicks(pid);
      if (t) sample.set(pid, t);
    }
  }
  return sample;
}

export interface CpuDelta {
  /** Microseconds of CPU, user and kernel, used between the two samples. */
  userUs: number;
  sysUs: number;
  /** A pid present at one sample but not the other: a worker died or was respawned. */
  pidsChanged: boolean;
}

export function cpuDelta(before: TreeSample, after: TreeSample): CpuDelta {
  let user = 0;
  let sys = 0;
  let pidsChanged = before.size !== after.size;
  for (const [pid, a] of after) {
    const b = before.get(pid);
    if (!b) { pidsChanged = true; user += a.user; sys += a.sys; continue; }
    user += a.user - b.user;
    sys += a.sys - b.sys;
  }
  const us = 1e6 / CLK_TCK;
  return { userUs: user * us, sysUs: sys * us, pidsChanged };
}

/** Resets VmHWM to the current RSS (Linux >= 4.0), so each run reports its own peak. */
export function resetPeakRss(roots: number[]): boolean {
  let ok = true;
  for (const root of roots) {
    for (const pid of [root, ...descendants(root)]) {
      try { fs.writeFileSync(`/proc/${pid}/clear_refs`, '5'); } catch { ok = false; }
    }
  }
  return ok;
}

export interface RssPeak { maxKiB: number; sumKiB: number; processes: number; perProcessKiB: number[] }

/** VmHWM over a tree: the largest single process and the sum over all of them. */
export function peakRss(roots: number[]): RssPeak {
  let maxKiB = 0;
  let sumKiB = 0;
  let processes = 0;
  const perProcessKiB: number[] = [];
  for (const root of roots) {
    for (const pid of [root, ...descendants(root)]) {
      try {
        const m = /^VmHWM:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
        if (!m) continue;
        const kib = Number(m[1]);
        maxKiB = Math.max(maxKiB, kib);
        sumKiB += kib;
        processes++;
        perProcessKiB.push(kib);
      } catch { /* gone */ }
    }
  }
  return { maxKiB, sumKiB, processes, perProcessKiB };
}

/**
 * CPU time the whole machine spent in processes (all cores, /proc/stat), µs: to see what others
 * used. irq/softirq time is left out: loopback packet processing lands there and is charged to no
 * process, so it would look like someone else's work.
 */
export function machineBusyUs(): number {
  const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal: user + nice + system + steal.
  const busy = f[0] + f[1] + f[2] + (f[7] ?? 0);
  return (busy * 1e6) / CLK_TCK;
}
