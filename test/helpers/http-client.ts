// Small real-socket HTTP clients for tests: node:http for well-formed traffic, raw TCP for the
// bytes a well-behaved client library would never send.
import crypto from 'node:crypto';
import http from 'node:http';
import net from 'node:net';

export interface Reply {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
  /** Local port of the client socket the reply came on (tells connections apart). */
  readonly localPort: number;
}

export function request(
  url: string,
  opts: { method?: string; headers?: http.OutgoingHttpHeaders | string[]; body?: Buffer | string; agent?: http.Agent | false } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: opts.method ?? 'GET', headers: opts.headers, agent: opts.agent ?? false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () =>
        resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks), localPort: req.socket?.localPort ?? res.socket.localPort! }),
      );
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** Sends raw bytes on a fresh connection and collects everything until the server closes it (or `timeoutMs`). */
export function rawExchange(port: number, bytes: string | Buffer, timeoutMs = 3_000): Promise<string> {
  return rawConversation(port, async (socket) => void socket.write(bytes), timeoutMs);
}

/**
 * Opens a connection, lets `steps` write to it (reading what arrived so far with `received()`),
 * and resolves with everything received once the server closes it (or after `timeoutMs`).
 */
export function rawConversation(port: number, steps: (socket: net.Socket, received: () => string) => Promise<void>, timeoutMs = 3_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let data = '';
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(data);
    }, timeoutMs);
    socket.on('data', (d) => (data += d.toString('latin1')));
    socket.on('error', (err) => (data ? undefined : reject(err)));
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(data);
    });
    socket.once('connect', () => steps(socket, () => data).catch(reject));
  });
}

export function sha256(data: Buffer): string {
  return crypto.createHash('sha256').update(data).digest('hex');
}

/** A port on loopback with nothing listening on it (bound, then closed). */
export async function deadPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

/** The body of a raw HTTP/1.1 response (Content-Length or chunked), as text. */
export function decodeBody(raw: string): string {
  const split = raw.indexOf('\r\n\r\n');
  const head = raw.slice(0, split);
  let rest = raw.slice(split + 4);
  if (!/^transfer-encoding:\s*chunked/im.test(head)) return rest;
  let body = '';
  for (;;) {
    const eol = rest.indexOf('\r\n');
    const size = parseInt(rest.slice(0, eol), 16);
    if (!size) return body;
    body += rest.slice(eol + 2, eol + 2 + size);
    rest = rest.slice(eol + 2 + size + 2);
  }
}

/** A body no two offsets of which look alike: any byte moved, lost or overwritten changes it. */
export function patternBody(bytes: number, seed: number): Buffer {
  const body = Buffer.alloc(bytes);
  for (let i = 0; i + 4 <= bytes; i += 4) body.writeUInt32LE(((i >>> 2) * 2654435761 + seed) >>> 0, i);
  return body;
}
