// /echo and /echo/stream: the request-body routes. Both are built for large uploads (tests send
// 10 MiB): nothing is buffered whole, hashing is incremental.
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream';
import { sendJson, supportsChunked } from './http-util';

/** Bodies up to this size are echoed back as text; larger ones only as length + hash. */
export const MAX_INLINE_BODY_BYTES = 64 * 1024;

export interface EchoReply {
  id: string;
  method: string | undefined;
  url: string | undefined;
  httpVersion: string;
  headers: IncomingMessage['headers'];
  /** Header [name, value] pairs in arrival order with original case and duplicates. */
  rawHeaders: Array<[string, string]>;
  trailers: IncomingMessage['trailers'];
  /** Body decoded as UTF-8, or null when it exceeded MAX_INLINE_BODY_BYTES. */
  body: string | null;
  bodyBytes: number;
  bodySha256: string;
}

function pairRawHeaders(raw: string[]): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  for (let i = 0; i + 1 < raw.length; i += 2) pairs.push([raw[i]!, raw[i + 1]!]);
  return pairs;
}

/** Reads the whole body incrementally, then answers with a JSON description of the request. */
export function handleEcho(id: string, req: IncomingMessage, res: ServerResponse): void {
  const hash = createHash('sha256');
  let bodyBytes = 0;
  let inline: Buffer[] | null = [];
  let inlineBytes = 0;

  req.on('data', (chunk: Buffer) => {
    bodyBytes += chunk.length;
    hash.update(chunk);
    if (inline !== null) {
      inlineBytes += chunk.length;
      // Past the limit, drop what we kept so a 10 MiB upload costs no more memory than a chunk.
      if (inlineBytes > MAX_INLINE_BODY_BYTES) inline = null;
      else inline.push(chunk);
    }
  });
  // On a client abort 'end' never fires; the shared req 'error' listener keeps us alive and
  // the chunks are garbage collected with the request.
  req.on('end', () => {
    if (res.destroyed) return;
    const reply: EchoReply = {
      id,
      method: req.method,
      url: req.url,
      httpVersion: req.httpVersion,
      headers: req.headers,
      rawHeaders: pairRawHeaders(req.rawHeaders),
      trailers: req.trailers,
      body: inline === null ? null : Buffer.concat(inline, inlineBytes).toString('utf8'),
      bodyBytes,
      bodySha256: hash.digest('hex'),
    };
    sendJson(res, 200, reply);
  });
}

/**
 * Streams the request body straight back (chunked; nothing buffered beyond stream high-water
 * marks), with the request's content type. Backpressure flows end to end: a slow reader
 * pauses the upload.
 */
export function handleEchoStream(req: IncomingMessage, res: ServerResponse): void {
  res.statusCode = 200;
  res.setHeader('Content-Type', req.headers['content-type'] ?? 'application/octet-stream');
  // Explicit so that even an empty body is answered chunked (Node would otherwise send
  // Content-Length: 0). HTTP/1.0 clients cannot decode chunks; they get a close-delimited body.
  if (supportsChunked(req)) res.setHeader('Transfer-Encoding', 'chunked');
  if (req.method === 'HEAD') {
    req.resume();
    res.end();
    return;
  }
  // pipeline destroys both sides on failure (client reset mid-stream); nothing else to do.
  pipeline(req, res, () => undefined);
}
