// /bytes?n=N: a deterministic byte stream for download tests and benchmarks. Byte i of the
// body is (i mod 256), so a client can verify any range without knowing the chunking.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseBoundedInt, sendText, supportsChunked } from './http-util';

export const MAX_BYTES = 1024 * 1024 * 1024; // 1 GiB
export const BYTES_CHUNK_SIZE = 64 * 1024;

/**
 * One chunk of the pattern, shared by every response and never mutated. Because the chunk size
 * is a multiple of 256, every chunk of every body starts at pattern offset 0, so a body is this
 * buffer repeated and a final prefix of it.
 */
const PATTERN_CHUNK: Buffer = (() => {
  const chunk = Buffer.allocUnsafe(BYTES_CHUNK_SIZE);
  for (let i = 0; i < chunk.length; i++) chunk[i] = i & 0xff;
  return chunk;
})();

/** The expected value of byte `index` of any /bytes body. */
export function patternByte(index: number): number {
  return index & 0xff;
}

function parseFlag(value: string | null): boolean | undefined {
  if (value === null || value === '0' || value === 'false') return false;
  if (value === '' || value === '1' || value === 'true') return true;
  return undefined;
}

export function handleBytes(req: IncomingMessage, res: ServerResponse, query: URLSearchParams): void {
  req.resume();
  const total = parseBoundedInt(query.get('n'), 0, MAX_BYTES);
  if (total === undefined) {
    sendText(res, 400, `bad n: expected an integer 0..${MAX_BYTES}\n`);
    return;
  }
  const chunked = parseFlag(query.get('chunked'));
  if (chunked === undefined) {
    sendText(res, 400, 'bad chunked: expected 1/true or 0/false\n');
    return;
  }

  res.statusCode = 200;
  res.setHeader('Content-Type', 'application/octet-stream');
  if (!chunked) res.setHeader('Content-Length', total);
  else if (supportsChunked(req)) res.setHeader('Transfer-Encoding', 'chunked');

  if (req.method === 'HEAD' || total === 0) {
    res.end();
    return;
  }

  let remaining = total;
  // Writes until the socket buffer is full, then waits for 'drain': memory stays at about one
  // high-water mark per response even for 1 GiB bodies to slow clients.
  const writeMore = (): void => {
    while (remaining > 0) {
      // Client went away: the pending 'drain' never fires and everything is collected with res.
      if (res.destroyed) return;
      const size = Math.min(BYTES_CHUNK_SIZE, remaining);
      const chunk = size === BYTES_CHUNK_SIZE ? PATTERN_CHUNK : PATTERN_CHUNK.subarray(0, size);
      remaining -= size;
      if (remaining === 0) {
        res.end(chunk);
        return;
      }
      if (!res.write(chunk)) {
        res.once('drain', writeMore);
        return;
      }
    }
  };
  writeMore();
}
