// nginx's send_timeout for one client socket: a wait on the client taking its response is cut
// only when the client took no byte for a whole period, not when the response is merely slow.
// Progress is measured on the socket's queue: bytes still to be taken at the last check.
// Used while a response streams (ProxyExchange's ClientSend phase) and for a response's tail
// after its exchange is done (ClientConnection), so both cut a stall after one to two periods.
import type { Logger } from '../observability/logger';
import type { ClientSocket } from '../io/client-socket';

export class ClientSendWatch {
  /** Queued bytes at the last check; -1: not watching (no wait since the last response ended). */
  private mark = -1;

  constructor(
    private readonly socket: ClientSocket,
    private readonly log: Logger,
  ) {}

  get watching(): boolean {
    return this.mark !== -1;
  }

  /** A wait starts: the client's progress is measured from what it has to take now. */
  start(): void {
    this.mark = this.socket.queuedBytes;
  }

  /** A response ended: its successor's wait is measured afresh. */
  stop(): void {
    this.mark = -1;
  }

  /** At a deadline: whether the client took bytes since the last check (then it gets another period). */
  tookBytes(): boolean {
    const queued = this.socket.queuedBytes;
    const took = queued < this.mark;
    this.mark = queued;
    return took;
  }

  /** `detail`: the request and upstream, when an exchange was under way. */
  timedOut(detail: string): void {
    this.log.error(`client timed out while sending response to client, client: ${this.socket.remoteAddress}${detail}`);
  }
}
