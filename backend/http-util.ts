// Small helpers shared by the route handlers. Kept allocation-light: the backend sits under
// load tests and benchmarks, so it must never be the bottleneck being measured.
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface RequestTarget {
  pathname: string;
  query: URLSearchParams;
}

/**
 * Splits a request target into path and query without a full WHATWG URL parse on the hot path.
 * Absolute-form targets (`GET http://host/path`, which a proxy may forward) are reduced to
 * their path so routing still works.
 */
export function parseTarget(rawUrl: string | undefined): RequestTarget {
  let url = rawUrl ?? '/';
  if (url.charCodeAt(0) !== 0x2f /* '/' */) {
    try {
      const parsed = new URL(url);
      url = parsed.pathname + parsed.search;
    } catch {
      // Asterisk-form or garbage: route it as-is (it will 404).
    }
  }
  const q = url.indexOf('?');
  if (q === -1) return { pathname: url, query: new URLSearchParams() };
  return { pathname: url.slice(0, q), query: new URLSearchParams(url.slice(q + 1)) };
}

/**
 * Parses a non-negative decimal integer within [min, max]. Rejects signs, decimals, exponents,
 * whitespace and empty strings, which Number()/parseInt() would silently accept or truncate.
 */
export function parseBoundedInt(value: string | null | undefined, min: number, max: number): number | undefined {
  if (value === null || value === undefined || !/^\d{1,16}$/.test(value)) return undefined;
  const n = Number(value);
  return n >= min && n <= max ? n : undefined;
}

/** HTTP/1.0 clients cannot decode chunked bodies. */
export function supportsChunked(req: IncomingMessage): boolean {
  return req.httpVersionMajor > 1 || (req.httpVersionMajor === 1 && req.httpVersionMinor >= 1);
}

export function sendText(res: ServerResponse, status: number, text: string): void {
  const body = Buffer.from(text, 'utf8');
  res.statusCode = status;
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.setHeader('Content-Length', body.length);
  res.end(body);
}

export function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const body = Buffer.from(JSON.stringify(value), 'utf8');
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', body.length);
  res.end(body);
}

/** Error listener for streams whose failures are expected (client resets) and need no action. */
export function ignoreError(): void {
  // Client resets and aborted uploads are routine for a test upstream; the stream's own
  // 'close' handling does the cleanup. Having a listener is what keeps the process alive.
}
