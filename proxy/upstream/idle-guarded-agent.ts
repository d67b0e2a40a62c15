// node:http's Agent for the node:http engine, with one rule of nginx's keepalive module added: a
// pooled connection that the upstream sends anything on while it is idle is closed
// (ngx_http_upstream_keepalive_close_handler). Those bytes answer no request; Node's Agent would
// drop them unread and reuse the socket, and whatever the upstream still had to send (the rest of
// a body it should not have sent, an unsolicited response) would be read as the next request's
// answer: one client given another exchange's bytes.
import http from 'node:http';
import type stream from 'node:stream';

function closeOnIdleData(this: stream.Duplex): void {
  this.destroy();
}

export class IdleGuardedAgent extends http.Agent {
  /** A socket whose exchange ended goes to the free list: watched from now on. */
  override keepSocketAlive(socket: stream.Duplex): void {
    // Node's returns whether the socket may be kept (the types say void).
    const kept = (super.keepSocketAlive as (s: stream.Duplex) => boolean | undefined).call(this, socket);
    if (kept !== false) socket.on('data', closeOnIdleData);
    return kept as unknown as void;
  }

  /** Taken from the free list for a request: its parser reads from here on. */
  override reuseSocket(socket: stream.Duplex, request: http.ClientRequest): void {
    socket.off('data', closeOnIdleData);
    super.reuseSocket(socket, request);
  }
}
