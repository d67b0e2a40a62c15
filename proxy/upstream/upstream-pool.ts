// The keep-alive pool for one upstream server in one worker (nginx's `keepalive N`):
// up to N idle connections, reused last-in first-out so the hottest stay warm and the rest age out
// of the upstream's own idle timer. Connections in use are not tracked here; they come back with
// release() or are destroyed by their exchange.
import { UpstreamConnection, type ConnectionOwner } from './upstream-connection';

export class UpstreamPool implements ConnectionOwner {
  private readonly idle: UpstreamConnection[] = [];
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
   * An exchange is done with `conn`; keep it if it may serve another and there is room. The
   * hand-back can come later (the connection's read buffer may still be lent to a client), so
   * the room is looked at again then.
   */
  release(conn: UpstreamConnection, reusable: boolean): void {
    const keep = reusable && !this.closed && this.idle.length < this.maxIdle;
    conn.release(keep, () => {
      if (!this.closed && this.idle.length < this.maxIdle) this.idle.push(conn);
      else conn.destroy();
    });
  }

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
