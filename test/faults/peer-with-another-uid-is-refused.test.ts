// Each end of master.sock asks the kernel who is at the other (SO_PEERCRED): only the master's
// own user or root is taken. master.sock is mode 0600 and its directory 0700, so another user
// is normally stopped by the file modes already; these tests open the modes (or move a socket)
// to stand for what gets past them: a process with CAP_DAC_OVERRIDE, or a shared volume between
// containers whose users differ. The processes of "another user" are real ones, run as nobody.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startBackend, type RunningBackend } from '../helpers/backend';
import { request } from '../helpers/http-client';
import { isAlive, waitFor } from '../helpers/procfs';
import { CLI, startProxy, type RunningProxy } from '../helpers/proxy';

const NOBODY = 65534;
const NATIVE = path.resolve(__dirname, '../../proxy/handoff/native.js');
const PROTOCOL = path.resolve(__dirname, '../../proxy/handoff/protocol.js');

/** A node process that loads the addon as root, then runs `body` as nobody; its stdout is collected. */
function asNobody(body: string): { child: ChildProcess; output: () => string } {
  const script = `
    const { native } = require(${JSON.stringify(NATIVE)});
    const { decode, encodeRegister, MessageType } = require(${JSON.stringify(PROTOCOL)});
    process.setgroups([]); process.setgid(${NOBODY}); process.setuid(${NOBODY});
    setTimeout(() => process.exit(0), 8000).unref();
    ${body}`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  return { child, output: () => out };
}

describe('peers on master.sock of another uid', () => {
  let backend: RunningBackend;
  let proxy: RunningProxy;
  const children: ChildProcess[] = [];
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'handoff-peer-'));

  before(async () => {
    backend = await startBackend({ id: 'real' });
    proxy = await startProxy({ workers: 1, upstreams: { app: { servers: [`127.0.0.1:${backend.port}`] } } });
  });
  after(async () => {
    for (const child of children) child.kill('SIGKILL');
    await proxy?.stop();
    await backend?.stop();
    fs.rmSync(scratch, { recursive: true, force: true });
  });

  it('the master closes a connection from another uid before it can register, and says so; its workers serve on', async () => {
    fs.chmodSync(path.dirname(proxy.handoffDir), 0o711);
    fs.chmodSync(proxy.handoffDir, 0o711);
    fs.chmodSync(path.join(proxy.handoffDir, 'master.sock'), 0o666);
    const impostor = asNobody(`
      const fd = native.seqpacketConnect(${JSON.stringify(path.join(proxy.handoffDir, 'master.sock'))});
      const channel = new native.Channel(fd,
        (header) => { if (decode(header)?.type === MessageType.WELCOME) { console.log('welcomed'); process.exit(0); } },
        () => {},
        () => { console.log('closed'); process.exit(0); });
      try {
        channel.send(encodeRegister(process.pid, 100, { spawnKey: 0, unfit: null, host: 'impostor' }), -1);
      } catch (err) { console.log('closed'); process.exit(0); }`);
    children.push(impostor.child);
    await waitFor('the impostor to be answered', () => impostor.output() !== '', 8_000);
    assert.equal(impostor.output().trim(), 'closed', 'its channel was closed, never welcomed');
    assert.match(proxy.stderr(), new RegExp(`\\[warn\\].*refused a connection on master\\.sock: pid ${impostor.child.pid} runs as uid ${NOBODY}, not as root`));
    assert.doesNotMatch(proxy.stderr(), /impostor/, 'it never joined');
    assert.ok(isAlive(proxy.pid));
    assert.equal((await request(`${proxy.url}/`)).headers['x-backend-id'], 'real');
  });

  it('a worker refuses to join a master.sock on which another uid listens, saying why', async () => {
    fs.chmodSync(scratch, 0o711); // nobody may pass through to a directory of its own
    const theirs = path.join(scratch, 'theirs');
    fs.mkdirSync(theirs, { mode: 0o700 });
    fs.chownSync(theirs, NOBODY, NOBODY);
    const fake = asNobody(`
      const fd = native.seqpacketListen(${JSON.stringify(path.join(theirs, 'master.sock'))}, 8);
      new native.Acceptor(fd, () => {}, () => {});
      console.log('listening');`);
    children.push(fake.child);
    await waitFor('the fake master to listen', () => fake.output().includes('listening'));
    // Into a directory of ours, next to a real config: the only thing wrong is who listens.
    const ours = path.join(scratch, 'ours');
    fs.mkdirSync(ours, { mode: 0o700 });
    fs.copyFileSync(path.join(proxy.handoffDir, 'config.json'), path.join(ours, 'config.json'));
    fs.renameSync(path.join(theirs, 'master.sock'), path.join(ours, 'master.sock'));

    const run = spawnSync(process.execPath, [CLI, 'worker', '--handoff-dir', ours, '--wait-ms', '0'], { encoding: 'utf8', timeout: 8_000 });
    assert.equal(run.status, 1, `the worker exits at once; stderr: ${run.stderr}`);
    assert.match(run.stderr, new RegExp(`refusing to join the master on ${ours}/master\\.sock: pid ${fake.child.pid} runs as uid ${NOBODY}, not as root`));
  });
});
