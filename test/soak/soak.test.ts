// The soak: minutes of mixed traffic through a real master and 2 workers to 3 real backends, with
// a reload every so often and a worker killed with SIGKILL in between. Every second the fd count
// and RSS of the master and of each worker are sampled; none may trend up (leak-trend.ts), every
// failed request must be one a killed worker held, and once the traffic stops the fds are back
// where they started.
//
//   HANDOFF_SOAK_SECONDS      how long the traffic runs (default 300; by hand e.g. 1800)
//   HANDOFF_SOAK_RATE         client operations started per second (default 40)
//   HANDOFF_SOAK_INJECT_LEAK  fd | rss: load inject-leak.js into the master and workers; the soak
//                             must then fail (it shows the check can)
// Samples go to test-artifacts/soak/ as CSV (git-ignored), with the failures and a summary.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { startBackend, type RunningBackend } from '../helpers/backend';
import { judgePooledTrend, judgeTrend, type TrendBound, type TrendVerdict } from '../helpers/leak-trend';
import { fdCount, waitFor } from '../helpers/procfs';
import { startProxy, type RunningProxy } from '../helpers/proxy';
import { killWorker, reload, upstreamSocketCount, type Kill, type Reload } from './faults';
import { MixedTraffic, type OpRecord } from './mixed-traffic';
import { ProcessSampler } from './process-sampler';

const SECONDS = Number(process.env.HANDOFF_SOAK_SECONDS ?? 300);
const RATE = Number(process.env.HANDOFF_SOAK_RATE ?? 40);
const INJECT_LEAK = process.env.HANDOFF_SOAK_INJECT_LEAK;
if (!(SECONDS >= 20 && RATE > 0)) throw new Error(`HANDOFF_SOAK_SECONDS must be at least 20 and HANDOFF_SOAK_RATE above 0, got ${SECONDS} and ${RATE}`);
const WORKERS = 2;
/** A reload every fifth of the run (at most a minute apart), a kill half-way between two. */
const RELOAD_EVERY_S = Math.min(60, Math.max(15, SECONDS / 5));
const KILL_OFFSET_S = RELOAD_EVERY_S / 2;
const MASTER_WARM_UP_S = Math.min(30, SECONDS / 4);
/** A new worker's pools fill and its heap settles in its first seconds. */
const WORKER_WARM_UP_S = Math.min(10, RELOAD_EVERY_S / 3);
const OP_TIMEOUT_MS = 20_000;

const MiB = 1024 * 1024;
/**
 * fds: no sustained growth beyond a few connections' worth of noise. RSS: a GC sawtooth of some
 * MiB, and at most a few MiB a minute; one 64 KiB buffer kept per request would be about
 * 40 MiB a minute in the master (every connection passes it) and 30 in each worker.
 */
const BOUNDS = {
  masterFds: { allowance: 4, perMinute: 0 },
  masterRss: { allowance: 8 * MiB, perMinute: 2 * MiB },
  workerFds: { allowance: 6, perMinute: 0 },
  workerRss: { allowance: 8 * MiB, perMinute: 4 * MiB },
} satisfies Record<string, TrendBound>;

const ARTIFACTS = path.resolve(__dirname, '../../../test-artifacts/soak');
const INJECT_LEAK_JS = path.resolve(__dirname, 'inject-leak.js');

describe(`soak: ${SECONDS} s of mixed traffic at ${RATE}/s, a reload every ${RELOAD_EVERY_S} s and a worker killed between`, () => {
  let backends: RunningBackend[] = [];
  let proxy: RunningProxy | undefined;

  before(async () => {
    backends = await Promise.all(['b1', 'b2', 'b3'].map((id) => startBackend({ id })));
    proxy = await startProxy({
      workers: WORKERS,
      upstreams: { app: { servers: backends.map((b) => `127.0.0.1:${b.port}`) } },
      extra: { accessLog: 'stdout', workerHeader: 'X-Handoff-Worker' },
      env: INJECT_LEAK ? { NODE_OPTIONS: `--require ${INJECT_LEAK_JS}`, HANDOFF_SOAK_INJECT_LEAK: INJECT_LEAK } : {},
    });
  });
  after(async () => {
    await proxy?.stop();
    await Promise.all(backends.map((b) => b.stop()));
  });

  it('keeps fds and RSS flat, loses only what killed workers held, and ends with the fds it started with', { timeout: (SECONDS + 120) * 1000 }, async (t) => {
    const p = proxy!;
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    const baseline = { master: fdCount(p.pid), worker: Math.max(...p.workerPids().map(fdCount)) };
    const sampler = new ProcessSampler(p.pid, { samples: path.join(ARTIFACTS, 'samples.csv'), totals: path.join(ARTIFACTS, 'totals.csv') });
    for (const pid of p.workerPids()) sampler.joined(pid); // startProxy waited until they had
    const sampling = setInterval(() => sampler.sample(), 1000);
    const traffic = new MixedTraffic({ port: p.port, perSecond: RATE, maxInFlight: 64, timeoutMs: OP_TIMEOUT_MS });
    const kills: Kill[] = [];
    const reloads: Reload[] = [];
    sampler.sample();
    traffic.start();
    try {
      // One fault at a time, each waited on until the master has its workers back.
      const start = Date.now();
      const end = start + SECONDS * 1000;
      for (let k = 1; ; k++) {
        const dueAt = start + k * KILL_OFFSET_S * 1000;
        if (dueAt >= end - 5_000) break;
        await new Promise((r) => setTimeout(r, Math.max(0, dueAt - Date.now())));
        if (k % 2 === 0) reloads.push(await reload(p, sampler, WORKERS));
        else {
          const serving = sampler.servingWorkers();
          kills.push(await killWorker(p, sampler, serving[((k - 1) / 2) % serving.length]!));
        }
      }
      await new Promise((r) => setTimeout(r, Math.max(0, end - Date.now())));
    } finally {
      await traffic.stop();
      clearInterval(sampling);
    }
    sampler.sample();

    // The fds the traffic opened are closed again: the master's exactly, each worker's but for
    // its idle keep-alive connections to the backends (a pool nginx keeps too).
    const upstreamPorts = new Set(backends.map((b) => b.port));
    let atEnd = '';
    const fdsBack = await waitFor('fds back at their baseline', () => {
      const master = fdCount(p.pid);
      const workers = p.workerPids().map((pid) => fdCount(pid) - upstreamSocketCount(pid, upstreamPorts));
      atEnd = `master ${master} (baseline ${baseline.master}), workers without their upstream pool ${workers.join(', ')} (baseline ${baseline.worker})`;
      return master <= baseline.master && workers.length === WORKERS && workers.every((n) => n <= baseline.worker);
    }, 15_000).then(() => true, () => false);

    const verdicts = {
      masterFds: judgeTrend(sampler.masterSeries('fds', MASTER_WARM_UP_S), BOUNDS.masterFds),
      masterRss: judgeTrend(sampler.masterSeries('rss', MASTER_WARM_UP_S), BOUNDS.masterRss),
      workerFds: judgePooledTrend(sampler.workerSeries('fds', WORKER_WARM_UP_S), BOUNDS.workerFds),
      workerRss: judgePooledTrend(sampler.workerSeries('rss', WORKER_WARM_UP_S), BOUNDS.workerRss),
    };
    const failures = traffic.records.filter((r) => r.outcome.kind === 'failed');
    const unexplained = failures.filter((r) => explainingKill(r, kills) === undefined);
    const summary = {
      seconds: SECONDS,
      rate: RATE,
      injectedLeak: INJECT_LEAK ?? null,
      operations: traffic.records.length,
      skipped: traffic.skipped,
      byKind: countBy(traffic.records, (r) => `${r.kind} ${r.outcome.kind}`),
      lostToKills: failures.length - unexplained.length,
      heldByKilledWorkers: kills.reduce((a, k) => a + k.clientPorts.size, 0),
      unexplained: unexplained.length,
      kills: kills.length,
      reloads: reloads.length,
      slowestReloadMs: Math.max(0, ...reloads.map((r) => r.tookMs)),
      workersSeen: sampler.workersSeen(),
      samples: sampler.samples.length,
      fdsAtEnd: atEnd,
      verdicts: Object.fromEntries(Object.entries(verdicts).map(([k, v]) => [k, describeVerdict(k, v)])),
    };
    fs.writeFileSync(path.join(ARTIFACTS, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
    fs.writeFileSync(
      path.join(ARTIFACTS, 'failures.csv'),
      't_ms,kind,error,ports,explained_by_kill_of\n' +
        failures.map((r) => `${r.startedAt},${r.kind},"${(r.outcome as { error: string }).error}",${r.ports.join(' ')},${explainingKill(r, kills)?.pid ?? ''}`).join('\n') + '\n',
    );
    fs.writeFileSync(
      path.join(ARTIFACTS, 'faults.csv'),
      't_ms,fault,pid,client_connections_held,sockets_not_in_tcp_table,took_ms\n' +
        [...kills.map((k) => `${k.at},kill,${k.pid},${k.clientPorts.size},${k.unmatchedSockets},`), ...reloads.map((r) => `${r.at},reload,,,,${r.tookMs}`)].sort().join('\n') + '\n',
    );
    report(t, summary);

    for (const [name, verdict] of Object.entries(verdicts)) assert.equal(verdict.leaking, false, `${name} trends up: ${describeVerdict(name, verdict)}`);
    assert.ok(kills.length >= 1 && reloads.length >= 1, `faults injected: ${kills.length} kills, ${reloads.length} reloads`);
    assert.ok(sampler.workerSeries('fds', WORKER_WARM_UP_S).length >= 2, 'enough workers lived past their warm-up to be judged');
    assert.deepEqual(unexplained.slice(0, 10).map((r) => `${r.kind}: ${(r.outcome as { error: string }).error}`), [], `${unexplained.length} failures that no kill explains`);
    const ok = traffic.records.filter((r) => r.outcome.kind !== 'failed').length;
    assert.ok(ok >= 0.95 * traffic.records.length, `${ok} of ${traffic.records.length} operations succeeded`);
    assert.ok(traffic.skipped <= 0.05 * (traffic.records.length + traffic.skipped), `${traffic.skipped} operations skipped at the concurrency bound`);
    assert.ok(fdsBack, `fds did not return to their baseline: ${atEnd}`);
  });
});

/** A failure on a connection the killed worker held, in flight when it died (or queued on it). */
function explainingKill(r: OpRecord, kills: readonly Kill[]): Kill | undefined {
  return kills.find((k) => r.startedAt <= k.at + 2_000 && r.endedAt >= k.at && r.ports.some((port) => k.clientPorts.has(port)));
}

function countBy<T>(items: readonly T[], key: (item: T) => string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const item of items) counts[key(item)] = (counts[key(item)] ?? 0) + 1;
  return Object.fromEntries(Object.entries(counts).sort());
}

function describeVerdict(name: string, v: TrendVerdict): string {
  const unit = name.endsWith('Rss') ? MiB : 1;
  const f = (x: number): string => (unit === MiB ? `${(x / MiB).toFixed(2)} MiB` : x.toFixed(2));
  const pooled = name.startsWith('worker') ? ' (median life judged)' : '';
  return `${v.leaking ? 'LEAK' : 'flat'}: ${v.n} samples over ${v.span.toFixed(0)} s${pooled}, median ${f(v.early)} -> ${f(v.late)}, slope ${f(v.slopePerMinute)}/min, fitted growth ${f(v.fittedGrowth)}, thirds growth ${f(v.thirdsGrowth)}, allowed ${f(v.allowed)}`;
}

function report(t: TestContext, summary: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(summary)) {
    if (value !== null && typeof value === 'object') for (const [k, v] of Object.entries(value)) t.diagnostic(`${key}.${k}: ${String(v)}`);
    else t.diagnostic(`${key}: ${String(value)}`);
  }
}
