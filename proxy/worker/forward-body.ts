// The node:http engine's request body, client to upstream: req.pipe(upstreamReq), except that
// what arrives in one turn of the event loop leaves in one write. node:http hands a chunked body
// over one chunk per tick, and each write to the upstream is a syscall (the socket has Nagle
// off): a client that packed thousands of 1-byte chunks into one packet cost the worker a write
// per chunk. Backpressure is pipe()'s: the client is paused while the upstream is not keeping up.
import type http from 'node:http';

export function forwardBody(req: http.IncomingMessage, upstreamReq: http.ClientRequest): void {
  let pending: Buffer[] = [];
  let scheduled = false;
  let ended = false;

  const flush = (): void => {
    scheduled = false;
    if (upstreamReq.destroyed) return;
    if (pending.length > 0) {
      const data = pending.length === 1 ? pending[0] : Buffer.concat(pending);
      pending = [];
      if (!upstreamReq.write(data) && !ended) {
        req.pause();
        upstreamReq.once('drain', () => req.resume());
      }
    }
    if (ended) upstreamReq.end();
  };
  const onData = (chunk: Buffer): void => {
    pending.push(chunk);
    if (scheduled) return;
    scheduled = true;
    setImmediate(flush);
  };
  const onEnd = (): void => {
    ended = true;
    if (!scheduled) flush();
  };

  req.on('data', onData);
  req.on('end', onEnd);
  // As pipe() unpipes when its destination closes: the client's body is no longer read.
  upstreamReq.once('close', () => {
    req.off('data', onData);
    req.off('end', onEnd);
    pending = [];
    if (!req.complete) req.pause();
  });
}
