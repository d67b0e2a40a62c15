// The keep-alive pool for one upstream server in one worker (nginx's `keepalive N`):
// up to N idle connections, reused last-in first-out so the hottest stay warm and the rest age out
// of the upstream's own idle timer. Connections in use are not tracked here; they come back with
// release() or are destroyed by their exchange.
//
// Past N, the least recently used idle ones are closed (as nginx closes its cache's last) at the
// end of the event-loop turn rather than at once: the turn that completes many responses also
// reads many requests, and a request read after a surplus connection was closed would open a new
// one. With more requests in flight than N that was most requests paying for a connect and a
// close, and the slower that made the worker, the more each turn held and the more it churned.
// Whenever the worker waits for events it holds at most N idle connections.
import { UpstreamConnection, type ConnectionOwner } from './upstream-connection';

export class UpstreamPool implements ConnectionOwner {
  /** Oldest first; above maxIdle only until trim runs at the end of this event-loop turn. */
  private readonly idle: UpstreamConnection[] = [];
  private trimPending = false;
  /** Connections whose connect is under way: what abortConnects gives up. */
  private readonly connecting = new Set<UpstreamConnection>();
  private closed = false;

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly maxIdle: number,
  ) {}

  /** An idle connection (reused = true) or a new one, already connecting. */
  acquire(): UpstreamConnection {
    while (this.idle.length > 0) {
      const conn = this.idle.pop()!;
      if (conn.usable) return conn;
    }
    const conn = new UpstreamConnection(this.host, this.port, this);
    this.connecting.add(conn);
    return conn;
  }

  connected(conn: UpstreamConnection): void {
    this.connecting.delete(conn);
  }

  /**
   * Gives up every connect under way, each exchange hearing `err` (the master took the server
   * out: a server that is gone, or down, would only have let them run to their timeout).
   */
  abortConnects(err: () => NodeJS.ErrnoException): void {
    for (const conn of [...this.connecting]) conn.abortConnect(err());
  }

  /**
   * An exchange is done with `conn`; keep it if it may serve another. The hand-back can come later
   * (the connection's read buffer may still be lent to a client), so the pool is looked at again then.
   */
  release(conn: UpstreamConnection, reusable: boolean): void {
    const keep = reusable && !this.closed && this.maxIdle > 0;
    conn.release(keep, () => {
      if (this.closed) {
        conn.destroy();
        return;
      }
      this.idle.push(conn);
      if (this.idle.length > this.maxIdle && !this.trimPending) {
        this.trimPending = true;
        setImmediate(this.trim);
      }
    });
  }

  /** Closes the least recently used idle connections past maxIdle. */
  private readonly trim = (): void => {
    this.trimPending = false;
    const surplus = this.idle.length - this.maxIdle;
    // Out of the list before they are destroyed, so forget() scans only what stays.
    if (surplus > 0) for (const conn of this.idle.splice(0, surplus)) conn.destroy();
  };

  forget(conn: UpstreamConnection): void {
    this.connecting.delete(conn);
    const i = this.idle.indexOf(conn);
    if (i !== -1) this.idle.splice(i, 1);
  }

  /** No more idle connections; those in use finish their exchange (aborting connects is the caller's). */
  close(): void {
    this.closed = true;
    for (const conn of this.idle.splice(0)) conn.destroy();
  }
}
