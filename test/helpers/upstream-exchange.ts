// An upstream exchange driven the way proxy/proxying/proxy-exchange.ts drives one, without a client:
// for tests of upstream connections and pools on real sockets.
import type { UpstreamConnection, UpstreamListener } from '../../proxy/upstream/upstream-connection';
import type { UpstreamPool } from '../../proxy/upstream/upstream-pool';

/**
 * One exchange as proxy-exchange.ts drives it. A lending one keeps the body slices it is handed
 * (as a client's write queue does) until it calls `free`; the others copy them (written at once).
 */
export class Exchange implements UpstreamListener {
  readonly slices: Buffer[] = [];
  status = 0;
  ended = false;
  error: Error | null = null;
  /** Set when a read was lent: call it once the "client" has written the slices. */
  free: (() => void) | null = null;
  readonly conn: UpstreamConnection;

  /** `release`: hand the connection back to the pool as soon as the response ends, as proxy-exchange.ts does. */
  constructor(private readonly pool: UpstreamPool, path: string, private readonly lend: boolean, private readonly release = true) {
    this.conn = pool.acquire();
    this.conn.begin(this, `GET ${path} HTTP/1.1\r\nHost: t\r\n\r\n`, false);
  }

  body(): string {
    return Buffer.concat(this.slices).toString('latin1');
  }

  onUpstreamConnect(): void {}
  onResponseHead(status: number): void {
    this.status = status;
  }
  onResponseBody(chunk: Buffer): void {
    this.slices.push(this.lend ? chunk : Buffer.from(chunk));
  }
  onResponseEnd(): void {
    this.ended = true;
    if (this.release) this.pool.release(this.conn, true);
  }
  onUpstreamError(err: Error): void {
    this.error = err;
  }
  onUpstreamDrain(): void {}
  onReadStart(): void {}
  onReadEnd(free: () => void): boolean {
    if (!this.lend) return true;
    this.free = free;
    return false;
  }
}
