// The client side of the connection-count workloads: the kernel's view of wrk's 10,000
// connections (is every one answered?), and idle keep-alive connections and WebSockets opened
// from the harness itself, each checked to have been answered before it is counted.
import { execFile } from 'node:child_process';
import net from 'node:net';
import { WebSocket } from 'ws';
import { sleep } from './procs';

function ss(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('ss', ['-Htn', ...args], { maxBuffer: 256 * 1024 * 1024 }, (err, out) => (err ? reject(err) : resolve(out)));
  });
}

export interface ClientView {
  /** Established TCP connections to the port (on loopback: wrk's, nothing else connects there). */
  established: number;
  /** Of those, the ones that have not received a byte: connected, never answered. */
  unanswered: number;
}

/** Counted from tcp_info (ss -i): `bytes_received` is left out by ss while it is 0. */
export async function clientConnections(port: number): Promise<ClientView> {
  const out = await ss(['-i', 'state', 'established', `dport = :${port}`]);
  let established = 0;
  let unanswered = 0;
  let open = false; // a socket line whose info line has not been seen yet
  for (const line of out.split('\n')) {
    if (line.trim() === '') continue;
    if (/^\s/.test(line)) {
      if (open && !/bytes_received:[1-9]/.test(line)) unanswered++;
      open = false;
    } else {
      if (open) unanswered++; // no info line at all
      established++;
      open = true;
    }
  }
  if (open) unanswered++;
  return { established, unanswered };
}

/**
 * Waits (up to `graceMs`, wrk's own --timeout) until `expected` connections are established and
 * every one has been answered: a connection still waiting after that is one the candidate did not
 * serve. Returns the last view.
 */
export async function awaitAllAnswered(port: number, expected: number, graceMs: number): Promise<ClientView> {
  const deadline = Date.now() + graceMs;
  for (;;) {
    const view = await clientConnections(port);
    if ((view.established >= expected && view.unanswered === 0) || Date.now() > deadline) return view;
    await sleep(250);
  }
}

/** Client connections the candidate still holds open (its side: established or not yet closed). */
export async function serverConnections(port: number): Promise<number> {
  const out = await ss(['state', 'established', 'state', 'close-wait', `sport = :${port}`]);
  return out.split('\n').filter((l) => l.trim() !== '').length;
}

/** True once the candidate has let go of every client connection, false if `timeoutMs` passes first. */
export async function awaitConnectionsGone(port: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while ((await serverConnections(port)) > 0) {
    if (Date.now() > deadline) return false;
    await sleep(100);
  }
  return true;
}

export interface Opened<T> {
  readonly clients: T[];
  /** Answered: the whole response (idle), or the message echoed (WebSocket). */
  readonly answered: number;
  readonly failed: number;
  /** Closed by the candidate (or an error) after being answered, while they should stay open. */
  closedEarly(): number;
  /** The first few reasons for failures, for the flags. */
  readonly errors: string[];
}

/** How many are opened at once: enough to be quick, few enough not to overflow a listen backlog. */
const PARALLEL = 200;

/**
 * Opens `n` of something, PARALLEL at a time; `one` calls `done(true)` once it was answered or
 * `done(false, why)`, and `lost()` if it closes afterwards. Bounded by `timeoutMs`.
 */
async function openMany<T>(n: number, timeoutMs: number, one: (i: number, done: (ok: boolean, why?: string) => void, lost: () => void) => T): Promise<Opened<T>> {
  const clients: T[] = [];
  const errors: string[] = [];
  let answered = 0;
  let failed = 0;
  let lostAfter = 0;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    const next = (): void => {
      if (clients.length >= n) return;
      const i = clients.length;
      let settled = false;
      let wasAnswered = false;
      clients.push(one(i, (ok, why) => {
        if (settled) return;
        settled = true;
        wasAnswered = ok;
        if (ok) answered++;
        else {
          failed++;
          if (errors.length < 3 && why) errors.push(why);
        }
        if (answered + failed === n) { clearTimeout(timer); resolve(); } else next();
      }, () => { if (wasAnswered) lostAfter++; }));
    };
    for (let k = 0; k < Math.min(PARALLEL, n); k++) next();
  });
  return { clients, answered, failed: n - answered, errors, closedEarly: () => lostAfter };
}

const REQUEST = 'GET / HTTP/1.1\r\nHost: bench\r\n\r\n';

/** True once `text` holds a whole response with a Content-Length body. */
function wholeResponse(text: string): boolean {
  const end = text.indexOf('\r\n\r\n');
  if (end < 0) return false;
  const len = /\r\ncontent-length:\s*(\d+)/i.exec(text.slice(0, end));
  return len !== null && text.length >= end + 4 + Number(len[1]);
}

/** `n` keep-alive connections that each made one request, got its response, and stay open idle. */
export function openIdleConnections(port: number, n: number, timeoutMs: number): Promise<Opened<net.Socket>> {
  return openMany(n, timeoutMs, (_i, done, lost) => {
    const s = net.connect(port, '127.0.0.1');
    let text = '';
    s.on('connect', () => s.write(REQUEST));
    s.on('data', (d: Buffer) => {
      text += d.toString('latin1');
      if (wholeResponse(text)) done(true);
    });
    s.on('error', (err) => done(false, err.message));
    s.on('close', () => { done(false, 'closed before a whole response'); lost(); });
    return s;
  });
}

export function closeIdleConnections(sockets: net.Socket[]): void {
  for (const s of sockets) {
    s.removeAllListeners('close');
    s.destroy();
  }
}

/** `n` WebSockets through the candidate to the sample backend's /ws echo, one message echoed on each. */
export function openWebSockets(port: number, host: string, n: number, timeoutMs: number): Promise<Opened<WebSocket>> {
  return openMany(n, timeoutMs, (i, done, lost) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, { headers: { Host: host }, perMessageDeflate: false });
    const text = `bench ${i}`;
    ws.on('open', () => ws.send(text));
    ws.on('message', (data) => done(data.toString() === text, `echo of ${i} differs`));
    ws.on('unexpected-response', (_req, res) => { done(false, `upgrade refused: ${res.statusCode}`); ws.terminate(); });
    ws.on('error', (err) => done(false, err.message));
    ws.on('close', () => { done(false, 'closed before the echo'); lost(); });
    return ws;
  });
}

/** A clean close handshake on every WebSocket (bounded), then whatever is left is dropped. */
export async function closeWebSockets(sockets: WebSocket[], timeoutMs: number): Promise<number> {
  const pending = sockets.filter((ws) => ws.readyState !== WebSocket.CLOSED);
  for (const ws of pending) {
    ws.removeAllListeners('close');
    ws.removeAllListeners('error');
    ws.on('error', () => { /* a reset during close: terminated below if still open */ });
    ws.close(1000);
  }
  const deadline = Date.now() + timeoutMs;
  while (pending.some((ws) => ws.readyState !== WebSocket.CLOSED) && Date.now() < deadline) await sleep(50);
  const stuck = pending.filter((ws) => ws.readyState !== WebSocket.CLOSED);
  for (const ws of stuck) ws.terminate();
  return stuck.length;
}
