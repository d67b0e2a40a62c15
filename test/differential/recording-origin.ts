// The origin behind both proxies in the differential run: a raw TCP server that keeps every byte
// it receives, per connection, and frames requests out of them as a strict HTTP/1.1 server would
// (RFC 9112: CRLF lines, Transfer-Encoding before Content-Length, chunked with trailers). Each
// request it can frame gets the same small response, so whatever the client sees differently
// comes from the proxy. Bytes it cannot frame stay recorded as they came: a proxy that sends
// something a strict origin cannot read is as much a finding as one that sends two requests.
import net from 'node:net';

export interface OriginRequest {
  /** Which accepted connection it came on (1, 2, …), and its place there. */
  readonly conn: number;
  readonly nth: number;
  readonly method: string;
  readonly target: string;
  readonly version: string;
  /** Header lines as [name, value], the value without the optional whitespace around it. */
  readonly headers: ReadonlyArray<readonly [string, string]>;
  /** The body as the origin framed it (dechunked). */
  readonly body: Buffer;
}

/** Bytes on one connection that did not make a whole request: unframeable, or cut short. */
export interface OriginLeftover {
  readonly conn: number;
  readonly bytes: Buffer;
  readonly why: string;
}

export interface RecordingOrigin {
  readonly port: number;
  /** Every request framed so far, in arrival order. */
  readonly requests: OriginRequest[];
  /** When a byte last arrived or a connection last opened or closed (ms, Date.now()). */
  lastActivity(): number;
  /** What each connection holds that is not a whole request, now. */
  leftovers(): OriginLeftover[];
  /** Forgets the leftovers recorded so far (a new case starts). */
  clearLeftovers(): void;
  close(): Promise<void>;
}

const BODY = 'ok';
const RESPONSE = `HTTP/1.1 200 OK\r\nContent-Length: ${BODY.length}\r\nContent-Type: text/plain\r\n\r\n`;

type Framed = { request: Omit<OriginRequest, 'conn' | 'nth'>; end: number } | { incomplete: true } | { invalid: string };

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** One request from `buf`, or why there is none yet. */
export function frameRequest(buf: Buffer): Framed {
  const headEnd = buf.indexOf('\r\n\r\n');
  if (headEnd === -1) return buf.length > 64 * 1024 ? { invalid: 'head over 64 KiB' } : { incomplete: true };
  const lines = buf.subarray(0, headEnd).toString('latin1').split('\r\n');
  const m = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+) (\S+) (HTTP\/\d\.\d)$/.exec(lines[0]);
  if (m === null) return { invalid: `request line ${JSON.stringify(lines[0])}` };
  const headers: [string, string][] = [];
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon);
    if (colon <= 0 || !TOKEN.test(name)) return { invalid: `header line ${JSON.stringify(line)}` };
    const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, '');
    if (/[\0\r\n]/.test(value)) return { invalid: `header value ${JSON.stringify(value)}` };
    headers.push([name, value]);
  }
  const values = (n: string) => headers.filter(([h]) => h.toLowerCase() === n).map(([, v]) => v);
  const te = values('transfer-encoding');
  const cl = values('content-length');
  let at = headEnd + 4;
  const request = { method: m[1], target: m[2], version: m[3], headers };
  if (te.length > 0) {
    const codings = te.join(',').split(',').map((c) => c.trim().toLowerCase());
    if (codings[codings.length - 1] !== 'chunked') return { invalid: `transfer-encoding ${JSON.stringify(te.join(', '))}` };
    const parts: Buffer[] = [];
    for (;;) {
      const eol = buf.indexOf('\r\n', at);
      if (eol === -1) return { incomplete: true };
      const sizeText = buf.subarray(at, eol).toString('latin1').split(';')[0];
      if (!/^[0-9A-Fa-f]{1,8}$/.test(sizeText)) return { invalid: `chunk size ${JSON.stringify(sizeText)}` };
      const size = parseInt(sizeText, 16);
      at = eol + 2;
      if (size === 0) break;
      if (buf.length < at + size + 2) return { incomplete: true };
      if (buf[at + size] !== 0x0d || buf[at + size + 1] !== 0x0a) return { invalid: 'chunk not followed by CRLF' };
      parts.push(buf.subarray(at, at + size));
      at += size + 2;
    }
    // Trailer section: lines up to an empty one.
    for (;;) {
      const eol = buf.indexOf('\r\n', at);
      if (eol === -1) return { incomplete: true };
      const empty = eol === at;
      at = eol + 2;
      if (empty) break;
    }
    return { request: { ...request, body: Buffer.concat(parts) }, end: at };
  }
  if (cl.length > 0) {
    if (new Set(cl).size !== 1 || !/^\d{1,15}$/.test(cl[0])) return { invalid: `content-length ${JSON.stringify(cl.join(', '))}` };
    const length = Number(cl[0]);
    if (buf.length < at + length) return { incomplete: true };
    return { request: { ...request, body: buf.subarray(at, at + length) }, end: at + length };
  }
  return { request: { ...request, body: Buffer.alloc(0) }, end: at };
}

export async function startRecordingOrigin(): Promise<RecordingOrigin> {
  let accepted = 0;
  let activity = Date.now();
  const requests: OriginRequest[] = [];
  const pending = new Map<number, { bytes: Buffer; why: string }>();
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    const conn = ++accepted;
    activity = Date.now();
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => {
      sockets.delete(socket);
      activity = Date.now();
    });
    let buffer = Buffer.alloc(0);
    let nth = 0;
    let invalid: string | null = null;
    socket.on('data', (d: Buffer) => {
      activity = Date.now();
      buffer = Buffer.concat([buffer, d]);
      if (invalid !== null) return void pending.set(conn, { bytes: buffer, why: invalid });
      for (;;) {
        if (buffer.length === 0) return void pending.delete(conn);
        const framed = frameRequest(buffer);
        if ('incomplete' in framed) return void pending.set(conn, { bytes: buffer, why: 'incomplete' });
        if ('invalid' in framed) {
          // A strict server answers 400 and closes; what came is kept for the report.
          invalid = framed.invalid;
          pending.set(conn, { bytes: buffer, why: framed.invalid });
          socket.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
          return;
        }
        buffer = buffer.subarray(framed.end);
        requests.push({ ...framed.request, conn, nth: ++nth });
        socket.write(framed.request.method === 'HEAD' ? RESPONSE : RESPONSE + BODY);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    requests,
    lastActivity: () => activity,
    leftovers: () => [...pending].map(([conn, p]) => ({ conn, ...p })),
    clearLeftovers: () => pending.clear(),
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
