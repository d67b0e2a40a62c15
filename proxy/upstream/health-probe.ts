// One active health check of one server, as HAProxy's `option httpchk`: a GET of the configured
// path on a connection of its own, judged by the status line alone (the body is not read, the
// connection is closed as soon as the status is known). Anything else within the timeout fails:
// refused, reset, unreachable, a status outside expectStatus, bytes that are not HTTP.
import net from 'node:net';
import type { HealthCheckConfig } from '../config/types';
import type { DownReason } from '../handoff/protocol';
import { formatAddress } from '../config/addresses';

export type ProbeResult =
  | { readonly ok: true; readonly status: number }
  /** `detail`: the reason as a log line gives it ("status 503", "connect() refused"). */
  | { readonly ok: false; readonly reason: DownReason; readonly detail: string };

/** A status line is short; more than this without one is not HTTP. */
const MAX_STATUS_LINE = 1024;
const STATUS_LINE = /^HTTP\/1\.[01] (\d{3})[ \r]/;

const REASON_OF_ERRNO: Readonly<Record<string, DownReason>> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection reset',
  EHOSTUNREACH: 'unreachable',
  ENETUNREACH: 'unreachable',
  EHOSTDOWN: 'unreachable',
};

export function expects(check: HealthCheckConfig, status: number): boolean {
  return check.expectStatus.some(([from, to]) => status >= from && status <= to);
}

export function probe(host: string, port: number, check: HealthCheckConfig): Promise<ProbeResult> {
  return new Promise((resolve) => {
    let settled = false;
    let head = '';
    const socket = net.connect({ host, port });
    const finish = (result: ProbeResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => finish({ ok: false, reason: 'timed out', detail: `no status line within ${check.timeout} ms` }), check.timeout);
    socket.setNoDelay(true);
    socket.on('connect', () => {
      socket.write(`GET ${check.path} HTTP/1.1\r\nHost: ${formatAddress(host, port)}\r\nUser-Agent: handoff-health-check\r\nConnection: close\r\n\r\n`);
    });
    socket.on('data', (chunk: Buffer) => {
      head += chunk.toString('latin1');
      const match = STATUS_LINE.exec(head);
      if (match) {
        const status = Number(match[1]);
        return finish(expects(check, status) ? { ok: true, status } : { ok: false, reason: 'unexpected status', detail: `status ${status}` });
      }
      if (head.includes('\n') || head.length > MAX_STATUS_LINE) finish({ ok: false, reason: 'not HTTP', detail: 'the answer is not an HTTP/1 status line' });
    });
    socket.on('end', () => finish({ ok: false, reason: 'not HTTP', detail: 'the connection closed before a status line' }));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      const reason = REASON_OF_ERRNO[err.code ?? ''] ?? 'failed';
      finish({ ok: false, reason, detail: reason === 'failed' ? `${err.code ?? 'error'}: ${err.message}` : reason });
    });
    socket.on('close', () => finish({ ok: false, reason: 'connection reset', detail: 'the connection closed before a status line' }));
  });
}
