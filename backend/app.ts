// Builds the backend's http.Server (routes, WebSocket echo, timeouts, connection accounting) and
// its graceful shutdown. Kept separate from server.ts so the entry point only deals with the
// command line, listening and signals.
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { BackendContext } from './context';
import { ignoreError } from './http-util';
import { createRequestHandler } from './routes';
import { attachWebSocketEcho } from './websocket';

/**
 * Longer than the proxy's idle pool timeout (nginx `keepalive_timeout` defaults to 60 s), so
 * the upstream rarely closes a pooled connection under the proxy's feet.
 */
export const KEEP_ALIVE_TIMEOUT_MS = 65_000;
/** Slowloris guard; must not exceed requestTimeout. */
export const HEADERS_TIMEOUT_MS = 66_000;
/** Time to receive a whole request (including a large, slow upload). Responses are not bound by it. */
export const REQUEST_TIMEOUT_MS = 300_000;
/** How long shutdown waits for in-flight requests before cutting connections. */
export const SHUTDOWN_GRACE_MS = 1_500;

export interface Backend {
  readonly server: Server;
  readonly ctx: BackendContext;
  /** Stops accepting, lets in-flight work finish for up to graceMs, then cuts what is left. */
  shutdown(graceMs?: number): Promise<void>;
}

export function createBackend(ctx: BackendContext): Backend {
  const server = createServer(
    {
      // The proxy under test decides what a valid request is; the upstream stays lenient.
      requireHostHeader: false,
      requestTimeout: REQUEST_TIMEOUT_MS,
      headersTimeout: HEADERS_TIMEOUT_MS,
      keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    },
    createRequestHandler(ctx),
  );
  // Also set as properties: not every Node 20 release reads all of these from the options object.
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  server.headersTimeout = HEADERS_TIMEOUT_MS;
  server.requestTimeout = REQUEST_TIMEOUT_MS;

  server.on('connection', (socket) => {
    ctx.stats.connectionsOpen++;
    ctx.stats.connectionsTotal++;
    // Node's http layer handles socket errors itself (as 'clientError'); this listener is a
    // second line of defence for the window around upgrades.
    socket.on('error', ignoreError);
    socket.once('close', () => ctx.stats.connectionsOpen--);
  });
  // Without a 'clientError' listener Node answers malformed requests with 400/431 and destroys
  // the socket on resets, which is the behaviour we want: nothing to add.

  const websockets = attachWebSocketEcho(server, ctx);

  let shutdownPromise: Promise<void> | undefined;
  const shutdown = (graceMs = SHUTDOWN_GRACE_MS): Promise<void> => {
    shutdownPromise ??= new Promise<void>((resolve) => {
      ctx.shuttingDown = true;
      websockets.closeAll();
      let finished = false;
      const finish = (): void => {
        if (finished) return;
        finished = true;
        clearInterval(idleSweep);
        clearTimeout(deadline);
        server.closeAllConnections();
        websockets.terminateAll();
        resolve();
      };
      // close() stops accepting and resolves once every connection is gone.
      server.close(finish);
      server.closeIdleConnections();
      // Connections become idle as their in-flight responses finish; close them as they do.
      const idleSweep = setInterval(() => server.closeIdleConnections(), 50);
      const deadline = setTimeout(finish, graceMs);
    });
    return shutdownPromise;
  };

  return { server, ctx, shutdown };
}
