// A worker reuses its llhttp parsers (request-parser.ts keeps a pool, as node:http does). A parser
// that a connection gave back mid-head, mid-body or after an error must parse the next
// connection's request as if new, and the connection that gave it back must hear nothing more.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ParsedRequest } from '../../proxy/http1/parsed-request';
import { RequestParser, requestParsersHeld, type RequestListener } from '../../proxy/http1/request-parser';

class Recorder implements RequestListener {
  /** `tunnels`: what onRequest answers for an upgrade: take the connection (a tunnel) or serve it plain. */
  constructor(
    private readonly tunnels = true,
    private readonly peer: string | undefined = undefined,
  ) {}
  readonly events: string[] = [];
  readonly requests: ParsedRequest[] = [];
  onHeadBegin(): void {
    this.events.push('begin');
  }
  onRequest(req: ParsedRequest, upgrade: boolean): boolean {
    this.requests.push(req);
    this.events.push(`request ${req.method} ${req.url}${upgrade ? ' (upgrade)' : ''}`);
    return this.tunnels;
  }
  onBody(chunk: Buffer): void {
    this.events.push(`body ${chunk.toString()}`);
  }
  onRequestEnd(): void {
    this.events.push('end');
  }
  peerAddress(): string | undefined {
    return this.peer;
  }
}

const GOOD = 'GET /fresh HTTP/1.1\r\nHost: b.test\r\nX-One: 1\r\n\r\n';

/** Leaves a parser in `state`, gives it back, then parses GOOD on a new RequestParser. */
function reuseAfter(state: string): { first: Recorder; second: Recorder; result: unknown } {
  const first = new Recorder(true, '10.0.0.1');
  const a = RequestParser.take(first);
  a.execute(Buffer.from(state));
  a.release();
  const second = new Recorder(true, '10.0.0.2');
  const b = RequestParser.take(second);
  assert.equal(b, a, 'the pool gave the same parser back');
  const result = b.execute(Buffer.from(GOOD));
  b.release();
  return { first, second, result };
}

describe('a reused llhttp parser starts clean', () => {
  const states: Record<string, string> = {
    'mid request line': 'POST /upl',
    'mid header': 'GET /a HTTP/1.1\r\nHost: a.test\r\nX-Half: abc',
    'mid Content-Length body': 'POST /a HTTP/1.1\r\nHost: a.test\r\nContent-Length: 100\r\n\r\npartial',
    'mid chunked body': 'POST /a HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab',
    'after a parse error': 'GET /a HTTP/1.1\r\nBad Header\r\n\r\n',
    'after an upgrade head': 'GET /ws HTTP/1.1\r\nHost: a.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n',
  };
  for (const [name, state] of Object.entries(states)) {
    it(`after a connection closed ${name}`, () => {
      const { first, second, result } = reuseAfter(state);
      assert.equal(result, GOOD.length, 'the whole request parsed');
      assert.deepEqual(second.events, ['begin', 'request GET /fresh', 'end']);
      const [req] = second.requests;
      assert.deepEqual(req.rawHeaders, ['Host', 'b.test', 'X-One', '1']);
      assert.match(req.t.headerLines, /X-Forwarded-For: 10\.0\.0\.2\r\n/);
      assert.doesNotMatch(req.t.headerLines, /X-Half|abc/);
      assert.equal(req.hasBody, false);
      // Nothing of the second request reached the first connection's listener.
      assert.ok(!first.events.some((e) => e.includes('fresh')), first.events.join(', '));
    });
  }

  it('releasing twice gives the parser back once', () => {
    const a = RequestParser.take(new Recorder());
    a.release();
    a.release();
    // Had it been pooled twice, these two would share one llhttp parser and mix their heads.
    const r1 = new Recorder();
    const r2 = new Recorder();
    const p1 = RequestParser.take(r1);
    const p2 = RequestParser.take(r2);
    p1.execute(Buffer.from('GET /one HTTP/1.1\r\nHost: a'));
    p2.execute(Buffer.from('GET /two HTTP/1.1\r\nHost: b\r\n\r\n'));
    p1.execute(Buffer.from('.test\r\n\r\n'));
    assert.deepEqual(r1.events, ['begin', 'request GET /one', 'end']);
    assert.deepEqual(r2.events, ['begin', 'request GET /two', 'end']);
    assert.deepEqual(r1.requests[0].rawHeaders, ['Host', 'a.test']);
    p1.release();
    p2.release();
  });
});

// llhttp stops after any head that asks to upgrade. A listener that serves one as a plain request
// gets parsing going on after it as HTTP, with errors reported: Node's binding reports none while
// llhttp's upgrade flag is still set, so the parser must start afresh after such a request.
describe('a request that asks to upgrade', () => {
  const H2C = 'GET /h2c HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n';

  it('taken over (a tunnel): execute() stops at the end of its head', () => {
    const r = new Recorder(true);
    const p = RequestParser.take(r);
    assert.equal(p.execute(Buffer.from(`${H2C}\x00\x01binary`)), H2C.length);
    assert.deepEqual(r.events, ['begin', 'request GET /h2c (upgrade)', 'end']);
    p.release();
  });

  it('served plain: the request pipelined behind it in the same read is parsed', () => {
    const r = new Recorder(false);
    const p = RequestParser.take(r);
    const next = 'GET /next HTTP/1.1\r\nHost: a\r\n\r\n';
    assert.equal(p.execute(Buffer.from(H2C + next)), H2C.length + next.length);
    assert.deepEqual(r.events, ['begin', 'request GET /h2c (upgrade)', 'end', 'begin', 'request GET /next', 'end']);
    p.release();
  });

  it('served plain with a body, its head ending a read: the next read is its body, not a new request', () => {
    const r = new Recorder(false);
    const p = RequestParser.take(r);
    const head = 'POST /up HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nTransfer-Encoding: chunked\r\n\r\n';
    const body = '6\r\nsix by\r\n0\r\n\r\n';
    assert.equal(p.execute(Buffer.from(head)), head.length);
    assert.equal(p.execute(Buffer.from(body)), body.length);
    assert.deepEqual(r.events, ['begin', 'request POST /up (upgrade)', 'body six by', 'end']);
    assert.ok(p.atRest, 'llhttp is started afresh once the message has ended');
    p.release();
  });

  it('served plain: a malformed request after it, in a later read, is an error', () => {
    const r = new Recorder(false);
    const p = RequestParser.take(r);
    assert.equal(p.execute(Buffer.from(H2C)), H2C.length);
    const ret = p.execute(Buffer.from('XXXX / HTTP/1.1\r\nHost: a\r\n\r\n'));
    assert.ok(typeof ret !== 'number', `an error, not the count ${String(ret)}`);
    assert.match(String(ret.code), /^HPE_/);
    p.release();
  });
});

// llhttp runs some checks on a head only after its head callback (a Transfer-Encoding whose last
// coding is not chunked). The proxy starts the exchange, and writes the head upstream, when the
// listener hears of a head: it must hear only of heads llhttp has gone past.
describe('a head llhttp refuses after its head callback', () => {
  it('never reaches the listener, and is answered 501 as nginx answers an unknown coding', () => {
    for (const te of ['chunked\xa0', 'gzip', 'chunkedx']) {
      const r = new Recorder();
      const p = RequestParser.take(r);
      const ret = p.execute(Buffer.from(`POST /a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ${te}\r\n\r\n3\r\nabc\r\n0\r\n\r\n`, 'latin1'));
      assert.ok(typeof ret !== 'number', `${JSON.stringify(te)}: an error, not the count ${String(ret)}`);
      assert.deepEqual(r.events, ['begin'], JSON.stringify(te));
      assert.equal(p.errorStatus(ret), 501);
      p.release();
    }
  });

  it('a chunked body malformed in the head\'s own read: the head is not handed over either (400)', () => {
    const r = new Recorder();
    const p = RequestParser.take(r);
    const ret = p.execute(Buffer.from('POST /a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n'));
    assert.ok(typeof ret !== 'number');
    assert.deepEqual(r.events, ['begin']);
    assert.equal(p.errorStatus(ret), 400);
    p.release();
  });

  it('a good head is handed over at the end of its read when its body is still to come', () => {
    const r = new Recorder();
    const p = RequestParser.take(r);
    p.execute(Buffer.from('POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\n'));
    assert.deepEqual(r.events, ['begin', 'request POST /a']);
    p.execute(Buffer.from('abc'));
    assert.deepEqual(r.events, ['begin', 'request POST /a', 'body abc', 'end']);
    p.release();
  });
});

// A connection gives its parser back (release) at the end of a read that left it at rest, and
// takes one, started afresh, at its next read: that must parse exactly as the parser it gave back
// would have. So it is at rest only where llhttp's own state after the message is a fresh start's.
describe('a parser at rest, which a connection gives back between reads', () => {
  const atRestAfter = (...reads: string[]): boolean => {
    const p = RequestParser.take(new Recorder(false));
    for (const read of reads) assert.equal(typeof p.execute(Buffer.from(read)), 'number', read);
    const rest = p.atRest;
    p.release();
    return rest;
  };
  const GET = 'GET /a HTTP/1.1\r\nHost: a\r\n\r\n';

  it('after complete keep-alive requests, with or without a body, and a bare CRLF between them', () => {
    assert.equal(atRestAfter(GET), true);
    assert.equal(atRestAfter(GET + GET, '\r\n'), true);
    assert.equal(atRestAfter('POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n', 'ok'), true);
    assert.equal(atRestAfter('POST /a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n'), true);
    assert.equal(atRestAfter('GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n'), true);
  });

  it('after an upgrade head served as a plain request (llhttp is started afresh after it)', () => {
    assert.equal(atRestAfter('GET /h2c HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n'), true);
  });

  it('not in the middle of a message', () => {
    assert.equal(atRestAfter('GET /a HTTP/1.1\r\nHo'), false);
    assert.equal(atRestAfter(GET + 'G'), false);
    assert.equal(atRestAfter('POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\no'), false);
    assert.equal(atRestAfter('POST /a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n'), false);
  });

  it('not after a message that ends the connection, or whose trailers llhttp has read', () => {
    // llhttp refuses what follows these (closed state); a fresh start would parse it.
    assert.equal(atRestAfter('GET /a HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n'), false);
    assert.equal(atRestAfter('GET /a HTTP/1.0\r\n\r\n'), false);
    // A trailer may say Connection: close, and counts towards the next head's size in Node's binding.
    assert.equal(atRestAfter('POST /a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: 1\r\n\r\n'), false);
  });

  it('not after a head that took the connection over (a tunnel)', () => {
    const p = RequestParser.take(new Recorder(true));
    p.execute(Buffer.from('GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n'));
    assert.equal(p.atRest, false);
    p.release();
  });

  it('counted as held from take() to release(), once', () => {
    const before = requestParsersHeld();
    const p = RequestParser.take(new Recorder());
    assert.equal(requestParsersHeld(), before + 1);
    p.release();
    p.release();
    assert.equal(requestParsersHeld(), before);
  });
});
