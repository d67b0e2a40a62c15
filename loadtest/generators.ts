// The two load generators: autocannon (keep-alive scenarios) and a raw-socket loop that opens a
// new TCP connection for every request. Both stop by themselves after the run's duration.
import type { EventEmitter } from 'node:events';
import net from 'node:net';
import { Recorder } from './recorder';

/** Where to connect: resolved once before the run, so every request goes to the same address. */
export interface Target {
  readonly url: URL;
  readonly address: string;
  readonly port: number;
}

export interface GeneratorRun {
  readonly recorder: Recorder;
  readonly elapsedS: number;
}

/** Per-request timeout: a request not answered by then counts as an error. */
export const REQUEST_TIMEOUT_S = 10;

// ---- autocannon -------------------------------------------------------------------------------

interface AutocannonResult {
  errors: number;
  timeouts: number;
  non2xx: number;
  duration: number;
}
type Autocannon = (
  opts: Record<string, unknown>,
  done: (err: Error | null, result: AutocannonResult) => void,
) => EventEmitter & { stop(): void };
// autocannon ships no types; this is the part used here.
// eslint-disable-next-line @typescript-eslint/no-var-requires
const autocannon = require('autocannon') as Autocannon;

/** Keep-alive connections, one request in flight on each (pipelining 1), for `durationS`. */
export function runAutocannon(target: Target, path: string, connections: number, durationS: number, recorder: Recorder): Promise<GeneratorRun> {
  const host = target.address.includes(':') ? `[${target.address}]` : target.address;
  const startedAt = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: `http://${host}:${target.port}${path}`,
        // The Host header of the URL the user gave, not of the resolved address.
        headers: { host: target.url.host },
        connections,
        pipelining: 1,
        duration: durationS,
        timeout: REQUEST_TIMEOUT_S,
      },
      (err, result) => {
        if (err) return reject(err);
        // autocannon counts a timeout as an error too. Socket errors are taken from its totals
        // (its 'reqError' events are emitted once per pipelined request, so they can overcount).
        recorder.errors = result.errors;
        recorder.timeouts = result.timeouts;
        resolve({ recorder, elapsedS: Number(process.hrtime.bigint() - startedAt) / 1e9 });
      },
    );
    // responseTime is autocannon's own per-request time in ms, with sub-ms precision.
    instance.on('response', (_client: unknown, statusCode: number, resBytes: number, responseTime: number) => {
      recorder.response(statusCode, responseTime, resBytes);
    });
  });
}

// ---- a new connection per request -------------------------------------------------------------

class TimeoutError extends Error {}

interface RawResponse {
  status: number;
  bytes: number;
}

/**
 * One request on a fresh connection: connect, send, read until the server closes (it must: the
 * request says Connection: close), then close our side. The server closes first, so the TIME_WAIT
 * state stays on its side and this client does not run out of ephemeral ports.
 */
function oneRequest(target: Target, request: Buffer, timeoutMs: number): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: target.address, port: target.port });
    let head = '';
    let headDone = false;
    let status = 0;
    let contentLength = -1;
    let bodyBytes = 0;
    let bytes = 0;
    let settled = false;
    const fail = (err: Error): void => {
      if (settled) return;
      settled = true;
      socket.destroy();
      reject(err);
    };
    socket.setNoDelay(true);
    socket.setTimeout(timeoutMs, () => fail(new TimeoutError(`no answer within ${timeoutMs} ms`)));
    socket.on('connect', () => socket.write(request));
    socket.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (headDone) {
        bodyBytes += chunk.length;
        return;
      }
      head += chunk.toString('latin1');
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) {
        if (head.length > 16 * 1024) fail(new Error('response head larger than 16 KiB'));
        return;
      }
      headDone = true;
      bodyBytes = head.length - end - 4;
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(head);
      status = m ? Number(m[1]) : 0;
      const cl = /\r\ncontent-length:\s*(\d+)/i.exec(head.slice(0, end));
      contentLength = cl ? Number(cl[1]) : -1;
    });
    socket.on('end', () => {
      if (settled) return;
      settled = true;
      socket.destroy();
      if (!headDone || status === 0) return reject(new Error('connection closed before a complete response head'));
      if (contentLength >= 0 && bodyBytes !== contentLength) {
        return reject(new Error(`truncated response: ${bodyBytes} of ${contentLength} body bytes`));
      }
      resolve({ status, bytes });
    });
    socket.on('error', fail);
  });
}

/** `connections` loops, each doing one request per new TCP connection until `durationS` is over. */
export async function runNewConnections(target: Target, path: string, connections: number, durationS: number, recorder: Recorder): Promise<GeneratorRun> {
  const request = Buffer.from(
    `GET ${path} HTTP/1.1\r\nHost: ${target.url.host}\r\nUser-Agent: handoff-loadtest\r\nConnection: close\r\n\r\n`,
    'latin1',
  );
  const startedAt = process.hrtime.bigint();
  const deadline = Date.now() + durationS * 1000;
  const loop = async (): Promise<void> => {
    while (Date.now() < deadline) {
      const t0 = process.hrtime.bigint();
      try {
        const res = await oneRequest(target, request, REQUEST_TIMEOUT_S * 1000);
        recorder.response(res.status, Number(process.hrtime.bigint() - t0) / 1e6, res.bytes);
      } catch (err) {
        recorder.error(err instanceof TimeoutError);
        // A refused or reset connection fails at once: do not spin on it.
        await new Promise((r) => setTimeout(r, 10));
      }
    }
  };
  await Promise.all(Array.from({ length: connections }, loop));
  return { recorder, elapsedS: Number(process.hrtime.bigint() - startedAt) / 1e9 };
}
