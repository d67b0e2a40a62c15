// What this worker tells the master of its load: the client connections it holds open and the
// requests it has served. ACK, REJECT and STATUS all carry both, and all go through here, so the
// master hears at most one report per event-loop turn and the once-a-second check knows what the
// master last heard.
import { encode, MessageType } from '../handoff/protocol';

export class LoadReporter {
  /** A report (ACK or STATUS) goes out at the end of this poll phase. */
  private reportScheduled = false;
  /** Connections closed since the last report: the master's count of ours is stale. */
  private statusDue = false;
  /** The latest connection served and not yet acknowledged (ACKs are cumulative); -1: none. */
  private pendingAck = -1;
  private lastReported = 0;
  private lastReportedClients = 0;

  constructor(
    private readonly send: (message: Buffer) => void,
    /** Client connections open in this worker, however they arrived. */
    private readonly clients: () => number,
    /** Requests this worker has served. */
    private readonly requestsServed: () => number,
    private readonly quitting: () => boolean,
  ) {}

  /**
   * One ACK goes out once the poll phase that brought a burst of CONNECTIONs is over, for the
   * last of them: it covers the earlier ones too (protocol.ts), so the master is woken once and
   * reads one message per burst. The master keeps its copy of each fd until then, so every path
   * that closes the channel or exits sends it first (flushAcks): an adopted connection must
   * never look lost and be handed out again.
   */
  acknowledge(seq: number): void {
    this.pendingAck = seq;
    this.scheduleReport();
  }

  /** Connection `seq` goes back to the master, which hands it to another worker. */
  reject(seq: number): void {
    this.sendCounts(MessageType.REJECT, seq);
  }

  /** A client connection closed: the master's count of ours is stale by the end of this turn. */
  connectionClosed(): void {
    this.statusDue = true;
    this.scheduleReport();
  }

  readonly flushAcks = (): void => {
    const seq = this.pendingAck;
    if (seq === -1) return;
    this.pendingAck = -1;
    this.sendCounts(MessageType.ACK, seq);
  };

  /**
   * Keep-alive traffic opens and closes nothing, and reuseport connections are not reported as
   * they close: called once a second, a STATUS goes out if anything changed.
   */
  reportIfChanged(): void {
    const changed = this.requests() !== this.lastReported || this.clients() !== this.lastReportedClients;
    if (changed && !this.quitting()) this.sendCounts(MessageType.STATUS, 0);
  }

  private scheduleReport(): void {
    if (this.reportScheduled) return;
    this.reportScheduled = true;
    setImmediate(this.report);
  }

  /**
   * Once per event-loop turn, however many connections came and went: an ACK when some came
   * (it carries the open-connection count and requests, as a STATUS does, so none goes with it),
   * else a STATUS when some closed, so least-conn stays true and a full worker gets work again.
   */
  private readonly report = (): void => {
    this.reportScheduled = false;
    const statusDue = this.statusDue;
    this.statusDue = false;
    if (this.pendingAck !== -1) this.flushAcks();
    else if (statusDue && !this.quitting()) this.sendCounts(MessageType.STATUS, 0);
  };

  private sendCounts(type: MessageType.ACK | MessageType.REJECT | MessageType.STATUS, seq: number): void {
    this.lastReported = this.requests();
    this.lastReportedClients = this.clients();
    this.send(encode(type, seq, this.lastReportedClients, this.lastReported));
  }

  /** u32 on the wire: the count wraps, as Prometheus counters may. */
  private requests(): number {
    return this.requestsServed() >>> 0;
  }
}
