// An outbound queue in front of a native Channel. A SOCK_SEQPACKET socket to a busy peer fills
// after a few hundred messages and answers EAGAIN (measured: ~278 16-byte messages); then the
// messages wait here, in order, and go out when the kernel says the socket is writable again.
import { native, type Channel } from './native';

interface Outgoing {
  readonly header: Buffer;
  /** -1 for none. Not owned here: the sender keeps its copies until the peer acknowledges. */
  readonly fds: number | readonly number[];
}

export class ChannelWriter {
  private readonly channel: Channel;
  private readonly queue: Outgoing[] = [];
  private closed = false;
  /** Set by closeWhenFlushed(): close as soon as the queue is empty. */
  private closeWhenEmpty = false;
  private readonly onClose: (code: string | null) => void;

  constructor(
    fd: number,
    onMessage: (header: Buffer, fd: number, truncated: boolean, moreFds?: number[]) => void,
    onClose: (code: string | null) => void,
    /** Fds one received message may bring (see native.ts): more than 1 only where they are taken. */
    maxFds = 1,
  ) {
    this.onClose = onClose;
    this.channel = new native.Channel(fd, onMessage, () => this.flush(), (code) => {
      if (this.closed) return;
      this.closed = true;
      this.queue.length = 0;
      onClose(code);
    }, maxFds);
  }

  get fd(): number {
    return this.channel.fd;
  }

  get queued(): number {
    return this.queue.length;
  }

  /**
   * Sends now, or queues behind earlier messages. Never throws: a send that fails (EPIPE, the
   * peer is gone) closes the channel and reports it through onClose, exactly once, so the
   * owner has one place to deal with a lost peer.
   */
  send(header: Buffer, fds: number | readonly number[] = -1): void {
    if (this.closed) return;
    if (this.queue.length > 0) {
      this.queue.push({ header, fds });
      return;
    }
    try {
      if (this.channel.send(header, fds) === 'EAGAIN') this.queue.push({ header, fds });
    } catch (err) {
      this.fail(err);
    }
  }

  private flush(): void {
    try {
      while (this.queue.length > 0 && !this.closed) {
        const next = this.queue[0];
        if (this.channel.send(next.header, next.fds) === 'EAGAIN') return; // onWritable fires again
        this.queue.shift();
      }
    } catch (err) {
      this.fail(err);
      return;
    }
    if (this.closeWhenEmpty && this.queue.length === 0) this.close();
  }

  /**
   * Closes once every queued message has gone out, or after `timeoutMs`. A quitting worker's
   * queued ACKs must reach the master: dropped, they would make the master hand connections
   * this worker still serves to another one.
   */
  closeWhenFlushed(timeoutMs: number): void {
    if (this.closed) return;
    if (this.queue.length === 0) return this.close();
    this.closeWhenEmpty = true;
    setTimeout(() => this.close(), timeoutMs).unref();
  }

  private fail(err: unknown): void {
    if (this.closed) return;
    this.close();
    const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
    // Deferred: the caller of send() is still in the middle of its own bookkeeping.
    setImmediate(() => this.onClose(code));
  }

  /** Closes the socket; queued messages are dropped (their fds stay with their owners). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.queue.length = 0;
    this.channel.close();
  }
}
