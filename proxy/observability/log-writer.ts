// Writes the access log's lines without ever stopping the worker, as nginx's access log: a failed
// write (a full disk: ENOSPC; a pipe whose reader went away: EPIPE) loses those lines, raises an
// alert in the error log, and the writing goes on. Unlike nginx's blocking write(2), one write at
// a time runs off the event loop (libuv's thread pool), so a slow reader slows nothing but the
// log; what waits meanwhile is capped, and lines beyond the cap are dropped and counted.
//
// One state machine for the writing:
//   Idle      nothing queued, or nothing to do until the next line
//   Scheduled lines are queued; one write for all of them at the end of this event-loop turn
//   Writing   one write is in flight
//   Waiting   a write failed (or the pipe was full): the next try is at a time
//   Closed    no more lines are taken
// and one record of health: null while writes work, else since when they fail and what was lost.
import fs from 'node:fs';
import { describeWriteError } from './sync-output';

/** What may wait to be written, at most: about 8,000 lines of 128 bytes. */
export const MAX_QUEUED_BYTES = 1024 * 1024;
/** After a failed write, the next try (nginx, after ENOSPC, skips writing for 1 s). */
const RETRY_AFTER_FAILURE_MS = 1_000;
/** A full non-blocking pipe (EAGAIN): the reader is slow, not gone. */
const RETRY_AFTER_EAGAIN_MS = 20;
/** While writes keep failing, the alert again at most this often, with the count (nginx: 60 s). */
export const ALERT_INTERVAL_MS = 60_000;

enum WriterState { Idle, Scheduled, Writing, Waiting, Closed }

interface Failure {
  readonly reason: string;
  readonly since: Date;
  dropped: number;
  /** An alert has named this failure (else it came too soon after the last report). */
  reported: boolean;
}

/** Where the lines go. */
interface LogDestination {
  /** "stdout" or the file's path, as alerts name it. */
  readonly name: string;
  /** -1: the file could not be opened (its writes fail with EBADF, counted as lost). */
  readonly fd: number;
  /** A file this writer opened, owns (closes) and reopens; null: stdout, borrowed. */
  readonly path: string | null;
}

const STDOUT: LogDestination = { name: 'stdout', fd: 1, path: null };

export interface LogWriterOptions {
  readonly maxQueuedBytes?: number;
  readonly alertIntervalMs?: number;
}

export type LogReport = (level: 'alert' | 'notice', message: string) => void;

function clock(d: Date): string {
  return d.toTimeString().slice(0, 8);
}

function countLines(chunks: readonly Buffer[]): number {
  let lines = 0;
  for (const chunk of chunks) for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines++;
  return lines;
}

export class LogWriter {
  private state = WriterState.Idle;
  private queue: Buffer[] = [];
  private queuedBytes = 0;
  /** Lines dropped since this writer began, for whoever watches it. */
  droppedLines = 0;
  private failure: Failure | null = null;
  private lastReportAt = -Infinity;
  /** Lines lost in a failure too short and too soon after the last report to have its own. */
  private unreported = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  /** Whoever waits for the queue to be written out (close()). */
  private drained: Array<() => void> = [];
  /** Closes a replaced destination once the write in flight to it is done. */
  private afterWrite: (() => void) | null = null;
  private readonly maxQueuedBytes: number;
  private readonly alertIntervalMs: number;

  private destination: LogDestination;

  /** `file`: an absolute path, opened for appending (created 0644 if need be); null: stdout. */
  constructor(
    file: string | null,
    private readonly report: LogReport,
    options: LogWriterOptions = {},
  ) {
    this.maxQueuedBytes = options.maxQueuedBytes ?? MAX_QUEUED_BYTES;
    this.alertIntervalMs = options.alertIntervalMs ?? ALERT_INTERVAL_MS;
    this.destination = file === null ? STDOUT : { name: file, fd: this.open(file) ?? -1, path: file };
  }

  /**
   * O_APPEND: every worker appends to the same file and no line overwrites another, as nginx's
   * workers share theirs. null, with an alert, when it cannot be opened.
   */
  private open(file: string): number | null {
    try {
      return fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_CREAT, 0o644);
    } catch (err) {
      this.report('alert', `the access log "${file}" cannot be opened (${describeWriteError(err)}), so its lines are dropped until it is reopened`);
      return null;
    }
  }

  /**
   * USR1, after logrotate renamed the file: lines go to a new file at the same path from now on.
   * If it cannot be opened, they keep going to the file open so far.
   */
  reopen(): void {
    const { path } = this.destination;
    if (path === null || this.state === WriterState.Closed) return;
    const fd = this.open(path);
    if (fd !== null) this.replaceDestination({ name: path, fd, path });
  }

  /** Bytes waiting to be written, not counting the write in flight: at most the cap. */
  get waitingBytes(): number {
    return this.queuedBytes;
  }

  /** Queues one or more whole lines; beyond the cap they are dropped and counted. */
  append(text: string): void {
    if (this.state === WriterState.Closed) return;
    const bytes = Buffer.from(text);
    if (this.queuedBytes + bytes.length > this.maxQueuedBytes) {
      this.lose(`${Math.round(this.queuedBytes / 1024)} KiB were already waiting to be written, the most it holds`, countLines([bytes]));
      return;
    }
    this.queue.push(bytes);
    this.queuedBytes += bytes.length;
    if (this.state === WriterState.Idle) {
      this.state = WriterState.Scheduled;
      setImmediate(this.write);
    }
  }

  /** Lines go to `next` from now on; the file written so far is closed once the write in flight to it is done. */
  private replaceDestination(next: LogDestination): void {
    const previous = this.destination;
    this.destination = next;
    this.releaseWhenIdle(previous);
  }

  /**
   * Never under a write in flight: the thread pool still uses the fd, and a number closed now
   * could be reused by the next open() and written to.
   */
  private releaseWhenIdle(destination: LogDestination): void {
    if (this.state !== WriterState.Writing) return this.release(destination);
    const before = this.afterWrite;
    this.afterWrite = () => {
      before?.();
      this.release(destination);
    };
  }

  /** Writes what is queued, waiting at most `timeoutMs`, then takes no more lines. */
  async close(timeoutMs: number): Promise<void> {
    if (this.state === WriterState.Closed) return;
    if (this.queue.length > 0 || this.state === WriterState.Writing) {
      if (this.state === WriterState.Waiting) this.retryNow();
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timeoutMs);
        this.drained.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    this.closeNow();
  }

  /** An exit that cannot wait: what is queued gets one blocking write, if none is in flight. */
  flushSync(): void {
    if (this.state !== WriterState.Writing && this.queue.length > 0) {
      try {
        fs.writeSync(this.destination.fd, Buffer.concat(this.queue));
      } catch {
        // exiting: nowhere left to say so
      }
    }
    this.closeNow();
  }

  private closeNow(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.releaseWhenIdle(this.destination);
    this.state = WriterState.Closed;
    this.queue = [];
    this.queuedBytes = 0;
  }

  private release(destination: LogDestination): void {
    if (destination.path === null || destination.fd < 0) return;
    try {
      fs.closeSync(destination.fd);
    } catch {
      // already closed: nothing of ours to free
    }
  }

  private retryNow(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.write();
  }

  private readonly write = (): void => {
    if (this.state === WriterState.Closed) return;
    if (this.queue.length === 0) {
      this.state = WriterState.Idle;
      for (const resolve of this.drained.splice(0)) resolve();
      return;
    }
    this.state = WriterState.Writing;
    const batch = this.queue.length === 1 ? this.queue[0]! : Buffer.concat(this.queue);
    this.queue = [];
    this.queuedBytes = 0;
    const { fd } = this.destination;
    if (fd < 0) return this.written(batch, Object.assign(new Error('EBADF: the file is not open'), { code: 'EBADF' }), 0);
    fs.write(fd, batch, 0, batch.length, null, (err, written) => this.written(batch, err, written));
  };

  private written(batch: Buffer, err: NodeJS.ErrnoException | null, written: number): void {
    const after = this.afterWrite;
    this.afterWrite = null;
    after?.();
    if (this.state === WriterState.Closed) return;
    if (err?.code === 'EAGAIN') {
      this.requeue(batch);
      return this.waitThenWrite(RETRY_AFTER_EAGAIN_MS);
    }
    if (err) {
      this.lose(describeWriteError(err), countLines([batch]));
      return this.waitThenWrite(RETRY_AFTER_FAILURE_MS);
    }
    if (written < batch.length) this.requeue(batch.subarray(written));
    else this.recovered();
    this.write();
  }

  private requeue(rest: Buffer): void {
    this.queue.unshift(rest);
    this.queuedBytes += rest.length;
  }

  private waitThenWrite(ms: number): void {
    this.state = WriterState.Waiting;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.write();
    }, ms);
    this.retryTimer.unref();
  }

  /**
   * Lines lost. The first loss raises an alert, and while losses go on, so does every interval,
   * with the count; a loss inside the interval after a report waits for the next one, so a log
   * that keeps dropping and catching up (a reader slower than the traffic) cannot flood stderr.
   */
  private lose(reason: string, lines: number): void {
    const now = Date.now();
    this.failure ??= { reason, since: new Date(now), dropped: this.unreported, reported: false };
    this.unreported = 0;
    this.failure.dropped += lines;
    this.droppedLines += lines;
    if (now - this.lastReportAt < this.alertIntervalMs) return;
    this.lastReportAt = now;
    const { name } = this.destination;
    const { dropped, since } = this.failure;
    this.report('alert', this.failure.reported
      ? `writing the access log to ${name} still fails (${reason}), and ${dropped} line(s) have been dropped since ${clock(since)}`
      : `writing the access log to ${name} failed (${reason}), so its lines are dropped until a write succeeds`);
    this.failure.reported = true;
  }

  /** A write worked: a reported failure is over, and says what it cost; else its count waits for the next report. */
  private recovered(): void {
    const failure = this.failure;
    if (failure === null) return;
    this.failure = null;
    if (!failure.reported) {
      this.unreported = failure.dropped;
      return;
    }
    this.report('notice', `writing the access log to ${this.destination.name} works again, after ${failure.dropped} line(s) were dropped since ${clock(failure.since)} (${failure.reason})`);
  }
}
