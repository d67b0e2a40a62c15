// `handoff -t` checks a config like `nginx -t`: exit 0 and a success line, or exit 1 and every
// problem, each naming the file and the field.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { CLI } from '../helpers/proxy';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'handoff-config-check-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

function handoff(...args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 10_000 });
}

describe('handoff -t', () => {
  it('accepts the default config with exit code 0', () => {
    const run = handoff('-t');
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /configuration file .*handoff\.json test is successful/);
  });

  it('reports all three mistakes of a config and exits 1', () => {
    const file = path.join(dir, 'three-mistakes.json');
    fs.writeFileSync(
      file,
      JSON.stringify({
        workers: -2,
        listeners: ['127.0.0.1:8080'],
        upstreams: { app: { servers: ['localhost'] } },
        routes: [{ pathPrefix: '/', upstream: 'missing' }],
      }),
    );
    const run = handoff('-t', '-c', file);
    assert.equal(run.status, 1);
    const lines = run.stderr.split('\n').filter((l) => l.includes('three-mistakes.json'));
    assert.ok(lines.some((l) => /workers/.test(l)), `workers is named:\n${run.stderr}`);
    assert.ok(lines.some((l) => /upstreams\.app\.servers\[0\]/.test(l)), `the server address is named:\n${run.stderr}`);
    assert.ok(lines.some((l) => /routes\[0\]\.upstream/.test(l) && /missing/.test(l)), `the unknown upstream is named:\n${run.stderr}`);
    assert.match(run.stderr, /test failed/);
  });

  it('names file, line and column of a JSON syntax error', () => {
    const file = path.join(dir, 'broken.json');
    fs.writeFileSync(file, '{\n  "workers": 2,\n  "listeners": [\n}\n');
    const run = handoff('-t', '-c', file);
    assert.equal(run.status, 1);
    assert.match(run.stderr, /broken\.json/);
    assert.match(run.stderr, /line 4/);
  });

  it('says which file is missing', () => {
    const run = handoff('-t', '-c', path.join(dir, 'nope.json'));
    assert.equal(run.status, 1);
    assert.match(run.stderr, /nope\.json/);
  });

  it('rejects an unknown command-line option with usage and exit 2', () => {
    const run = handoff('--bogus');
    assert.equal(run.status, 2);
    assert.match(run.stderr, /unknown option "--bogus"/);
    assert.match(run.stderr, /Usage:/);
  });

  it('checks command-line overrides like the file', () => {
    const run = handoff('-t', '--listen', '127.0.0.1:99999');
    assert.equal(run.status, 1);
    assert.match(run.stderr, /listeners\[0\]/);
  });
});

describe('handoff --set', () => {
  it('sets config values before the check, parsed as JSON when they parse', () => {
    const run = handoff('-t', '--set', 'workerHeader=X-Handoff-Worker', '--set', 'accessLog=stdout', '--set', 'upgrades=["websocket","h2c"]');
    assert.equal(run.status, 0, run.stderr);
  });

  it('names the --set behind a problem it causes', () => {
    const run = handoff('-t', '--set', 'workers=many', '--set', 'timeouts.read=5x');
    assert.equal(run.status, 1);
    assert.match(run.stderr, /workers: expected an integer from 1 to 256 or "auto", got "many" \(from --set workers=many\)/);
    assert.match(run.stderr, /timeouts\.read: unknown unit "x".* \(from --set timeouts\.read=5x\)/);
    const typo = handoff('-t', '--set', 'workrs=2');
    assert.equal(typo.status, 1);
    assert.match(typo.stderr, /workrs: unknown key "workrs"; did you mean "workers"\? \(from --set workrs=2\)/);
  });

  it('refuses a --set without key=value with usage and exit 2', () => {
    const run = handoff('-t', '--set', 'accessLog');
    assert.equal(run.status, 2);
    assert.match(run.stderr, /--set accessLog: expected key\.path=value/);
    assert.match(run.stderr, /Usage:/);
  });
});
