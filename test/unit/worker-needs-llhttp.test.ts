// A worker parses HTTP with Node's llhttp, reached through an undocumented export. On a Node that
// no longer has it, the worker must say so at start-up and exit non-zero, before it joins a master
// and takes connections it cannot parse. Such a Node is made here by removing the export first.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';

const CLI = path.resolve(__dirname, '..', '..', 'proxy', 'cli.js');

describe('a worker on a Node without llhttp', () => {
  it('refuses to start, naming the Node version and what is missing, with a non-zero exit', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'handoff-no-llhttp-'));
    try {
      const preload = path.join(dir, 'drop-llhttp.js');
      // node:http is loaded first: its modules read the export as they load.
      fs.writeFileSync(preload, "require('node:http');\ndelete require('_http_common').HTTPParser;\n");
      // No master owns this directory: a worker that got past the check would wait for one, then fail otherwise.
      const run = spawnSync(process.execPath, ['--require', preload, CLI, 'worker', '--handoff-dir', dir, '--wait-ms', '0'], { encoding: 'utf8', timeout: 10_000 });
      assert.equal(run.status, 1, run.stderr);
      assert.match(run.stderr, new RegExp(`Node ${process.version.replace(/\./g, '\\.')} does not expose llhttp's parser \\(require\\('_http_common'\\)\\.HTTPParser`));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('starts as usual when llhttp is there (the check itself passes on this Node)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'handoff-worker-'));
    try {
      const run = spawnSync(process.execPath, [CLI, 'worker', '--handoff-dir', dir, '--wait-ms', '0'], { encoding: 'utf8', timeout: 10_000 });
      // It gets as far as looking for the master, which is not there.
      assert.equal(run.status, 1);
      assert.doesNotMatch(run.stderr, /llhttp/);
      assert.match(run.stderr, /master\.sock|ENOENT|ECONNREFUSED/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
