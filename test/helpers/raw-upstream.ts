// A hand-written HTTP/1.1 upstream on a raw TCP server, for the responses a real framework would
// never send: close-delimited bodies, interim 1xx, a keep-alive connection dropped under a request.
// It reads request heads (and Content-Length or chunked bodies) in order and hands each to `handler`.
import net from 'node:net';
import { validateConfig } from '../../proxy/config/validate';
import { Logger } from '../../proxy/observability/logger';
import { Front } from '../../proxy/proxying/front';

export interface RawRequest {
  readonly method: string;
  readonly path: string;
  /** The head as received, lower-cased. */
  readonly head: string;
  /** The head byte for byte (latin1), without its final CRLF CRLF. */
  readonly rawHead: string;
  readonly body: Buffer;
  /** 1 for the first request on its connection. */
  readonly nth: number;
  /** Which accepted connection it came on (1, 2, …). */
  readonly conn: number;
}

export interface RawUpstream {
  readonly port: number;
  /** Connections accepted so far. */
  connections(): number;
  /** Bytes received so far on all connections, whole requests or not. */
  bytesReceived(): number;
  /** Every request received, in order. */
  readonly requests: RawRequest[];
  close(): Promise<void>;
}

/** A chunked body that starts at `start` (no trailers), or null until all of it has arrived. */
function dechunk(buffer: Buffer, start: number): { body: Buffer; end: number } | null {
  const parts: Buffer[] = [];
  let at = start;
  for (;;) {
    const eol = buffer.indexOf('\r\n', at);
    if (eol === -1) return null;
    const size = parseInt(buffer.subarray(at, eol).toString('latin1'), 16);
    if (size === 0) return buffer.length < eol + 4 ? null : { body: Buffer.concat(parts), end: eol + 4 };
    if (buffer.length < eol + 2 + size + 2) return null;
    parts.push(buffer.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
}

export async function startRawUpstream(handler: (req: RawRequest, socket: net.Socket) => void): Promise<RawUpstream> {
  let accepted = 0;
  let received = 0;
  const requests: RawRequest[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    const conn = ++accepted;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let buffer = Buffer.alloc(0);
    let nth = 0;
    socket.on('data', (d: Buffer) => {
      received += d.length;
      buffer = Buffer.concat([buffer, d]);
      for (;;) {
        const end = buffer.indexOf('\r\n\r\n');
        if (end === -1) return;
        const head = buffer.subarray(0, end).toString('latin1');
        let body: Buffer;
        if (/\r\ntransfer-encoding: *chunked/i.test(head)) {
          const chunked = dechunk(buffer, end + 4);
          if (chunked === null) return;
          body = chunked.body;
          buffer = buffer.subarray(chunked.end);
        } else {
          const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
          if (buffer.length < end + 4 + length) return;
          body = buffer.subarray(end + 4, end + 4 + length);
          buffer = buffer.subarray(end + 4 + length);
        }
        const [method, path] = head.split(' ');
        const req = { method, path, head: head.toLowerCase(), rawHead: head, body, nth: ++nth, conn };
        requests.push(req);
        handler(req, socket);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    connections: () => accepted,
    bytesReceived: () => received,
    requests,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}


/**
 * A worker's HTTP front in this process, routing every request to one server with a small
 * keep-alive pool: for tests that look at the front's own objects (parsers, pauses) over real sockets.
 */
export function frontTo(upstreamPort: number): Front {
  const config = validateConfig({
    workers: 1,
    listeners: ['127.0.0.1:8080'],
    upstreams: { raw: { servers: [`127.0.0.1:${upstreamPort}`], keepalive: 4 } },
    routes: [{ host: '*', pathPrefix: '/', upstream: 'raw' }],
  }, null);
  return new Front(config, new Logger('test', 'crit'));
}
