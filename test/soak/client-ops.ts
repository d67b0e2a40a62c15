// The soak's kinds of client, each one operation against the proxy that checks what it got back.
// Each resolves with what happened and the local ports it used (a failure on a connection that a
// killed worker held is explained by the kill: the soak matches these ports against the kernel's
// list of the sockets the worker had).
import crypto from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { WebSocket } from 'ws';
import { patternBody } from '../helpers/http-client';

export type OpKind = 'keepalive-get' | 'new-conn-get' | 'post' | 'chunked-upload' | 'slow-client' | 'vanish' | 'websocket' | 'upstream-error';

/** `vanished`: the client left on purpose, mid-request, as it was meant to. */
export type OpOutcome = { readonly kind: 'ok' } | { readonly kind: 'vanished' } | { readonly kind: 'failed'; readonly error: string };

export interface OpContext {
  readonly port: number;
  /** The keep-alive clients' shared pool. */
  readonly agent: http.Agent;
  /** Any answer slower than this is a failure. */
  readonly timeoutMs: number;
  /** Varies sizes and variants deterministically. */
  readonly n: number;
  /** Local ports of the connections this operation used, in order. */
  readonly ports: number[];
}

const POST_SIZES = [0, 1024, 16 * 1024, 256 * 1024, 1024 * 1024];
const POST_BODIES = POST_SIZES.map((size, i) => patternBody(size, i));
const POST_HASHES = POST_BODIES.map(sha256);
const CHUNKS = Array.from({ length: 8 }, (_, i) => patternBody(8 * 1024 + i, 100 + i));
const CHUNKED_HASH = sha256(Buffer.concat(CHUNKS));
const SLOW_RESPONSE_BYTES = 2 * 1024 * 1024;

function sha256(data: Buffer): string {
  return crypto.createHash('sha256').update(data).digest('hex');
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** /bytes?n=N answers byte i = i mod 256. */
function isPattern(body: Buffer, n: number): boolean {
  if (body.length !== n) return false;
  for (let i = 0; i < n; i++) if (body[i] !== (i & 255)) return false;
  return true;
}

function notePort(socket: net.Socket, ports: number[]): void {
  if (socket.localPort !== undefined) ports.push(socket.localPort);
  else socket.once('connect', () => ports.push(socket.localPort!));
}

interface HttpSpec {
  readonly method: string;
  readonly path: string;
  readonly agent: http.Agent | false;
  readonly headers?: http.OutgoingHttpHeaders;
  /** Writes the body (default: none) and ends the request. */
  readonly send?: (req: http.ClientRequest) => Promise<void>;
  /** Null if the answer is right, else what is wrong with it. */
  readonly check: (status: number, headers: http.IncomingHttpHeaders, body: Buffer) => string | null;
}

function httpOp(ctx: OpContext, spec: HttpSpec): Promise<OpOutcome> {
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port: ctx.port, method: spec.method, path: spec.path, agent: spec.agent, headers: spec.headers });
    const fail = (error: string): void => resolve({ kind: 'failed', error });
    req.setTimeout(ctx.timeoutMs, () => req.destroy(new Error(`no answer in ${ctx.timeoutMs} ms`)));
    req.on('socket', (socket) => notePort(socket, ctx.ports));
    req.on('error', (err: NodeJS.ErrnoException) => fail(`${err.code ?? err.message}${req.reusedSocket ? ' (reused connection)' : ''}`));
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', (err: NodeJS.ErrnoException) => fail(`response: ${err.code ?? err.message}`));
      res.on('aborted', () => fail('response cut short'));
      res.on('end', () => {
        if (!res.complete) return fail('response cut short');
        const wrong = spec.check(res.statusCode!, res.headers, Buffer.concat(chunks));
        resolve(wrong === null ? { kind: 'ok' } : { kind: 'failed', error: wrong });
      });
    });
    if (spec.send) spec.send(req).catch((err: Error) => req.destroy(err));
    else req.end();
  });
}

function expect200(check: (body: Buffer) => string | null) {
  return (status: number, _headers: http.IncomingHttpHeaders, body: Buffer): string | null =>
    status === 200 ? check(body) : `status ${status}: ${body.subarray(0, 200).toString()}`;
}

function echoMatches(bytes: number, hash: string) {
  return expect200((body) => {
    const echo = JSON.parse(body.toString()) as { bodyBytes: number; bodySha256: string };
    return echo.bodyBytes === bytes && echo.bodySha256 === hash ? null : `echo saw ${echo.bodyBytes} bytes ${echo.bodySha256}, sent ${bytes} ${hash}`;
  });
}

export const OPS: Record<OpKind, (ctx: OpContext) => Promise<OpOutcome>> = {
  'keepalive-get': (ctx) => {
    const n = [0, 100, 4096, 60_000][ctx.n % 4]!;
    return httpOp(ctx, { method: 'GET', path: `/bytes?n=${n}`, agent: ctx.agent, check: expect200((b) => (isPattern(b, n) ? null : `body of ${b.length} bytes is not /bytes?n=${n}`)) });
  },

  'new-conn-get': (ctx) =>
    httpOp(ctx, {
      method: 'GET',
      path: `/headers?n=${ctx.n}`,
      agent: false,
      headers: { connection: 'close' },
      check: expect200((b) => ((JSON.parse(b.toString()) as Record<string, string>).via?.includes('handoff') ? null : 'no Via: the proxy did not forward it')),
    }),

  post: (ctx) => {
    const i = ctx.n % POST_SIZES.length;
    return httpOp(ctx, {
      method: 'POST',
      path: '/echo',
      // Every other one on its own connection: a body on a fresh connection and on a reused one.
      agent: ctx.n % 2 === 0 ? ctx.agent : false,
      headers: { 'content-length': POST_SIZES[i]! },
      send: async (req) => void req.end(POST_BODIES[i]),
      check: echoMatches(POST_SIZES[i]!, POST_HASHES[i]!),
    });
  },

  'chunked-upload': (ctx) =>
    httpOp(ctx, {
      method: 'POST',
      path: '/echo',
      agent: ctx.agent,
      headers: { 'transfer-encoding': 'chunked' },
      send: async (req) => {
        for (const chunk of CHUNKS) {
          req.write(chunk);
          await sleep(20);
        }
        req.end();
      },
      check: echoMatches(CHUNKS.reduce((a, c) => a + c.length, 0), CHUNKED_HASH),
    }),

  'slow-client': (ctx) => slowClient(ctx),
  vanish: (ctx) => vanish(ctx),
  websocket: (ctx) => websocketEcho(ctx),

  'upstream-error': (ctx) => {
    const code = [500, 503][ctx.n % 2]!;
    return httpOp(ctx, {
      method: 'GET',
      path: `/status/${code}`,
      agent: ctx.agent,
      // The backend's own error, passed through: it names the backend (the proxy's pages do not).
      check: (status, headers) => (status === code && headers['x-backend-id'] !== undefined ? null : `status ${status} from ${headers['x-backend-id'] ?? 'the proxy'}`),
    });
  },
};

/** A raw connection: the head in pieces over ~1 s, then the 2 MiB answer read one read per 30 ms. */
function slowClient(ctx: OpContext): Promise<OpOutcome> {
  const head = `GET /bytes?n=${SLOW_RESPONSE_BYTES} HTTP/1.1\r\nHost: soak\r\nUser-Agent: slow\r\nConnection: close\r\n\r\n`;
  return rawOp(ctx, async (socket, done) => {
    for (let i = 0; i < head.length; i += 6) {
      socket.write(head.slice(i, i + 6));
      await sleep(80);
    }
    let received = 0;
    let headEnd = -1;
    let headText = '';
    socket.on('data', (d: Buffer) => {
      received += d.length;
      if (headEnd === -1) {
        headText += d.toString('latin1');
        headEnd = headText.indexOf('\r\n\r\n');
      }
      socket.pause();
      setTimeout(() => socket.resume(), 30);
    });
    socket.on('end', () => {
      const bodyBytes = received - (headEnd + 4);
      if (!headText.startsWith('HTTP/1.1 200')) return done({ kind: 'failed', error: `slow client got ${JSON.stringify(headText.slice(0, 40))}` });
      done(bodyBytes === SLOW_RESPONSE_BYTES ? { kind: 'ok' } : { kind: 'failed', error: `slow client got ${bodyBytes} of ${SLOW_RESPONSE_BYTES} body bytes` });
    });
  });
}

/** Leaves on purpose: mid-head, mid-body, while the upstream thinks, or mid-response. */
function vanish(ctx: OpContext): Promise<OpOutcome> {
  const variant = ctx.n % 4;
  return rawOp(ctx, async (socket, done) => {
    const leave = (): void => {
      socket.destroy();
      done({ kind: 'vanished' });
    };
    if (variant === 0) {
      socket.write('GET /bytes?n=10 HTTP/1.1\r\nHost: so');
      await sleep(100);
    } else if (variant === 1) {
      socket.write(`POST /echo HTTP/1.1\r\nHost: soak\r\nContent-Length: ${1024 * 1024}\r\n\r\n`);
      socket.write(POST_BODIES[3]!.subarray(0, 64 * 1024));
      await sleep(100);
    } else if (variant === 2) {
      socket.write('GET /delay?ms=1000 HTTP/1.1\r\nHost: soak\r\n\r\n');
      await sleep(200);
    } else {
      socket.write('GET /bytes?n=4194304 HTTP/1.1\r\nHost: soak\r\n\r\n');
      await new Promise<void>((r) => socket.once('data', () => r()));
    }
    // Anything the proxy said before we left is a failure: it should still have been waiting on us.
    if (socket.readableEnded || socket.destroyed) return done({ kind: 'failed', error: `closed before the client vanished (variant ${variant})` });
    leave();
  });
}

/** A raw socket whose errors and early closes count as failures unless `done` was called first. */
function rawOp(ctx: OpContext, run: (socket: net.Socket, done: (o: OpOutcome) => void) => Promise<void>): Promise<OpOutcome> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (o: OpOutcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(o);
    };
    const socket = net.connect(ctx.port, '127.0.0.1');
    notePort(socket, ctx.ports);
    const timer = setTimeout(() => done({ kind: 'failed', error: `no answer in ${ctx.timeoutMs} ms` }), ctx.timeoutMs);
    socket.on('error', (err: NodeJS.ErrnoException) => done({ kind: 'failed', error: err.code ?? err.message }));
    socket.on('close', () => done({ kind: 'failed', error: 'connection closed early' }));
    socket.once('connect', () => run(socket, done).catch((err: Error) => done({ kind: 'failed', error: err.message })));
  });
}

/** Five messages through the tunnel, each echoed in order, then a clean close. */
function websocketEcho(ctx: OpContext): Promise<OpOutcome> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (o: OpOutcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(o);
    };
    const ws = new WebSocket(`ws://127.0.0.1:${ctx.port}/ws`, {
      createConnection: ((opts: net.NetConnectOpts) => {
        const socket = net.connect(opts);
        notePort(socket, ctx.ports);
        return socket;
      }) as typeof net.createConnection,
    });
    const timer = setTimeout(() => {
      ws.terminate();
      done({ kind: 'failed', error: `websocket: nothing in ${ctx.timeoutMs} ms` });
    }, ctx.timeoutMs);
    const messages = Array.from({ length: 5 }, (_, i) => `soak ${ctx.n} message ${i} ${'x'.repeat(i * 300)}`);
    let next = 0;
    ws.on('open', () => ws.send(messages[0]!));
    ws.on('message', (data) => {
      if (data.toString() !== messages[next]) {
        ws.terminate();
        return done({ kind: 'failed', error: `websocket echo ${next} wrong` });
      }
      next++;
      if (next < messages.length) setTimeout(() => ws.readyState === WebSocket.OPEN && ws.send(messages[next]!), 150);
      else ws.close(1000);
    });
    ws.on('unexpected-response', (_req, res) => done({ kind: 'failed', error: `websocket handshake got ${res.statusCode}` }));
    ws.on('error', (err: NodeJS.ErrnoException) => done({ kind: 'failed', error: `websocket: ${err.code ?? err.message}` }));
    ws.on('close', (code) =>
      done(next === messages.length && code === 1000 ? { kind: 'ok' } : { kind: 'failed', error: `websocket closed (${code}) after ${next} echoes` }),
    );
  });
}
