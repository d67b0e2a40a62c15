// The access log in a file, as nginx's: every worker appends to the same file (O_APPEND), in
// nginx's combined format or as JSON lines, with the upstream's address and status, the request
// time and the upstream response time (one entry per server tried) and the worker. USR1 to the
// master (`handoff -s reopen`) has the workers open the file anew: logrotate renames it, and the
// lines after the signal go to a new file at the old path.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startBackend, type RunningBackend } from '../helpers/backend';
import { deadPort, rawExchange, request } from '../helpers/http-client';
import { waitFor } from '../helpers/procfs';
import { CLI, startProxy } from '../helpers/proxy';

const read = (file: string): string => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '');
const lineWith = (file: string, probe: string): string | undefined => read(file).split('\n').find((l) => l.includes(probe));

describe('the access log in a file', () => {
  let backend: RunningBackend;
  let dir: string;
  before(async () => {
    backend = await startBackend({ id: 'log-file' });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'handoff-logs-'));
  });
  after(async () => {
    await backend?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('combined: both workers append to one file, with the worker, each server tried and its status, and the times', async () => {
    const file = path.join(dir, 'combined.log');
    const dead = await deadPort();
    const proxy = await startProxy({
      workers: 2,
      handoff: { policy: 'round-robin' },
      upstreams: { app: { servers: [`127.0.0.1:${dead}`, `127.0.0.1:${backend.port}`] } },
      extra: { accessLog: { path: file, format: 'combined' } },
    });
    try {
      for (let i = 0; i < 6; i++) assert.equal((await request(`${proxy.url}/delay?ms=20&probe=c${i}`)).status, 200);
      await waitFor('six lines', () => read(file).split('\n').filter((l) => l.includes('probe=c')).length === 6);
      const lines = read(file).trim().split('\n');
      assert.equal(proxy.stdout().includes('probe=c'), false, 'nothing on stdout');
      const workers = new Set(lines.map((l) => /worker=(w\d+)/.exec(l)?.[1]));
      assert.equal(workers.size, 2, `both workers wrote to the file: ${[...workers].join(', ')}`);
      for (const line of lines) {
        assert.match(line, /^127\.0\.0\.1 - - \[[^\]]+\] "GET \/delay\?ms=20&probe=c\d HTTP\/1\.1" 200 \d+ "-" "-" worker=w\d+ upstream_addr="[^"]+" upstream_status="[^"]+" request_time=\d+\.\d{3} upstream_response_time="[^"]+"$/);
        const requestTime = Number(/request_time=([\d.]+)/.exec(line)![1]);
        const upstreamTimes = /upstream_response_time="([^"]+)"/.exec(line)![1]!.split(', ').map(Number);
        assert.ok(requestTime >= 0.02, `request_time ${requestTime} covers the upstream's 20 ms`);
        assert.ok(upstreamTimes.at(-1)! >= 0.02 && upstreamTimes.at(-1)! <= requestTime + 0.001, `upstream_response_time ${upstreamTimes.join(', ')} within request_time ${requestTime}`);
      }
      // Each worker tried the dead server first once (then it was skipped): nginx's lists.
      const retried = lines.filter((l) => l.includes(`upstream_addr="127.0.0.1:${dead}, 127.0.0.1:${backend.port}"`));
      assert.ok(retried.length >= 1, `a line lists both servers tried:\n${lines.join('\n')}`);
      for (const line of retried) assert.match(line, /upstream_status="502, 200"/);
      assert.ok(lines.some((l) => l.includes(`upstream_addr="127.0.0.1:${backend.port}" upstream_status="200"`)));
    } finally {
      await proxy.stop();
    }
  });

  it('json: one object per line with the same fields; a request answered by the proxy itself has no upstream', async () => {
    const file = path.join(dir, 'json.log');
    const proxy = await startProxy({
      workers: 1,
      upstreams: { app: { servers: [`127.0.0.1:${backend.port}`] } },
      extra: { accessLog: { path: file, format: 'json' } },
    });
    try {
      await request(`${proxy.url}/echo?probe=json`, { headers: { 'user-agent': 'probe "agent"', referer: 'http://ref/' } });
      assert.match(await rawExchange(proxy.port, 'GET /?probe=local HTTP/1.1\r\n\r\n'), /^HTTP\/1\.1 400 /); // no Host: answered here
      await waitFor('the line', () => lineWith(file, 'probe=json') !== undefined);
      const entry = JSON.parse(lineWith(file, 'probe=json')!) as Record<string, unknown>;
      assert.equal(entry.request, 'GET /echo?probe=json HTTP/1.1');
      assert.equal(entry.status, 200);
      assert.equal(entry.remote_addr, '127.0.0.1');
      assert.equal(entry.http_user_agent, 'probe "agent"');
      assert.equal(entry.http_referer, 'http://ref/');
      assert.deepEqual(entry.upstream_addr, [`127.0.0.1:${backend.port}`]);
      assert.deepEqual(entry.upstream_status, [200]);
      assert.equal(typeof entry.request_time, 'number');
      assert.equal((entry.upstream_response_time as number[]).length, 1);
      assert.match(String(entry.worker), /^w\d+$/);
      assert.ok(!Number.isNaN(Date.parse(String(entry.time))));
      assert.ok((entry.bytes_sent as number) > 0);
      await waitFor('the local answer\'s line', () => lineWith(file, 'probe=local') !== undefined);
      const local = JSON.parse(lineWith(file, 'probe=local')!) as Record<string, unknown>;
      assert.equal(local.status, 400);
      assert.deepEqual([local.upstream_addr, local.upstream_status, local.upstream_response_time], [[], [], []]);
    } finally {
      await proxy.stop();
    }
  });

  it('a file that cannot be opened is refused at start, naming it, as nginx does', () => {
    const file = path.join(dir, 'no-such-dir', 'access.log');
    const run = spawnSync(process.execPath, [CLI, '--listen', '127.0.0.1:0', '--upstream', `127.0.0.1:${backend.port}`, '--handoff-dir', path.join(dir, 'h'),
      '--set', `accessLog={"path":"${file}"}`], { encoding: 'utf8', timeout: 10_000 });
    assert.equal(run.status, 1);
    assert.ok(run.stderr.includes(`accessLog.path: "${file}" cannot be opened for appending (ENOENT)`), run.stderr);
  });

  it('handoff -s reopen (USR1): after logrotate renames the file, new lines go to a new file at the old path', async () => {
    const file = path.join(dir, 'rotated.log');
    const proxy = await startProxy({
      workers: 2,
      handoff: { policy: 'round-robin' },
      upstreams: { app: { servers: [`127.0.0.1:${backend.port}`] } },
      extra: { accessLog: { path: file } },
    });
    try {
      for (let i = 0; i < 4; i++) await request(`${proxy.url}/?probe=before${i}`);
      await waitFor('the lines before', () => read(file).split('\n').filter((l) => l.includes('probe=before')).length === 4);
      fs.renameSync(file, `${file}.1`);
      await request(`${proxy.url}/?probe=renamed`);
      await waitFor('a line to the renamed file (still open)', () => lineWith(`${file}.1`, 'probe=renamed') !== undefined);

      const run = spawnSync(process.execPath, [CLI, '-c', proxy.configFile, '-s', 'reopen'], { encoding: 'utf8', timeout: 10_000 });
      assert.equal(run.status, 0, run.stderr);
      await waitFor('both workers to reopen', () => proxy.stderr().match(/reopening the access log \(the master asked\)/g)?.length === 2);
      for (let i = 0; i < 4; i++) await request(`${proxy.url}/?probe=after${i}`);
      await waitFor('the lines after, in a new file at the old path', () => read(file).split('\n').filter((l) => l.includes('probe=after')).length === 4);
      assert.equal(read(`${file}.1`).includes('probe=after'), false, 'nothing more goes to the rotated file');
      assert.equal(read(file).includes('probe=before'), false);
      assert.equal((fs.statSync(file).mode & 0o777).toString(8), '644');
    } finally {
      await proxy.stop();
    }
  });
});
