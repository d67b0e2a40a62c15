// Tests for the C addon (proxy/handoff/native/) with real sockets only: TCP listeners,
// SOCK_SEQPACKET channels, fds passed with SCM_RIGHTS. Every in-process test checks that the
// process ends with exactly the fds it started with, because an fd leak is the bug this addon
// exists to avoid. What needs a process of its own (an fd limit, uncaught exceptions, a worker
// thread unloading the addon) runs in a child node.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { setImmediate as tick, setTimeout as sleep } from 'node:timers/promises';
import v8 from 'node:v8';
import vm from 'node:vm';
import { native, type Channel } from '../../proxy/handoff/native';
import { MESSAGE_SIZE, MessageType, decode, encode, type FixedMessage } from '../../proxy/handoff/protocol';
import { acceptOne, seqpacketPair } from '../helpers/channels';

const O_CLOEXEC = 0o2000000;

/** fd -> what it is ("socket:[123]", "/dev/null"...), to say which fds leaked. */
function fdTable(): Map<string, string> {
  const table = new Map<string, string>();
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    try {
      table.set(fd, fs.readlinkSync(`/proc/self/fd/${fd}`));
    } catch {
      // the directory fd readdir used, closed by now
    }
  }
  return table;
}

function fdDiff(before: Map<string, string>, after: Map<string, string>): string {
  const changes: string[] = [];
  for (const fd of new Set([...before.keys(), ...after.keys()])) {
    if (before.get(fd) !== after.get(fd)) changes.push(`fd ${fd}: ${before.get(fd) ?? '-'} -> ${after.get(fd) ?? '-'}`);
  }
  return changes.join(', ');
}

/** Polls until `check` holds (closes can be asynchronous), or fails after `ms`. */
async function until(what: string, check: () => boolean, ms = 1000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(2);
  }
}

/** A test whose body must leave /proc/self/fd exactly as it found it. */
function leakFreeTest(name: string, body: (dir: string) => Promise<void>): void {
  test(name, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'handoff-native-'));
    const before = fdTable();
    try {
      await body(dir);
      await tick();
      const deadline = Date.now() + 1000;
      while (fdTable().size !== before.size && Date.now() < deadline) await sleep(5);
      const after = fdTable();
      assert.equal(after.size, before.size, `open fds changed: ${fdDiff(before, after)}`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
}

/** A TCP connection: the client as a net.Socket, the server end as a raw accepted fd. */
async function tcpPair(): Promise<{ client: net.Socket; fd: number }> {
  const listenFd = native.tcpListen('127.0.0.1', 0, 8, false);
  try {
    const accepted = acceptOne(listenFd);
    const client = net.connect(native.localPort(listenFd), '127.0.0.1');
    await new Promise((resolve, reject) => client.once('connect', resolve).once('error', reject));
    return { client, fd: await accepted };
  } finally {
    native.closeFd(listenFd);
  }
}

function readOnce(socket: net.Socket): Promise<string> {
  return new Promise((resolve) => socket.once('data', (d) => resolve(d.toString())));
}

interface Received {
  header: Buffer;
  fd: number;
  truncated: boolean;
}

/** A Channel that records what it gets; pass `onMessage` to act on each message too. */
function recordingChannel(fd: number, onMessage?: (m: Received, ch: Channel) => void) {
  const got: Received[] = [];
  const closes: (string | null)[] = [];
  let writable = 0;
  const channel: Channel = new native.Channel(
    fd,
    (header, passed, truncated) => {
      got.push({ header, fd: passed, truncated });
      onMessage?.({ header, fd: passed, truncated }, channel);
    },
    () => writable++,
    (code) => closes.push(code),
  );
  return { channel, got, closes, writable: () => writable };
}

leakFreeTest('tcpListen + Acceptor: a real client is accepted and its fd works as a net.Socket', async () => {
  const { client, fd } = await tcpPair();
  assert.ok(fd >= 0);
  const server = new net.Socket({ fd, readable: true, writable: true });
  server.on('data', (d) => server.write(d)); // echo
  const echoed = readOnce(client);
  client.write('ping over an accepted fd');
  assert.equal(await echoed, 'ping over an accepted fd');
  server.destroy();
  client.destroy();
});

leakFreeTest('tcpListen: EADDRINUSE carries the code and names the address', async () => {
  const fd = native.tcpListen('127.0.0.1', 0, 8, false);
  const port = native.localPort(fd);
  try {
    assert.throws(() => native.tcpListen('127.0.0.1', port, 8, false), (err: NodeJS.ErrnoException) => {
      assert.equal(err.code, 'EADDRINUSE');
      assert.equal(err.message, `listen 127.0.0.1:${port}: address already in use`);
      return true;
    });
    // SO_REUSEPORT is opt-in: with it on both sockets, a second bind to the same port succeeds.
    const a = native.tcpListen('127.0.0.1', 0, 8, true);
    const b = native.tcpListen('127.0.0.1', native.localPort(a), 8, true);
    native.closeFd(a);
    native.closeFd(b);
    const v6 = native.tcpListen('::1', 0, 8, false);
    assert.ok(native.localPort(v6) > 0);
    native.closeFd(v6);
  } finally {
    native.closeFd(fd);
  }
});

leakFreeTest('seqpacket: socket file is 0600; a message and a TCP fd cross a Channel pair', async (dir) => {
  const sockPath = path.join(dir, 'master.sock');
  const listenFd = native.seqpacketListen(sockPath, 8);
  assert.equal(fs.statSync(sockPath).mode & 0o777, 0o600);
  assert.ok(fs.statSync(sockPath).isSocket());
  const workerFd = native.seqpacketConnect(sockPath);
  const masterFd = await acceptOne(listenFd);
  native.closeFd(listenFd);

  const { client, fd: tcpFd } = await tcpPair();
  const worker = recordingChannel(workerFd);
  const master = recordingChannel(masterFd);
  assert.equal(master.channel.fd, masterFd);
  assert.equal(master.channel.send(encode(MessageType.CONNECTION, 7, 2), tcpFd), 0);
  native.closeFd(tcpFd); // the sender's copy; the message holds its own
  assert.equal(worker.channel.send(encode(MessageType.ACK, 7, 1), -1), 0);
  await until('both messages', () => worker.got.length === 1 && master.got.length === 1);

  const [conn] = worker.got;
  assert.equal(conn.header.length, MESSAGE_SIZE);
  assert.deepEqual(decode(conn.header), { type: MessageType.CONNECTION, seq: 7, a: 2, b: 0 });
  assert.equal(conn.truncated, false);
  assert.ok(conn.fd >= 0 && conn.fd !== tcpFd);
  const flags = /flags:\s*([0-7]+)/.exec(fs.readFileSync(`/proc/self/fdinfo/${conn.fd}`, 'utf8'));
  assert.ok(flags && (parseInt(flags[1], 8) & O_CLOEXEC) !== 0, 'received fd is close-on-exec');
  assert.deepEqual(master.got[0], { header: encode(MessageType.ACK, 7, 1), fd: -1, truncated: false });

  // The received fd is the same TCP connection: what the worker writes, the client reads.
  const served = new net.Socket({ fd: conn.fd, readable: true, writable: true });
  const read = readOnce(client);
  served.write('hello from the worker');
  assert.equal(await read, 'hello from the worker');
  served.destroy();
  client.destroy();
  master.channel.close();
  master.channel.close(); // idempotent
  assert.equal(master.channel.fd, -1);
  await until('worker sees EOF', () => worker.closes.length === 1);
  assert.deepEqual(master.closes, []); // a local close does not call onClose
});

leakFreeTest('many fds in one message: a channel that takes them gets them in order, one that takes one closes the rest', async (dir) => {
  const files = Array.from({ length: 5 }, (_, i) => path.join(dir, `f${i}`));
  const sent = files.map((f) => fs.openSync(f, 'w'));
  const [a, b] = await seqpacketPair(dir, 'many.sock');
  const got: { fd: number; more: number[] | undefined; truncated: boolean }[] = [];
  const many = new native.Channel(b, (_h, fd, truncated, more) => got.push({ fd, more, truncated }), () => {}, () => {}, 64);
  const sender = new native.Channel(a, () => {}, () => {}, () => {});
  try {
    assert.equal(sender.send(encode(MessageType.CONNECTIONS, 1, 0, sent.length), sent), 0);
    assert.equal(sender.send(encode(MessageType.CONNECTION, 6, 0), [sent[0]]), 0); // an array of one: as a single fd
    assert.throws(() => sender.send(encode(MessageType.CONNECTIONS, 7, 0, 0), []), { code: 'ERR_INVALID_ARG_TYPE' });
    await until('both messages', () => got.length === 2);
    const [burst, single] = got;
    const received = [burst.fd, ...(burst.more ?? [])];
    assert.equal(burst.truncated, false);
    assert.deepEqual(received.map((fd) => fs.readlinkSync(`/proc/self/fd/${fd}`)), files, 'each fd is the file sent in its place');
    assert.equal(single.more, undefined);
    assert.equal(fs.readlinkSync(`/proc/self/fd/${single.fd}`), files[0]);
    for (const fd of [...received, single.fd]) native.closeFd(fd);
  } finally {
    many.close();
  }
  // The default (maxFds 1): the first fd arrives, the rest are closed here (the fd table says so).
  const [c, d] = await seqpacketPair(dir, 'one.sock');
  const one: { fd: number; more: number[] | undefined; truncated: boolean }[] = [];
  const single = new native.Channel(d, (_h, fd, truncated, more) => one.push({ fd, more, truncated }), () => {}, () => {});
  const sender2 = new native.Channel(c, () => {}, () => {}, () => {});
  assert.equal(sender2.send(encode(MessageType.CONNECTIONS, 1, 0, sent.length), sent), 0);
  await until('the message', () => one.length === 1);
  assert.equal(one[0].more, undefined);
  assert.equal(one[0].truncated, true, 'MSG_CTRUNC: the kernel dropped the fds that did not fit');
  assert.equal(fs.readlinkSync(`/proc/self/fd/${one[0].fd}`), files[0]);
  native.closeFd(one[0].fd);
  for (const ch of [sender, sender2, single]) ch.close();
  for (const fd of sent) fs.closeSync(fd);
});

leakFreeTest('backpressure: EAGAIN loses nothing, onWritable fires once the peer drains', async (dir) => {
  const [receiverFd, senderFd] = await seqpacketPair(dir);
  const sender = recordingChannel(senderFd);
  const passed = fs.openSync('/dev/null', 'r'); // every message carries an fd: none may get lost
  let sent = 0;
  let result: 0 | 'EAGAIN' = 0;
  for (let i = 0; i < 100_000 && result === 0; i++) {
    result = sender.channel.send(encode(MessageType.CONNECTION, i), passed);
    if (result === 0) sent++;
  }
  assert.equal(result, 'EAGAIN');
  assert.ok(sent > 10, `sent ${sent} before EAGAIN`);
  assert.equal(sender.channel.send(encode(MessageType.CONNECTION, sent), passed), 'EAGAIN'); // still full
  await sleep(20);
  assert.equal(sender.writable(), 0, 'no onWritable while the peer does not read');

  // Now the peer reads (a Channel reads as soon as it exists) and closes every fd it gets.
  const receiver = recordingChannel(receiverFd, (m) => native.closeFd(m.fd));
  await until('onWritable', () => sender.writable() === 1);
  assert.equal(sender.channel.send(encode(MessageType.CONNECTION, sent), passed), 0);
  await until('every message', () => receiver.got.length === sent + 1);
  receiver.got.forEach((m, i) => {
    assert.equal((decode(m.header) as FixedMessage | null)?.seq, i, 'in order, none lost or duplicated');
    assert.ok(m.fd >= 0 && !m.truncated);
  });
  await sleep(20);
  assert.equal(sender.writable(), 1, 'onWritable fires once per EAGAIN');
  native.closeFd(passed);
  sender.channel.close();
  receiver.channel.close();
});

leakFreeTest('peer close: onClose(null) on the other side, its fd closed, send throws EPIPE', async (dir) => {
  const [aFd, bFd] = await seqpacketPair(dir);
  const a = recordingChannel(aFd);
  const b = recordingChannel(bFd);
  a.channel.close();
  await until('onClose', () => b.closes.length === 1);
  assert.deepEqual(b.closes, [null]);
  assert.equal(b.channel.fd, -1);
  assert.equal(fs.existsSync(`/proc/self/fd/${bFd}`), false);
  assert.throws(() => b.channel.send(encode(MessageType.ACK), -1), { code: 'EBADF' });
  b.channel.close(); // no-op after a peer close

  // Sending to a closed peer, before our side noticed the EOF, is an EPIPE (not a SIGPIPE).
  const [cFd, dFd] = await seqpacketPair(dir);
  native.closeFd(dFd);
  const c = recordingChannel(cFd);
  assert.throws(() => c.channel.send(encode(MessageType.ACK), -1), { code: 'EPIPE' });
  await until('onClose', () => c.closes.length === 1);
});

leakFreeTest('peer closes with unread messages: queued messages arrive, then onClose(ECONNRESET)', async (dir) => {
  const [aFd, bFd] = await seqpacketPair(dir);
  const passed = fs.openSync('/dev/null', 'r');
  // All synchronous, so neither Channel reads before A is closed with B's message unread.
  const a = recordingChannel(aFd);
  const b = recordingChannel(bFd, (m) => m.fd >= 0 && native.closeFd(m.fd));
  a.channel.send(encode(MessageType.CONNECTION, 1), passed);
  b.channel.send(encode(MessageType.ACK, 9), -1);
  a.channel.close();
  native.closeFd(passed);
  await until('onClose', () => b.closes.length === 1);
  assert.equal(b.got.length, 1, 'the message (and its fd) sent before the reset is delivered');
  assert.ok(b.got[0].fd >= 0);
  assert.deepEqual(b.closes, ['ECONNRESET']);
});

leakFreeTest('re-entrancy: close() inside onMessage stops delivery; in-flight fds are released', async (dir) => {
  const [aFd, bFd] = await seqpacketPair(dir);
  const passed = fs.openSync('/dev/null', 'r');
  const a = recordingChannel(aFd);
  for (let i = 0; i < 3; i++) assert.equal(a.channel.send(encode(MessageType.CONNECTION, i), passed), 0);
  native.closeFd(passed);
  const b = recordingChannel(bFd, (m, ch) => {
    native.closeFd(m.fd);
    assert.equal(ch.send(encode(MessageType.ACK, 0), -1), 0); // send() from inside a callback
    ch.close();
  });
  await until('a gets the ACK', () => a.got.length === 1);
  await sleep(10);
  assert.equal(b.got.length, 1);
  assert.deepEqual(b.closes, []);
  a.channel.close();
});

leakFreeTest('seqpacketListen: replaces a stale socket file, refuses a live one and a regular file', async (dir) => {
  const sockPath = path.join(dir, 'master.sock');
  native.closeFd(native.seqpacketListen(sockPath, 8)); // a "crashed" master: the file stays
  assert.ok(fs.existsSync(sockPath));
  const live = native.seqpacketListen(sockPath, 8); // stale: replaced
  try {
    assert.throws(() => native.seqpacketListen(sockPath, 8), (err: NodeJS.ErrnoException) => {
      assert.equal(err.code, 'EADDRINUSE');
      assert.match(err.message, /^listen .*master\.sock: address already in use/);
      return true;
    });
    // The live master still owns its socket: a worker can connect.
    native.closeFd(native.seqpacketConnect(sockPath));
  } finally {
    native.closeFd(live);
  }
  const filePath = path.join(dir, 'not-a-socket');
  fs.writeFileSync(filePath, 'keep me');
  assert.throws(() => native.seqpacketListen(filePath, 8), { code: 'EADDRINUSE' });
  assert.equal(fs.readFileSync(filePath, 'utf8'), 'keep me');
  assert.throws(() => native.seqpacketListen(path.join(dir, 'x'.repeat(120)), 8), (err: NodeJS.ErrnoException) => {
    assert.equal(err.code, 'ENAMETOOLONG');
    assert.match(err.message, /at most 107 bytes/);
    return true;
  });
  assert.throws(() => native.seqpacketConnect(path.join(dir, 'nobody.sock')), { code: 'ENOENT' });
});

leakFreeTest('tcpListen: accepted sockets inherit TCP_NODELAY, so workers need no setsockopt', async () => {
  const { client, fd } = await tcpPair();
  try {
    assert.equal(native.tcpNoDelay(fd), true);
  } finally {
    client.destroy();
    native.closeFd(fd);
  }
});

leakFreeTest('Acceptor: pause() leaves connections in the backlog, resume() accepts them', async () => {
  const listenFd = native.tcpListen('127.0.0.1', 0, 8, false);
  const accepted: number[] = [];
  const acceptor = new native.Acceptor(listenFd, (fd) => accepted.push(fd), assert.fail);
  acceptor.pause();
  const client = net.connect(native.localPort(listenFd), '127.0.0.1');
  await new Promise((resolve) => client.once('connect', resolve));
  await sleep(20);
  assert.equal(accepted.length, 0);
  acceptor.resume();
  await until('accept after resume', () => accepted.length === 1);
  acceptor.close();
  acceptor.close();
  native.closeFd(accepted[0]);
  native.closeFd(listenFd);
  client.destroy();
});

leakFreeTest('constructors check their fd; a failed constructor leaves the fd with the caller', async (dir) => {
  const tcpFd = native.tcpListen('127.0.0.1', 0, 8, false);
  const [aFd, bFd] = await seqpacketPair(dir);
  const noop = () => {};
  assert.throws(() => new native.Channel(tcpFd, noop, noop, noop), { code: 'EINVAL' }); // not SEQPACKET
  assert.throws(() => new native.Acceptor(aFd, noop, noop), { code: 'EINVAL' }); // not listening
  assert.throws(() => new native.Channel(aFd, noop, noop, 42 as never), { code: 'ERR_INVALID_ARG_TYPE' });
  const a = new native.Channel(aFd, noop, noop, noop);
  assert.throws(() => new native.Channel(aFd, noop, noop, noop), { code: 'EEXIST' }); // already polled
  assert.throws(() => a.send(Buffer.alloc(0), -1), { code: 'ERR_INVALID_ARG_TYPE' });
  assert.throws(() => a.send(encode(MessageType.ACK), 1.5), { code: 'ERR_INVALID_ARG_TYPE' });
  assert.throws(() => a.send(encode(MessageType.ACK), 1_000_000), { code: 'EBADF' });
  a.close();
  native.closeFd(bFd);
  native.closeFd(tcpFd);
  assert.throws(() => native.closeFd(tcpFd), { code: 'EBADF' });
});

leakFreeTest('closed objects can be garbage collected safely', async (dir) => {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  for (let i = 0; i < 20; i++) {
    const [aFd, bFd] = await seqpacketPair(dir);
    const a = recordingChannel(aFd);
    recordingChannel(bFd); // closed by the peer's close, then dropped without close()
    a.channel.close();
  }
  await sleep(10);
  gc();
  await tick(); // N-API runs finalizers from an immediate
  gc();
  await tick();
});

/**
 * Runs a script in a fresh node process (with a hard fd limit if asked; NATIVE is the addon's
 * loader). With `connect`, the script's first stdout line is a port to connect to. Returns the
 * script's last stdout line, parsed as JSON.
 */
async function runChild(script: string, opts: { fdLimit?: number; connect?: (port: number) => Promise<void> }): Promise<any> {
  const nativePath = path.resolve(__dirname, '../../proxy/handoff/native');
  const [file, args] = opts.fdLimit
    ? ['/bin/sh', ['-c', `ulimit -n ${opts.fdLimit} && exec "$0" -e "$1"`, process.execPath, script]]
    : [process.execPath, ['-e', script]];
  const child = spawn(file, args, { env: { ...process.env, NATIVE: nativePath }, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal)));
  const killer = setTimeout(() => child.kill('SIGKILL'), 5000); // a hung child fails the test, not the run
  try {
    if (opts.connect) {
      await until('the child to listen', () => /^\d+\n/.test(out), 5000); // node starts slowly on a busy machine
      await opts.connect(Number(out.split('\n')[0]));
    }
    assert.equal(await exited, 0, out);
  } finally {
    clearTimeout(killer);
    child.kill('SIGKILL');
  }
  return JSON.parse(out.trim().split('\n').pop()!);
}

async function connectClients(port: number, n: number): Promise<void> {
  const clients = await Promise.all(
    Array.from({ length: n }, () => new Promise<net.Socket>((resolve) => {
      const c = net.connect(port, '127.0.0.1', () => resolve(c));
    })),
  );
  await Promise.all(clients.map((c) => new Promise((resolve) => c.on('close', resolve).on('error', () => {}))));
}

test('Acceptor: EMFILE is reported once per episode, then accepting resumes by itself', async () => {
  // The child uses up its fds, so the backlog fills while accept4 fails with EMFILE; it frees
  // them 120 ms after the first error, after ~2 retries (50, 100 ms) that must not report again.
  const script = `
    const { native } = require(process.env.NATIVE);
    const fs = require('fs');
    const listenFd = native.tcpListen('127.0.0.1', 0, 16, false);
    const errors = [], fillers = [];
    let accepted = 0;
    const acceptor = new native.Acceptor(listenFd, (fd) => {
      native.closeFd(fd);
      if (++accepted < 3) return;
      acceptor.close();
      native.closeFd(listenFd);
      console.log(JSON.stringify({ errors, accepted }));
    }, (code, message) => {
      errors.push({ code, message });
      setTimeout(() => fillers.splice(0).forEach((fd) => fs.closeSync(fd)), 120);
    });
    try { for (;;) fillers.push(fs.openSync('/dev/null', 'r')); } catch (e) { if (e.code !== 'EMFILE') throw e; }
    console.log(native.localPort(listenFd));`;
  const result = await runChild(script, { fdLimit: 64, connect: (port) => connectClients(port, 3) });
  assert.equal(result.accepted, 3);
  assert.equal(result.errors.length, 1);
  assert.equal(result.errors[0].code, 'EMFILE');
  assert.match(result.errors[0].message, /too many open files/);
});

test('Acceptor: a throwing onAccept becomes an uncaught exception, and accepting goes on', async () => {
  const script = `
    const { native } = require(process.env.NATIVE);
    const listenFd = native.tcpListen('127.0.0.1', 0, 16, false);
    const caught = [];
    let accepted = 0;
    process.on('uncaughtException', (err) => caught.push(err.message));
    const acceptor = new native.Acceptor(listenFd, (fd) => {
      native.closeFd(fd);
      if (++accepted === 1) throw new Error('boom');
      acceptor.close();
      native.closeFd(listenFd);
      console.log(JSON.stringify({ caught, accepted }));
    }, () => {});
    console.log(native.localPort(listenFd));`;
  const result = await runChild(script, { connect: (port) => connectClients(port, 2) });
  assert.deepEqual(result, { caught: ['boom'], accepted: 2 });
});

test('a worker thread that ends with an open Acceptor and Channels tears down cleanly', async () => {
  // Node unloads an addon with the last environment that loaded it. Before the addon registered
  // async cleanup hooks, libuv then ran our close callbacks in unmapped code and the process died
  // with SIGSEGV. Hence a child process whose main thread never loads the addon itself.
  const script = `
    const { Worker } = require('node:worker_threads');
    const fs = require('node:fs');
    const dir = fs.mkdtempSync(require('node:path').join(require('node:os').tmpdir(), 'handoff-worker-'));
    const link = (fd) => { try { return fs.readlinkSync('/proc/self/fd/' + fd); } catch { return null; } };
    const worker = new Worker(\`
      const { native } = require(process.env.NATIVE);
      const noop = () => {};
      const listenFd = native.seqpacketListen(\${JSON.stringify(dir + '/w.sock')}, 8);
      const peer = native.seqpacketConnect(\${JSON.stringify(dir + '/w.sock')});
      new native.Acceptor(listenFd, (fd) => {
        new native.Channel(fd, noop, noop, noop);
        new native.Channel(peer, noop, noop, noop);
        require('node:worker_threads').parentPort.postMessage([listenFd, fd, peer]);
      }, noop);\`, { eval: true });
    worker.once('message', async ([listenFd, ...channelFds]) => {
      const sockets = channelFds.map(link);
      const code = await worker.terminate();
      fs.closeSync(listenFd); // JS-owned: an Acceptor never closes its listener
      fs.rmSync(dir, { recursive: true });
      // The Channels owned their fds, so the teardown closed them (their numbers may be reused).
      const stillOpen = channelFds.filter((fd, i) => link(fd) === sockets[i]).length;
      console.log(JSON.stringify({ code, stillOpen }));
    });`;
  assert.deepEqual(await runChild(script, {}), { code: 1, stillOpen: 0 });
});
