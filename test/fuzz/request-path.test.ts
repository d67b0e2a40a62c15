// Fuzzing the request path in process: the request parser (llhttp through request-parser.ts, the
// head read by wire-heads.ts) and the head the proxy forwards upstream.
//   - any bytes: execute() answers a byte count or a typed parse error (HPE_*), never throws,
//     never drops bytes, never hangs (the watchdog in test/helpers/fuzz.ts);
//   - the same bytes cut into reads anywhere give the same requests, bodies and outcome;
//   - no re-framing: every request the proxy admits is forwarded as a head that a strict parser
//     (llhttp again, and an independent RFC 9112 check below) reads as the same method, target,
//     header fields and body, ending exactly where the proxy's framing ends.
//
// CI runs HANDOFF_FUZZ_RUNS (default 1000) inputs per property. Longer, by hand:
//   npm run build && HANDOFF_FUZZ_RUNS=20000 node --test dist/test/fuzz/request-path.test.js
// A failure prints its seed and path; HANDOFF_FUZZ_SEED and HANDOFF_FUZZ_PATH replay it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { ParsedRequest } from '../../proxy/http1/parsed-request';
import { RequestParser, type ParseResult, type RequestListener } from '../../proxy/http1/request-parser';
import { upstreamRequestHead } from '../../proxy/http1/wire-heads';
import { admit } from '../../proxy/proxying/request-admission';
import { Router } from '../../proxy/proxying/router';
import { onPropertyThread, runPureProperty } from '../helpers/fuzz';
import { requestBytes, splitPoints } from './request-arbitraries';

/** What a parser told its listener, body chunks joined: comparable across different cuts. */
type ParserEvent =
  | { readonly kind: 'begin' }
  | { readonly kind: 'request'; readonly req: ParsedRequest; readonly upgrade: boolean }
  | { readonly kind: 'body'; data: Buffer; readonly chunks: Buffer[] }
  | { readonly kind: 'end' };

class Recorder implements RequestListener {
  readonly events: ParserEvent[] = [];
  /** onRequest took the connection over. */
  tunnelled = false;
  constructor(private readonly tunnels: boolean) {}
  onHeadBegin(): void {
    this.events.push({ kind: 'begin' });
  }
  onRequest(req: ParsedRequest, upgrade: boolean): boolean {
    this.events.push({ kind: 'request', req, upgrade });
    // A tunnel takes the connection only for a request without a body (as admission requires).
    this.tunnelled = upgrade && this.tunnels && !req.hasBody;
    return this.tunnelled;
  }
  onBody(chunk: Buffer): void {
    const last = this.events.at(-1);
    if (last?.kind === 'body') {
      last.data = Buffer.concat([last.data, chunk]);
      last.chunks.push(chunk);
    } else this.events.push({ kind: 'body', data: chunk, chunks: [chunk] });
  }
  onRequestEnd(): void {
    this.events.push({ kind: 'end' });
  }
  peerAddress(): string {
    return '192.0.2.1';
  }
}

/** How a connection's parsing ended: all bytes taken, a tunnel from `at`, or a parse error. */
type Outcome = { kind: 'parsed' } | { kind: 'tunnel'; at: number } | { kind: 'error'; code: string; overflowStatus?: number };

const HPE = /^HPE_[A-Z_]+$/;

/**
 * Feeds `bytes` in reads cut at `cuts`, as a client connection does: it holds a parser only while
 * a message is being read (it gives it back at the end of a read that left the parser at rest,
 * and takes one at the next), and stops at an error or a tunnel.
 */
function parse(bytes: Buffer, cuts: readonly number[], tunnels: boolean): { recorder: Recorder; outcome: Outcome } {
  const recorder = new Recorder(tunnels);
  let parser: RequestParser | null = null;
  try {
    const bounds = [0, ...cuts, bytes.length];
    for (let i = 0; i + 1 < bounds.length; i++) {
      const piece = bytes.subarray(bounds[i], bounds[i + 1]);
      parser ??= RequestParser.take(recorder);
      const ret: ParseResult = parser.execute(piece);
      if (typeof ret !== 'number') {
        assert.ok(ret instanceof Error, `execute() answered ${String(ret)}`);
        assert.match(String(ret.code), HPE, 'a parse error names its HPE_* code');
        const outcome: Outcome = { kind: 'error', code: ret.code! };
        if (ret.code === 'HPE_HEADER_OVERFLOW') outcome.overflowStatus = parser.errorStatus(ret);
        return { recorder, outcome };
      }
      assert.ok(ret >= 0 && ret <= piece.length, `execute() took ${ret} of ${piece.length} bytes`);
      // The connection is a tunnel from here: the client connection parses no more of it.
      if (recorder.tunnelled) return { recorder, outcome: { kind: 'tunnel', at: bounds[i]! + ret } };
      assert.equal(ret, piece.length, 'execute() takes every byte of a read unless a tunnel takes the rest');
      if (parser.atRest) {
        parser.release();
        parser = null;
      }
    }
    return { recorder, outcome: { kind: 'parsed' } };
  } finally {
    parser?.release();
  }
}

/** The events as plain data, for deepEqual: a head as what the proxy reads of it. */
/**
 * The events of the messages a parse finished, and those of the message a parse error cut short.
 * Whether that message's head was handed on, and how much of its body, depends on where the reads
 * ended: a head goes on at the end of a read in which llhttp found nothing wrong (bodies stream,
 * as nginx's with request buffering off), so a malformed chunk in the head's own read means
 * nothing was sent, and in a later read that the head already was.
 */
function splitAtFailure(events: readonly ParserEvent[], outcome: Outcome): [ParserEvent[], ParserEvent[]] {
  const begin = events.map((e) => e.kind).lastIndexOf('begin');
  const unfinished = begin !== -1 && !events.slice(begin).some((e) => e.kind === 'end');
  if (outcome.kind !== 'error' || !unfinished) return [[...events], []];
  return [events.slice(0, begin), events.slice(begin)];
}

function comparable(events: readonly ParserEvent[]): unknown[] {
  return events.map((e) => {
    if (e.kind === 'request') {
      const { method, url, versionMajor, versionMinor, keepAlive, rawHeaders, t, hasBody } = e.req;
      return { kind: e.kind, upgrade: e.upgrade, method, url, versionMajor, versionMinor, keepAlive, rawHeaders, t, hasBody };
    }
    if (e.kind === 'body') return { kind: 'body', data: e.data.toString('latin1') };
    return e;
  });
}

// ---- no re-framing ---------------------------------------------------------------------------

/** One route to one upstream: admission answers as a worker's would, for any Host and path. */
const router = new Router(
  [{ host: '*', pathPrefix: '/', upstream: 'origin', accessLog: true }],
  { origin: { name: 'origin', servers: [{ host: '127.0.0.1', port: 9, weight: 1, maxFails: 1, failTimeout: 10_000 }], keepalive: 0, balancer: 'round-robin', hashKey: null } },
);

/** Every complete request the client sent, with the body chunks the parser gave (as the exchange forwards them). */
function completeRequests(events: readonly ParserEvent[]): { req: ParsedRequest; chunks: Buffer[] }[] {
  const out: { req: ParsedRequest; chunks: Buffer[] }[] = [];
  let current: { req: ParsedRequest; chunks: Buffer[] } | null = null;
  for (const e of events) {
    if (e.kind === 'request') current = { req: e.req, chunks: [] };
    else if (e.kind === 'body' && current) current.chunks.push(...e.chunks);
    else if (e.kind === 'end' && current) {
      out.push(current);
      current = null;
    }
  }
  return out;
}

/** What the upstream receives for a request: the head, then the body framed as ProxyExchange frames it. */
function forwarded(req: ParsedRequest, chunks: readonly Buffer[]): Buffer {
  const parts: Buffer[] = [Buffer.from(upstreamRequestHead(req.method, req.url, req.t, 'origin'), 'latin1')];
  if (req.t.chunked) {
    for (const c of chunks) parts.push(Buffer.from(`${c.length.toString(16)}\r\n`), c, Buffer.from('\r\n'));
    parts.push(Buffer.from('0\r\n\r\n'));
  } else parts.push(...chunks);
  return Buffer.concat(parts);
}

const TCHAR = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** field-value (RFC 9110 §5.5): VCHAR, obs-text, SP and HTAB inside, none at either end. */
const FIELD_VALUE = /^(?:[\x21-\x7e\x80-\xff](?:[\x20\x09\x21-\x7e\x80-\xff]*[\x21-\x7e\x80-\xff])?)?$/;

/**
 * An upstream head as a strict HTTP/1.1 recipient reads it (RFC 9112), independent of llhttp:
 * the problems it finds. One Host; framing by at most one Content-Length of digits or by
 * `Transfer-Encoding: chunked` alone, never both.
 */
function strictHeadProblems(head: string): string[] {
  const problems: string[] = [];
  assert.ok(head.endsWith('\r\n\r\n'));
  const [line, ...fields] = head.slice(0, -4).split('\r\n');
  if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+ [\x21-\x7e\x80-\xff]+ HTTP\/1\.1$/.test(line!)) problems.push(`request line ${JSON.stringify(line)}`);
  const count = new Map<string, string[]>();
  for (const field of fields) {
    const colon = field.indexOf(':');
    const name = field.slice(0, colon);
    const value = field.slice(colon + 1).replace(/^ /, '');
    if (colon <= 0 || !TCHAR.test(name)) problems.push(`field name in ${JSON.stringify(field)}`);
    if (!FIELD_VALUE.test(value)) problems.push(`field value in ${JSON.stringify(field)}`);
    const lower = name.toLowerCase();
    count.set(lower, [...(count.get(lower) ?? []), value]);
  }
  const host = count.get('host') ?? [];
  if (host.length !== 1) problems.push(`${host.length} Host fields`);
  const cl = count.get('content-length') ?? [];
  const te = count.get('transfer-encoding') ?? [];
  if (cl.length > 1 || (cl.length === 1 && !/^\d+$/.test(cl[0]!))) problems.push(`Content-Length ${JSON.stringify(cl)}`);
  if (te.length > 0 && (te.length > 1 || te[0] !== 'chunked')) problems.push(`Transfer-Encoding ${JSON.stringify(te)}`);
  if (cl.length > 0 && te.length > 0) problems.push('both Content-Length and Transfer-Encoding');
  return problems;
}

/**
 * Every upstream head is strict HTTP/1.1 with one Host: this check once found "GET / HTTP/1.0\r\n\r\n"
 * going upstream without one.
 */
function checkNoReframing(bytes: Buffer): void {
  const { recorder } = parse(bytes, [], false);
  for (const { req, chunks } of completeRequests(recorder.events)) {
    if (admit(req, router, 0).status !== 0) continue; // answered by the proxy itself: nothing goes upstream
    const wire = forwarded(req, chunks);
    const head = wire.subarray(0, wire.indexOf('\r\n\r\n') + 4).toString('latin1');
    const problems = strictHeadProblems(head);
    assert.deepEqual(problems, [], `the upstream head of ${JSON.stringify(bytes.toString('latin1'))} is not strict HTTP/1.1:\n${head}`);
    const again = parse(wire, [], false);
    assert.deepEqual(again.outcome, { kind: 'parsed' }, `llhttp refuses the upstream bytes ${JSON.stringify(wire.toString('latin1'))}`);
    const reread = completeRequests(again.recorder.events);
    assert.equal(reread.length, 1, `the upstream reads ${reread.length} requests in ${JSON.stringify(wire.toString('latin1'))}`);
    assert.equal(again.recorder.events.filter((e) => e.kind === 'begin').length, 1, 'nothing after the request');
    const [{ req: up, chunks: upChunks }] = reread as [{ req: ParsedRequest; chunks: Buffer[] }];
    assert.equal(up.method, req.method);
    assert.equal(up.url, req.url);
    assert.equal(up.t.chunked, req.t.chunked, 'the same framing');
    if (!req.t.chunked) assert.equal(Math.max(up.t.contentLength, 0), Math.max(req.t.contentLength, 0), 'the same Content-Length');
    assert.equal(Buffer.concat(upChunks).toString('latin1'), Buffer.concat(chunks).toString('latin1'), 'the same body');
    const expectedLines = upstreamRequestHead(req.method, req.url, req.t, 'origin').split('\r\n').slice(1, -2);
    const readLines: string[] = [];
    for (let i = 0; i < up.rawHeaders.length; i += 2) readLines.push(`${up.rawHeaders[i]}: ${up.rawHeaders[i + 1]}`);
    assert.deepEqual(readLines, expectedLines, 'the upstream reads the fields the proxy wrote');
  }
}

// ---- the properties ----------------------------------------------------------------------------

const properties = {
  'any bytes: a byte count or a typed error, never a throw': {
    arbitrary: fc.tuple(requestBytes, fc.boolean()),
    check: ([bytes, tunnels]: [Buffer, boolean]) => void parse(bytes, [], tunnels),
  },
  'cut into reads anywhere, the same requests and the same outcome': {
    arbitrary: requestBytes.chain((bytes) => fc.tuple(fc.constant(bytes), splitPoints(bytes.length), fc.boolean())),
    check: ([bytes, cuts, tunnels]: [Buffer, number[], boolean]) => {
      const whole = parse(bytes, [], tunnels);
      const cut = parse(bytes, cuts, tunnels);
      assert.deepEqual(cut.outcome, whole.outcome, 'the same outcome');
      const [cutDone, cutFailed] = splitAtFailure(cut.recorder.events, cut.outcome);
      const [wholeDone, wholeFailed] = splitAtFailure(whole.recorder.events, whole.outcome);
      assert.deepEqual(comparable(cutDone), comparable(wholeDone), 'the same events');
      const cutHead = cutFailed.find((e) => e.kind === 'request');
      const wholeHead = wholeFailed.find((e) => e.kind === 'request');
      if (cutHead && wholeHead) assert.deepEqual(comparable([cutHead]), comparable([wholeHead]), 'the same head of the message that failed');
    },
  },
  'no re-framing: what the proxy admits is forwarded as the same request': {
    arbitrary: requestBytes,
    check: checkNoReframing,
  },
};

if (!onPropertyThread) {
  describe('fuzz: the request path in process', () => {
    for (const [name, property] of Object.entries(properties)) {
      it(name, { timeout: 120_000 }, () => runPureProperty(__filename, name, property as never));
    }
  });
} else {
  for (const [name, property] of Object.entries(properties)) void runPureProperty(__filename, name, property as never);
}
