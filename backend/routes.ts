// Request routing for the sample upstream. Every route accepts any method (a test upstream
// should let the proxy's tests choose freely); HEAD gets the GET headers without a body.
import { STATUS_CODES } from 'node:http';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { handleBytes } from './bytes';
import type { BackendContext } from './context';
import { handleEcho, handleEchoStream } from './echo';
import { ignoreError, parseBoundedInt, parseTarget, sendJson, sendText } from './http-util';

export const MAX_DELAY_MS = 600_000;

export function createRequestHandler(ctx: BackendContext): RequestListener {
  return (req, res) => {
    ctx.stats.requests++;
    // A client reset surfaces as 'error' on both; without listeners it would crash the process.
    req.on('error', ignoreError);
    res.on('error', ignoreError);
    res.setHeader('X-Backend-Id', ctx.id);
    // Tell the proxy not to pool this connection: we are about to close it.
    if (ctx.shuttingDown) res.setHeader('Connection', 'close');
    try {
      route(ctx, req, res);
    } catch (err) {
      // A bug in a handler must cost one request, not the backend every test depends on.
      process.stderr.write(`backend ${ctx.id}: handler error for ${req.method} ${req.url}: ${String(err)}\n`);
      if (!res.headersSent) sendText(res, 500, 'internal error\n');
      else res.destroy();
    }
  };
}

function route(ctx: BackendContext, req: IncomingMessage, res: ServerResponse): void {
  const { pathname, query } = parseTarget(req.url);
  switch (pathname) {
    case '/':
      req.resume();
      return sendText(res, 200, `hello from ${ctx.id}\n`);
    case '/health':
      req.resume();
      return sendText(res, 200, 'ok');
    case '/headers':
      req.resume();
      return sendJson(res, 200, req.headers);
    case '/stats':
      req.resume();
      return sendJson(res, 200, { id: ctx.id, ...ctx.stats });
    case '/echo':
      return handleEcho(ctx.id, req, res);
    case '/echo/stream':
      return handleEchoStream(req, res);
    case '/delay':
      return handleDelay(ctx, req, res, query);
    case '/bytes':
      return handleBytes(req, res, query);
  }
  if (pathname.startsWith('/status/')) return handleStatus(req, res, pathname.slice('/status/'.length), query);
  req.resume();
  sendText(res, 404, `not found: ${pathname}\n`);
}

/** /delay?ms=N: answers after N ms; the timer is cleared if the client leaves first. */
function handleDelay(ctx: BackendContext, req: IncomingMessage, res: ServerResponse, query: URLSearchParams): void {
  req.resume();
  const ms = parseBoundedInt(query.get('ms'), 0, MAX_DELAY_MS);
  if (ms === undefined) return sendText(res, 400, `bad ms: expected an integer 0..${MAX_DELAY_MS}\n`);

  ctx.stats.pendingDelays++;
  let settled = false;
  const settle = (): void => {
    if (settled) return;
    settled = true;
    ctx.stats.pendingDelays--;
    clearTimeout(timer);
  };
  const timer = setTimeout(() => {
    settle();
    sendText(res, 200, `delayed ${ms}ms`);
  }, ms);
  // 'close' fires when the response finished or the connection died, whichever comes first.
  res.on('close', settle);
}

/** /status/:code: any final status 200..599; 1xx cannot be sent as a final response. */
function handleStatus(req: IncomingMessage, res: ServerResponse, codeText: string, query: URLSearchParams): void {
  req.resume();
  const code = /^\d{3}$/.test(codeText) ? Number(codeText) : NaN;
  if (!(code >= 200 && code <= 599)) {
    return sendText(res, 400, `bad status code: ${codeText} (expected 200..599)\n`);
  }
  // Optional, for redirect-rewriting tests: /status/302?location=/elsewhere
  const location = query.get('location');
  if (location !== null) {
    if (!/^[\x20-\x7e]*$/.test(location)) return sendText(res, 400, 'bad location: printable ASCII only\n');
    res.setHeader('Location', location);
  }
  if (code === 204 || code === 304) {
    res.statusCode = code;
    res.end();
    return;
  }
  sendText(res, code, `${code} ${STATUS_CODES[code] ?? 'Unknown'}\n`);
}
