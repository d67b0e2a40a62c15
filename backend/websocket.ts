// /ws: WebSocket echo on the http server's 'upgrade' event. Text comes back as text, binary as
// binary. Upgrades on any other path are refused with a 404.
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import type { RawData } from 'ws';
import type { BackendContext } from './context';
import { ignoreError, parseTarget } from './http-util';

export interface WebSocketEcho {
  /** Starts a clean close handshake (1001 Going Away) with every client. */
  closeAll(): void;
  /** Drops every client connection immediately. */
  terminateAll(): void;
}

function rejectUpgrade(ctx: BackendContext, socket: Duplex, status: number, reason: string): void {
  const body = `${reason}\n`;
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\n` +
      `X-Backend-Id: ${ctx.id}\r\n` +
      'Content-Type: text/plain; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      'Connection: close\r\n\r\n' +
      body,
  );
  // Not destroyed at once: that could reset the connection before the peer reads the 404.
  // The grace timer covers peers that never close their side.
  const timer = setTimeout(() => socket.destroy(), 1000);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

export function attachWebSocketEcho(server: Server, ctx: BackendContext): WebSocketEcho {
  // noServer: we route upgrades ourselves so other paths can be refused with our own 404.
  const wss = new WebSocketServer({ noServer: true, clientTracking: true });
  wss.on('error', ignoreError);
  // Add our id to every 101 response, like every other response.
  wss.on('headers', (headers: string[]) => headers.push(`X-Backend-Id: ${ctx.id}`));

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    // Node removes its own socket error handler on upgrade; a reset here must not crash us.
    socket.on('error', ignoreError);
    if (ctx.shuttingDown) return rejectUpgrade(ctx, socket, 503, 'Service Unavailable');
    if (parseTarget(req.url).pathname !== '/ws') return rejectUpgrade(ctx, socket, 404, 'Not Found');
    wss.handleUpgrade(req, socket, head, (ws) => {
      ctx.stats.websocketsOpen++;
      ws.on('error', ignoreError);
      ws.on('close', () => ctx.stats.websocketsOpen--);
      ws.on('message', (data, isBinary) => {
        if (ws.readyState === WebSocket.OPEN) ws.send(toBuffer(data), { binary: isBinary });
      });
    });
  });

  return {
    closeAll: () => {
      for (const ws of wss.clients) ws.close(1001, 'backend shutting down');
    },
    terminateAll: () => {
      for (const ws of wss.clients) ws.terminate();
    },
  };
}
