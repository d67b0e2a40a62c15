#!/usr/bin/env node
// Entry point of the load test: `node dist/loadtest/run.js [options]`, `npm run loadtest -- [options]`,
// or in the Docker lab `docker compose --profile loadtest run --rm loadtest [options]`.
// Every scenario runs against the proxy, then against one backend directly; runs are bounded by
// --duration, so the whole test takes about scenarios × 2 × duration seconds.
import dns from 'node:dns/promises';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import { runAutocannon, runNewConnections, type GeneratorRun, type Target } from './generators';
import { parseArgs, USAGE, UsageError, type LoadtestOptions } from './options';
import { Progress } from './progress';
import { Recorder } from './recorder';
import { compare, consoleReport, NOTES, writeReport, type Report, type RunResult, type TargetName } from './report';
import { scenarios, type Scenario } from './scenarios';
import { fetchCounts, WorkerSpread } from './worker-spread';

const PAUSE_BETWEEN_RUNS_MS = 500;

async function resolveTarget(url: URL): Promise<{ target: Target; all: string[] }> {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const all = (await dns.lookup(host, { all: true })).map((a) => a.address);
  if (all.length === 0) throw new Error(`${url.host} has no address`);
  const port = url.port === '' ? 80 : Number(url.port);
  return { target: { url, address: all[0]!, port }, all };
}

/** One GET / before the runs, so a target that is down fails the test at once, clearly. */
function preflight(name: string, target: Target): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = http.get(
      { host: target.address, port: target.port, path: '/', headers: { host: target.url.host }, agent: false, timeout: 5000 },
      (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`${name} ${target.url.href} answered ${res.statusCode}`))));
      },
    );
    req.on('timeout', () => req.destroy(new Error('no answer within 5 s')));
    req.on('error', (err) => reject(new Error(`cannot reach the ${name} at ${target.url.href} (${target.address}:${target.port}): ${err.message}`)));
  });
}

async function runOne(scenario: Scenario, name: TargetName, target: Target, opts: LoadtestOptions, progress: Progress): Promise<RunResult> {
  const recorder = new Recorder();
  progress.start(`${scenario.name} → ${name}`, opts.durationS, recorder);
  const spread = name === 'proxy' && opts.status ? new WorkerSpread(opts.status) : null;
  await spread?.start();
  const sampler = spread && setInterval(() => void spread.sample().catch(() => undefined), 1000);
  const cpu0 = process.cpuUsage();
  let run: GeneratorRun;
  try {
    run =
      scenario.generator === 'raw-socket loop'
        ? await runNewConnections(target, scenario.path, scenario.connections, opts.durationS, recorder)
        : await runAutocannon(target, scenario.path, scenario.connections, opts.durationS, recorder);
  } catch (err) {
    progress.stop(`${scenario.name} → ${name}: failed: ${(err as Error).message}`);
    throw err;
  } finally {
    if (sampler) clearInterval(sampler);
  }
  const cpu = process.cpuUsage(cpu0);
  const latency = recorder.latency();
  const cpuMs = (cpu.user + cpu.system) / 1000;
  const result: RunResult = {
    scenario: scenario.name,
    target: name,
    url: new URL(scenario.path, target.url).href,
    address: `${target.address}:${target.port}`,
    generator: scenario.generator,
    connections: scenario.connections,
    elapsedS: run.elapsedS,
    responses: recorder.responses,
    ok: recorder.ok,
    non2xx: recorder.non2xx,
    errors: recorder.errors,
    timeouts: recorder.timeouts,
    reqPerSec: recorder.ok / run.elapsedS,
    mibPerSec: recorder.bytes / run.elapsedS / (1024 * 1024),
    latencyMs: latency,
    loadgenCpuMs: { user: cpu.user / 1000, system: cpu.system / 1000 },
    loadgenCpuUsPerRequest: recorder.responses > 0 ? (cpuMs * 1000) / recorder.responses : 0,
    loadgenCores: cpuMs / 1000 / run.elapsedS,
    ...(spread ? { workers: await spread.finish() } : {}),
  };
  progress.stop(
    `${`${scenario.name} → ${name}`.padEnd(22)} ${Math.round(result.reqPerSec).toLocaleString('en-US').padStart(7)} req/s  p50 ${latency.p50.toFixed(2)} ms  p99 ${latency.p99.toFixed(2)} ms  ${recorder.failures} failed`,
  );
  return result;
}

async function main(): Promise<number> {
  const parsed = parseArgs(process.argv.slice(2));
  if (parsed === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  const opts = parsed;
  const list = scenarios(opts);
  const proxy = await resolveTarget(opts.proxy);
  const direct = await resolveTarget(opts.direct);
  const log = (s: string): boolean => process.stderr.write(`${s}\n`);
  log(`handoff-loadtest: proxy ${opts.proxy.host} → ${proxy.target.address}:${proxy.target.port}`);
  log(
    `handoff-loadtest: direct ${opts.direct.host} → ${direct.target.address}:${direct.target.port}` +
      (direct.all.length > 1 ? ` (the first of its ${direct.all.length} addresses: one backend)` : ''),
  );
  // Fail now, not after the whole run, if the report cannot be written.
  fs.mkdirSync(opts.outDir, { recursive: true });
  fs.accessSync(opts.outDir, fs.constants.W_OK);
  await preflight('proxy', proxy.target);
  await preflight('direct backend', direct.target);
  if (opts.status) {
    // The spread is extra: without the status listener (config "status" off) the test still runs.
    await fetchCounts(opts.status).catch((err: Error) => {
      log(`handoff-loadtest: no spread over workers in the report: ${err.message}`);
      opts.status = null;
    });
  }
  log(`handoff-loadtest: ${list.length} scenario(s) × 2 targets × ${opts.durationS}s ≈ ${list.length * 2 * opts.durationS}s`);

  const startedAt = new Date();
  const progress = new Progress();
  const results: RunResult[] = [];
  for (const scenario of list) {
    for (const [name, target] of [['proxy', proxy.target], ['direct', direct.target]] as const) {
      results.push(await runOne(scenario, name, target, opts, progress));
      await new Promise((r) => setTimeout(r, PAUSE_BETWEEN_RUNS_MS));
    }
  }
  const report: Report = {
    tool: 'handoff-loadtest',
    formatVersion: 1,
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    options: {
      proxy: opts.proxy.href,
      direct: opts.direct.href,
      durationS: opts.durationS,
      connections: opts.connections,
      scenarios: opts.scenarios,
      delayMs: opts.delayMs,
      status: opts.status?.href ?? null,
    },
    environment: { node: process.version, platform: `${process.platform} ${os.release()}`, cpus: os.cpus().length, hostname: os.hostname() },
    scenarios: list.map(({ name, title, path, generator, connections, note }) => ({ name, title, path, generator, connections, note })),
    results,
    comparisons: compare(results),
    totals: {
      responses: results.reduce((n, r) => n + r.responses, 0),
      failures: results.reduce((n, r) => n + r.errors + r.non2xx, 0),
    },
    notes: NOTES,
  };
  process.stdout.write(`\n${consoleReport(report)}\n`);
  const files = writeReport(opts.outDir, report);
  process.stdout.write(`\nreport: ${files.json}\n        ${files.html}\n`);
  return report.totals.failures === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof UsageError) {
      process.stderr.write(`handoff-loadtest: ${err.message}\n\n${USAGE}`);
      process.exit(2);
    }
    const e = err as NodeJS.ErrnoException;
    process.stderr.write(`handoff-loadtest: ${e.code === 'EACCES' ? `cannot write the report: ${e.message} (in Docker: create the reports folder yourself first, or set LOADTEST_USER to your uid:gid)` : e.message ?? String(err)}\n`);
    process.exit(1);
  },
);
