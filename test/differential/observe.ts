// Runs one case against one proxy and observes both ends: the responses its client got (status
// codes in order, whether the connection closed) and what reached the recording origin behind it
// (the requests the origin framed, and any bytes it could not frame).
import net from 'node:net';
import type { OriginLeftover, OriginRequest, RecordingOrigin } from './recording-origin';

export interface ClientSeen {
  /** Status codes in order; a response cut short is "200…", bytes that are not a response "junk". */
  readonly statuses: string[];
  /** The proxy closed the connection (FIN or reset) before the client gave up waiting. */
  readonly closed: boolean;
}

export interface OriginSeen {
  readonly requests: OriginRequest[];
  readonly leftovers: OriginLeftover[];
}

export interface Seen {
  readonly client: ClientSeen;
  readonly origin: OriginSeen;
}

/** A lane: a proxy's port and the origin behind it; a lane runs one case at a time. */
export interface Lane {
  readonly port: number;
  readonly origin: RecordingOrigin;
}

/**
 * How long both ends must stay silent before a connection that is still open is taken to have
 * said everything. There is no event for "the proxy will send nothing more" (it may be waiting
 * for bytes the case never sends), so silence is the observable; cases that are not about an
 * open connection end with Connection: close and do not wait for it.
 */
const QUIET_MS = 1_000;
/** No case may hold its lane longer than this. */
const CASE_LIMIT_MS = 5_000;

/** The methods of the request lines in `bytes`, in order (to know which responses have no body). */
function requestMethods(bytes: Buffer): string[] {
  return [...bytes.toString('latin1').matchAll(/(?:^|\n)([A-Z]+) \S+ HTTP\//g)].map((m) => m[1]);
}

/** The status codes of the responses in `data`, in order. */
export function parseResponses(data: Buffer, methods: readonly string[]): string[] {
  const statuses: string[] = [];
  let at = 0;
  let final = 0;
  while (at < data.length) {
    const headEnd = data.indexOf('\r\n\r\n', at);
    const m = /^HTTP\/\d\.\d (\d{3})/.exec(data.subarray(at, at + 16).toString('latin1'));
    if (m === null) return [...statuses, 'junk'];
    if (headEnd === -1) return [...statuses, `${m[1]}…`];
    const status = Number(m[1]);
    const head = data.subarray(at, headEnd).toString('latin1');
    at = headEnd + 4;
    if (status < 200) {
      statuses.push(m[1]);
      continue;
    }
    const bodiless = status === 204 || status === 304 || methods[final] === 'HEAD';
    final++;
    const length = /\r\ncontent-length: *(\d+)/i.exec(head);
    if (bodiless) {
      statuses.push(m[1]);
    } else if (/\r\ntransfer-encoding: *chunked/i.test(head)) {
      const end = chunkedEnd(data, at);
      if (end === -1) return [...statuses, `${m[1]}…`];
      statuses.push(m[1]);
      at = end;
    } else if (length !== null) {
      if (data.length < at + Number(length[1])) return [...statuses, `${m[1]}…`];
      statuses.push(m[1]);
      at += Number(length[1]);
    } else {
      // Delimited by the close: everything left is its body.
      statuses.push(m[1]);
      at = data.length;
    }
  }
  return statuses;
}

/** Where a chunked body that starts at `at` ends, or -1 if it has not all arrived. */
function chunkedEnd(data: Buffer, at: number): number {
  for (;;) {
    const eol = data.indexOf('\r\n', at);
    if (eol === -1) return -1;
    const size = parseInt(data.subarray(at, eol).toString('latin1'), 16);
    at = eol + 2;
    if (size === 0) {
      const end = data.indexOf('\r\n\r\n', at - 2);
      return end === -1 ? -1 : end + 4;
    }
    at += size + 2;
    if (at > data.length) return -1;
  }
}

/** Sends `bytes` on a fresh connection to the lane's proxy and observes both ends. */
export async function observe(lane: Lane, bytes: Buffer): Promise<Seen> {
  const { origin } = lane;
  const mark = origin.requests.length;
  origin.clearLeftovers();
  const data: Buffer[] = [];
  let closed = false;
  await new Promise<void>((resolve) => {
    const socket = net.connect(lane.port, '127.0.0.1');
    const started = Date.now();
    let last = started;
    let timer: NodeJS.Timeout | undefined;
    const finish = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve();
    };
    const check = () => {
      const now = Date.now();
      const quietSince = Math.max(last, origin.lastActivity());
      if (now - quietSince >= QUIET_MS || now - started >= CASE_LIMIT_MS) return finish();
      timer = setTimeout(check, QUIET_MS - (now - quietSince));
    };
    socket.on('data', (d: Buffer) => {
      data.push(d);
      last = Date.now();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      closed = true;
      finish();
    });
    socket.once('connect', () => {
      socket.write(bytes);
      last = Date.now();
      timer = setTimeout(check, QUIET_MS);
    });
  });
  await originSettled(origin);
  return {
    client: { statuses: parseResponses(Buffer.concat(data), requestMethods(bytes)), closed },
    origin: { requests: origin.requests.slice(mark), leftovers: origin.leftovers() },
  };
}

/** Until the origin has been silent a moment: what the proxy sends as the client goes is part of the case. */
async function originSettled(origin: RecordingOrigin): Promise<void> {
  const deadline = Date.now() + 2_000;
  while (Date.now() - origin.lastActivity() < 100 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 25));
  }
}
