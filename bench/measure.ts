// One measured run: warm-up, then wrk with the candidate's, the upstream's and the machine's CPU
// sampled around it, and every reason not to trust the figures turned into a flag.
import { backendRequests, type Running } from './candidates';
import { awaitAllAnswered, awaitConnectionsGone, type ClientView } from './conn-workloads';
import { cpuDelta, machineBusyUs, peakRss, resetPeakRss, sampleTree } from './procs';
import type { Options } from './options';
import type { RunRecord } from './report';
import { runWrk, type Workload } from './wrk';

/** How long connections not yet answered at the end of the window get (wrk's --timeout). */
const CLIENT_GRACE_MS = 5000;

export interface Ctx {
  opts: Options;
  dir: string;
  upstreamRoots: number[];
  backendPort: number | null;
}

export async function measure(ctx: Ctx, round: number, w: Workload, cand: Running): Promise<RunRecord> {
  const roots = [cand.proc.pid];
  resetPeakRss(roots);
  const many = w.connections >= 1000;
  // Quick mode skips the many-connection warm-up: opening them twice would not fit its time.
  if (ctx.opts.warmup > 0 && !(many && ctx.opts.mode === 'quick')) await runWrk(ctx.dir, w, cand.port, ctx.opts.warmup);
  // Thousands of warm-up connections closed at once: the candidate is still letting go of them
  // (and may have some in its listen backlog) when the measured run would start.
  const settled = !many || (await awaitConnectionsGone(cand.port, 10_000));
  const before = sampleTree(roots);
  const busyBefore = machineBusyUs();
  const selfBefore = process.cpuUsage();
  const upBefore = sampleTree(ctx.upstreamRoots);
  const viaBackend = w.name === 'backend' && ctx.backendPort !== null;
  const servedBefore = viaBackend ? await backendRequests(ctx.backendPort!).catch(() => NaN) : 0;
  // With many connections, each one must have been answered: wrk counts a request that never gets
  // a response nowhere (its timeouts are responses that came late), so the kernel is asked.
  let clients = undefined as ClientView | undefined;
  const checkClients = many
    ? async (): Promise<void> => { clients = await awaitAllAnswered(cand.port, w.connections, CLIENT_GRACE_MS).catch(() => undefined); }
    : undefined;
  const r = await runWrk(ctx.dir, w, cand.port, ctx.opts.duration, checkClients);
  // Requests the sample backend served in the window, less our own /stats request.
  const served = viaBackend ? (await backendRequests(ctx.backendPort!).catch(() => NaN)) - servedBefore - 1 : 0;
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
  if (viaBackend && Number.isNaN(served)) flags.push('the sample backend did not answer /stats');
  else if (viaBackend && served < 0.9 * r.requests) flags.push(`the sample backend served ${served} of ${r.requests} requests`);
  if (!settled) flags.push('the warm-up\'s connections were still open 10 s after it ended');
  if (checkClients && !clients) flags.push('could not list wrk\'s connections (ss)');
  if (clients && clients.established < w.connections) flags.push(`only ${clients.established} of ${w.connections} connections established`);
  if (clients && clients.unanswered > 0) flags.push(`${clients.unanswered} connections never answered`);
  if (cand.proc.exited()) flags.push('candidate exited');
  else if (cpu.pidsChanged) flags.push('process set changed (a worker died or was respawned)');
  return {
    round, candidate: cand.name, workload: w.name, requests: r.requests, seconds,
    reqPerSec: r.requests / seconds, mibPerSec: r.bytes / seconds / 1048576,
    p50Us: r.p50Us, p99Us: r.p99Us, maxUs: r.maxUs, errors: r.errors, flags,
    cpuUsPerReq: (cpu.userUs + cpu.sysUs) / n, userUsPerReq: cpu.userUs / n, sysUsPerReq: cpu.sysUs / n,
    rssMaxMiB: rss.maxKiB / 1024, rssSumMiB: rss.sumKiB / 1024, processes: rss.processes,
    rssPerProcessMiB: rss.perProcessKiB.map((k) => Math.round(k / 102.4) / 10),
    loadgenCpuUsPerReq: r.cpuUs / n, upstreamCpuUsPerReq: (up.userUs + up.sysUs) / n,
    othersCpuPct: Math.max(0, (others / r.durationUs) * 100),
    ...(clients ? { clients } : {}),
  };
}
