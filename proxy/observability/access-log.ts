// nginx's "combined" access-log format, with $bytes_sent (head and body) in place of
// $body_bytes_sent since the body is streamed, not counted, and the worker that served it (the
// name the master's status and dashboard use; '-' until the master has named it):
//   127.0.0.1 - - [25/Nov/2026:21:40:00 +0000] "GET / HTTP/1.1" 200 187 "-" "curl/7.88.1" worker=w2
// Lines are batched and written once per event-loop turn, one write for a burst of requests, by a
// LogWriter: a write that fails loses lines and raises an alert, never the worker.
import type { LogWriter } from './log-writer';

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

function timeLocal(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  const offset = -d.getTimezoneOffset();
  const sign = offset >= 0 ? '+' : '-';
  const abs = Math.abs(offset);
  return `${p(d.getDate())}/${MONTHS[d.getMonth()]}/${d.getFullYear()}:${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())} ${sign}${p(Math.floor(abs / 60))}${p(abs % 60)}`;
}

/** Quotes a header value the way nginx escapes log fields: no raw quotes, backslashes or controls. */
function field(value: string | undefined): string {
  if (!value) return '-';
  return value.replace(/["\\\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

export class AccessLog {
  /** Set once the master has named this worker (WELCOME). */
  worker = '-';

  constructor(private readonly writer: LogWriter) {}

  /** One line for a finished request (499: the client went away first). */
  record(remoteAddress: string | undefined, requestLine: string, status: number, bytesSent: number, referer: string | undefined, userAgent: string | undefined): void {
    this.writer.append(
      `${remoteAddress ?? '-'} - - [${timeLocal(new Date())}] "${field(requestLine)}" ` +
      `${status} ${bytesSent} "${field(referer)}" "${field(userAgent)}" worker=${this.worker}\n`);
  }

  /** A graceful exit: what is queued is written, for at most `timeoutMs`. */
  close(timeoutMs: number): Promise<void> {
    return this.writer.close(timeoutMs);
  }

  /** An exit that cannot wait. */
  closeNow(): void {
    this.writer.flushSync();
  }
}
