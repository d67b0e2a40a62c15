// One line per finished request, in one of two formats:
// "combined": nginx's, with $bytes_sent (head and body) in place of $body_bytes_sent since the
// body is streamed, not counted, then the worker that served it (the name the master's status and
// dashboard use; '-' until the master has named it) and nginx's $upstream_addr, $upstream_status,
// $request_time and $upstream_response_time (seconds, to the millisecond; one entry per server
// tried, ", " between them; "-" when no upstream was asked):
//   127.0.0.1 - - [25/Nov/2026:21:40:00 +0000] "GET / HTTP/1.1" 200 187 "-" "curl/7.88.1" worker=w2
//   upstream_addr="127.0.0.1:3000" upstream_status="200" request_time=0.003 upstream_response_time="0.002"
// (one line). "json": the same fields as one JSON object per line, the upstream ones as arrays.
// Lines are batched and written once per event-loop turn, one write for a burst of requests, by a
// LogWriter: a write that fails loses lines and raises an alert, never the worker.
import type { LogWriter } from './log-writer';

/** config.accessLog.format. */
export type AccessLogFormat = 'combined' | 'json';

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** One server tried for a request. */
export interface UpstreamAttempt {
  /** host:port. */
  readonly address: string;
  /** Its response's status; 502 or 504 when it failed before one; 0: none (the client left first). */
  status: number;
  readonly startedAt: number;
  /** Date.now() when its response ended or it failed; 0 while under way. */
  endedAt: number;
}

/** What the client connection knows of a finished request. */
export interface RequestRecord {
  readonly remoteAddress: string | undefined;
  /** "GET /path HTTP/1.1". */
  readonly requestLine: string;
  readonly status: number;
  readonly bytesSent: number;
  readonly referer: string | undefined;
  readonly userAgent: string | undefined;
  /** Date.now() once the request's head was read. */
  readonly startedAt: number;
  readonly upstreams: readonly UpstreamAttempt[];
}

interface Entry extends RequestRecord {
  readonly now: Date;
  readonly requestTime: number;
  readonly worker: string;
}

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

const seconds = (ms: number): number => Math.max(0, ms) / 1000;
const responseTime = (a: UpstreamAttempt): number => seconds(a.endedAt - a.startedAt);

/** nginx's list of one value per server tried, or "-". */
function list(upstreams: readonly UpstreamAttempt[], value: (a: UpstreamAttempt) => string): string {
  return upstreams.length === 0 ? '-' : upstreams.map(value).join(', ');
}

function combined(e: Entry): string {
  return `${e.remoteAddress ?? '-'} - - [${timeLocal(e.now)}] "${field(e.requestLine)}" ` +
    `${e.status} ${e.bytesSent} "${field(e.referer)}" "${field(e.userAgent)}" worker=${e.worker} ` +
    `upstream_addr="${list(e.upstreams, (a) => a.address)}" upstream_status="${list(e.upstreams, (a) => (a.status === 0 ? '-' : String(a.status)))}" ` +
    `request_time=${seconds(e.requestTime).toFixed(3)} upstream_response_time="${list(e.upstreams, (a) => responseTime(a).toFixed(3))}"\n`;
}

function json(e: Entry): string {
  return JSON.stringify({
    time: e.now.toISOString(),
    remote_addr: e.remoteAddress ?? null,
    request: e.requestLine,
    status: e.status,
    bytes_sent: e.bytesSent,
    http_referer: e.referer ?? null,
    http_user_agent: e.userAgent ?? null,
    request_time: seconds(e.requestTime),
    upstream_addr: e.upstreams.map((a) => a.address),
    upstream_status: e.upstreams.map((a) => (a.status === 0 ? null : a.status)),
    upstream_response_time: e.upstreams.map(responseTime),
    worker: e.worker,
  }) + '\n';
}

const FORMATTERS: Record<AccessLogFormat, (e: Entry) => string> = { combined, json };

export class AccessLog {
  /** Set once the master has named this worker (WELCOME). */
  worker = '-';
  private readonly format: (e: Entry) => string;

  constructor(
    private writer: LogWriter,
    format: AccessLogFormat = 'combined',
  ) {
    this.format = FORMATTERS[format];
  }

  /** One line for a finished request (499: the client went away first). */
  record(request: RequestRecord): void {
    const now = new Date();
    this.writer.append(this.format({ ...request, now, requestTime: now.getTime() - request.startedAt, worker: this.worker }));
  }

  /** USR1: the file is opened anew (log rotation); stdout stays as it is. */
  reopen(): void {
    this.writer.reopen();
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
