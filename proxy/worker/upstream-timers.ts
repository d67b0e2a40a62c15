// The node:http engine's timeouts for one upstream request, as nginx runs them:
//  - proxy_send_timeout while the request goes out: from the connect, between two writes that
//    made progress (a timer of its own: a socket's inactivity timeout counts a write still
//    queued as activity and fires only after a second period);
//  - proxy_read_timeout between two reads from the upstream, from the request's end on;
//  - send_timeout (timeouts.clientSend) while pipe() holds the upstream back because the client
//    is behind: that wait is the client's, and the read timer does not run meanwhile.
// Read and client waits are timers of their own: node:http's ClientRequest passes its socket's
// 'timeout' on only once per request, so a socket timeout cannot be ignored once and relied on
// again later.
import type http from 'node:http';
import type { TimeoutsConfig } from '../config/types';

export interface UpstreamTimeoutHandlers {
  /** The request did not go out, or the upstream went silent: `phase` says which. */
  onUpstreamTimeout(phase: 'sending the request' | 'reading the response'): void;
  /** The client took nothing of the response for clientSend. */
  onClientTimeout(): void;
}

export function watchUpstreamTimeouts(upstreamReq: http.ClientRequest, res: http.ServerResponse, timeouts: TimeoutsConfig, on: UpstreamTimeoutHandlers): void {
  let sendTimer: NodeJS.Timeout | null = null;
  let readTimer: NodeJS.Timeout | null = null;
  let clientTimer: NodeJS.Timeout | null = null;
  let done = false;

  const sendProgress = (): void => void sendTimer?.refresh();
  const stopSend = (): void => {
    if (sendTimer) clearTimeout(sendTimer);
    sendTimer = null;
    res.req.off('data', sendProgress); // a retry watches its own attempt
  };
  const stopAll = (): void => {
    done = true;
    stopSend();
    if (readTimer) clearTimeout(readTimer);
    if (clientTimer) clearTimeout(clientTimer);
    readTimer = clientTimer = null;
  };
  const armRead = (): void => {
    if (done) return;
    if (readTimer) readTimer.refresh();
    else readTimer = setTimeout(() => on.onUpstreamTimeout('reading the response'), timeouts.read);
  };

  const startSend = (): void => {
    if (done || upstreamReq.writableFinished) return;
    sendTimer = setTimeout(() => on.onUpstreamTimeout('sending the request'), timeouts.send);
  };
  upstreamReq.once('socket', (socket) => (socket.connecting ? socket.once('connect', startSend) : startSend()));
  // Progress: a body chunk taken (written on, or queued below the high-water mark), or a drain.
  res.req.on('data', sendProgress);
  upstreamReq.on('drain', sendProgress);
  upstreamReq.on('finish', () => {
    stopSend();
    armRead();
  });
  upstreamReq.on('close', stopAll);
  res.once('close', stopAll);

  upstreamReq.on('response', (upstreamRes: http.IncomingMessage) => {
    armRead();
    upstreamRes.on('data', armRead);
    upstreamRes.on('end', stopAll);
    upstreamRes.on('pause', () => {
      if (done || clientTimer || res.writableEnded) return;
      if (readTimer) clearTimeout(readTimer);
      readTimer = null;
      clientTimer = setTimeout(() => on.onClientTimeout(), timeouts.clientSend);
    });
    upstreamRes.on('resume', () => {
      if (clientTimer === null) return;
      clearTimeout(clientTimer);
      clientTimer = null;
      armRead();
    });
  });
}
