// Keeps `npm run bench` working: a very short run of the real harness (real nginx, real wrk,
// real Handoff) must produce a row per candidate × workload with ratios to nginx, and must leave
// no process or temp dir behind, also when interrupted. Speed is never asserted here: a timed
// unit test on a shared machine only measures the neighbours; the bench itself shows speed.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';

const RUN = path.resolve(__dirname, '../../bench/run.js');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'handoff-bench-test-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const missing = ['nginx', 'wrk'].filter((cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status !== 0);
const skip = missing.length > 0 ? `needs ${missing.join(' and ')} (installed by .ci/ on CI)` : false;

interface Row {
  candidate: string;
  workload: string;
  runs: number;
  flags: string[];
  reqPerSec: number;
  cpuUsPerReq: number;
  rssMaxMiB: number;
  ratio: { reqPerSec: number | null; cpuUsPerReq: number | null; p99Us: number | null; rssSumMiB: number | null };
}

/** Processes whose command line mentions the harness's temp dir (nginx -p, handoff -c, wrk -s). */
function processesUsing(tmp: string): string[] {
  const found: string[] = [];
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmd.includes(tmp)) found.push(`${pid}: ${cmd}`);
    } catch { /* gone */ }
  }
  return found;
}

function run(args: string[], onStdout?: (text: string, child: ReturnType<typeof spawn>) => void, timeoutMs = 55_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [RUN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => { stdout += d.toString(); onStdout?.(stdout, child); });
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}

const tmpOf = (stdout: string): string => /tmp (\/\S+)/.exec(stdout)?.[1] ?? '';

describe('npm run bench (quick)', { skip }, () => {
  it('measures every candidate on every workload, with ratios to nginx', async () => {
    const json = path.join(dir, 'r.json');
    const r = await run([
      '--quick', '--duration', '1', '--warmup', '0.3', '--workloads', 'keepalive,close',
      '--only', 'handoff-seqpacket,nginx', '--json', json,
    ]);
    assert.equal(r.code, 0, `bench failed:\n${r.stdout}\n${r.stderr}`);
    const out = JSON.parse(fs.readFileSync(json, 'utf8')) as { rows: Row[]; unavailable: Record<string, string>; mode: string; machine: Record<string, string> };
    assert.deepEqual(out.unavailable, {}, 'both candidates start');
    assert.equal(out.mode, 'quick');
    assert.ok(out.machine.nproc && out.machine.node, 'machine info is recorded');
    for (const candidate of ['handoff-seqpacket', 'nginx']) {
      for (const workload of ['keepalive', 'close']) {
        const row = out.rows.find((x) => x.candidate === candidate && x.workload === workload);
        assert.ok(row, `a row for ${candidate} × ${workload}`);
        assert.equal(row.runs, 1);
        assert.deepEqual(row.flags, [], `${candidate} × ${workload} ran without errors`);
        assert.ok(row.reqPerSec > 0, `${candidate} × ${workload} served requests`);
        assert.ok(row.cpuUsPerReq > 0, 'CPU per request is measured');
        assert.ok(row.rssMaxMiB > 0, 'peak RSS is measured');
        for (const k of ['reqPerSec', 'cpuUsPerReq', 'p99Us', 'rssSumMiB'] as const) {
          assert.equal(typeof row.ratio[k], 'number', `${candidate} × ${workload}: ratio ${k} computed`);
          if (candidate === 'nginx') assert.equal(row.ratio[k], 1);
        }
      }
    }
    const md = fs.readFileSync(json.replace(/\.json$/, '.md'), 'utf8');
    assert.match(md, /\| handoff-seqpacket \|/);
    assert.match(md, /\| nginx \| [\d,]+ \(1\.00\)/);
    const tmp = tmpOf(r.stdout);
    assert.ok(tmp, 'the harness names its temp dir');
    assert.equal(fs.existsSync(tmp), false, 'temp dir removed');
    assert.deepEqual(processesUsing(tmp), [], 'no process left behind');
  });

  it('measures many connections and worker memory, and reports every target of issue 17', async () => {
    const json = path.join(dir, 'mem.json');
    const r = await run([
      '--quick', '--duration', '1', '--warmup', '0.3', '--workloads', '10k,idle-memory,ws-memory',
      '--only', 'handoff-seqpacket,nginx', '--json', json,
    ], undefined, 90_000);
    assert.equal(r.code, 0, `bench failed:\n${r.stdout}\n${r.stderr}`);
    const out = JSON.parse(fs.readFileSync(json, 'utf8')) as {
      runs: { candidate: string; workload: string; clients?: { established: number; unanswered: number } }[];
      memoryRows: { candidate: string; workload: string; workers: number; asked: number; answered: number; idleRssMiB: number; idleAnonMiB: number; duringRssMiB: number }[];
      workerMemory: { idleAtStart: Record<string, { rssKiB: number; anonKiB: number }[]>; peakKiB: Record<string, number[]> };
      targets: { target: string; status: string }[];
    };
    // nginx is the reference: it must hold every connection, or the harness is what is broken.
    const tenK = out.runs.find((x) => x.candidate === 'nginx' && x.workload === '10k');
    assert.deepEqual(tenK?.clients, { established: 2000, unanswered: 0 }, 'every one of nginx\'s connections counted and answered');
    assert.ok(out.runs.some((x) => x.candidate === 'handoff-seqpacket' && x.workload === '10k' && x.clients), 'Handoff\'s connections counted');
    for (const candidate of ['handoff-seqpacket', 'nginx']) {
      for (const workload of ['idle-memory', 'ws-memory']) {
        const row = out.memoryRows.find((x) => x.candidate === candidate && x.workload === workload);
        assert.ok(row, `a memory row for ${candidate} × ${workload}`);
        assert.equal(row.workers, 2, `${candidate}: the two workers are measured, not the master`);
        assert.equal(row.answered, row.asked, `${candidate} × ${workload}: every connection answered`);
        assert.ok(row.idleRssMiB > row.idleAnonMiB && row.idleAnonMiB > 0, 'RSS and its anonymous part');
        assert.ok(row.duringRssMiB > 0);
      }
      assert.equal(out.workerMemory.idleAtStart[candidate].length, 2);
      assert.ok(out.workerMemory.peakKiB[candidate].every((k) => k > 0), 'a peak per worker');
    }
    assert.equal(out.targets.length, 10 + 1, 'a row per target, and a p99 row for the one wrk workload run');
    const byName = (re: RegExp): string | undefined => out.targets.find((x) => re.test(x.target))?.status;
    assert.equal(byName(/^keep-alive, 50 connections/), 'not measured', 'a workload not run is not measured');
    for (const re of [/idle keep-alive connections/, /WebSockets/, /idle worker RSS/, /peak worker RSS/, /concurrent keep-alive connections, all served/]) {
      assert.match(byName(re) ?? '', /^(met|not met)$/, `target ${re} is computed`);
    }
    const md = fs.readFileSync(json.replace(/\.json$/, '.md'), 'utf8');
    assert.match(md, /^# Handoff benchmark[^\n]*\n\n## Targets\n/, 'the targets open the report');
  });

  it('stops everything it started when interrupted', async () => {
    let sent = false;
    const r = await run(['--quick', '--duration', '5', '--warmup', '0', '--workloads', 'keepalive', '--only', 'nginx,haproxy', '--json', path.join(dir, 'int.json')],
      (stdout, child) => {
        // Interrupt mid-run, while nginx, HAProxy and wrk are all up.
        if (!sent && /1\/\d+ runs|runs, about/.test(stdout)) { sent = true; setTimeout(() => child.kill('SIGINT'), 1000); }
      });
    assert.ok(sent, `the harness got as far as running:\n${r.stdout}\n${r.stderr}`);
    assert.equal(r.code, 130, r.stderr);
    const tmp = tmpOf(r.stdout);
    assert.ok(tmp);
    assert.deepEqual(processesUsing(tmp), [], 'no nginx, HAProxy or wrk left behind');
    assert.equal(fs.existsSync(tmp), false, 'temp dir removed');
  });
});
