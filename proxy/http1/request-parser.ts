// The HTTP parser (http-parser.ts, on llhttp) in request mode (strict: no lenient flag), turned
// into what a client connection acts on: a head begins, a request's head is complete and has
// passed every check of llhttp's (as a ParsedRequest), body bytes, the end of the request. It
// gathers a head that arrives over several reads (llhttp hands over header fields and the URL in
// pieces then) and reads the head's framing in one pass (wire-heads.ts). Parsers are pooled, and
// a connection holds one only while it reads a message (RequestParser.take, atRest, release).
import { ParserInternalError } from './errors';
import { headOverflowStatus, openLineStart } from './head-overflow';
import { AfterHead, type HttpParser, type HttpParserEvents, type ParseError } from './http-parser';
import { createHttpParser, returnToPool } from './llhttp';
import type { ParsedRequest } from './parsed-request';
import { splitAbsoluteForm } from './request-target';
import { translateRequest } from './wire-heads';

export interface RequestListener {
  /** The first byte of a request head. */
  onHeadBegin(): void;
  /**
   * A complete head. `upgrade`: it asks to switch protocols. Return true to take the connection
   * over (a tunnel): execute() then stops after this head and says where the rest starts. False
   * serves it as a plain request, and parsing goes on after it as HTTP.
   */
  onRequest(req: ParsedRequest, upgrade: boolean): boolean;
  /** Body bytes of the request last given to onRequest: a copy (llhttp makes one), the listener's to keep. */
  onBody(chunk: Buffer): void;
  onRequestEnd(): void;
  /** The client's address, for X-Forwarded-For (asked once per request head). */
  peerAddress(): string | undefined;
}

/** execute()'s answer: bytes parsed, or what was wrong (code HPE_*). */
export type ParseResult = number | ParseError;

/**
 * The most a request head (request line and headers) may take: nginx's large_client_header_buffers
 * (4 × 8k) lets cookie-heavy heads of up to 32 KiB through; Node's own default, 16 KiB, would
 * refuse some that work behind nginx. Over it: 414 in the request line, else 431 (head-overflow.ts).
 */
const MAX_REQUEST_HEAD_BYTES = 32 * 1024;

/**
 * How many parsers a worker keeps for reuse, as node:http's FreeList of 1000. Creating one (a C++
 * object, an async id, a weak handle) and freeing it was 2.5% of a worker's CPU under a new
 * connection per request; a reused one is only re-initialized. A connection holds one only while
 * it reads a message (take() to release()), so the pool is as large as the most connections
 * ever reading at once, not as the connections open.
 */
const PARSER_POOL_SIZE = 1000;

const pool: RequestParser[] = [];
/** Parsers taken and not yet released (requestParsersHeld()). */
let held = 0;

/** How many parsers connections hold now: one per connection in the middle of a message. */
export function requestParsersHeld(): number {
  return held;
}

/**
 * llhttp (Node's C++ parser: some 1.7 KiB of header-field slots and llhttp state, plus its JS
 * wrappers) with what a client connection needs of it, pooled: a connection takes one at the
 * first byte of a message and gives it back once the message is complete and nothing of the next
 * one has come (atRest), so an idle keep-alive connection holds none. llhttp keeps nothing across
 * that boundary that a fresh start would not give it, except in the cases atRest leaves out.
 */
export class RequestParser implements HttpParserEvents {
  private readonly parser: HttpParser = createHttpParser(this);
  private listener: RequestListener | null = null;
  /** A request that asked to upgrade is served as a plain one: llhttp starts afresh after it. */
  private restartPending = false;
  private headers: string[] = [];
  private url = '';
  /** Between the first byte of a message and its end (its head, body and trailers). */
  private messageOpen = false;
  /** Between the first byte of a head and its end. */
  private headOpen = false;
  /**
   * llhttp may start afresh after the last complete message: it said keep-alive (else llhttp is
   * in its closed state, which refuses whatever follows), asked no upgrade (llhttp stopped
   * there), and had no trailers (a trailer may say Connection: close, and counts towards the
   * next head's size limit in Node's binding).
   */
  private restartable = true;
  /** The start of the line the head's bytes so far end in (head-overflow.ts). */
  private lineStart = '';
  /**
   * A complete head that llhttp may still refuse: it runs some checks (a Transfer-Encoding whose
   * last coding is not chunked) only after its head callback. The listener gets the head once
   * llhttp has gone past them (a body byte, the message's end, or the end of the read without an
   * error), so nothing of a head it refuses can reach an upstream.
   */
  private unconfirmed: ParsedRequest | null = null;
  private unconfirmedUpgrade = false;
  /** llhttp refused a head after its callback (HPE_INVALID_TRANSFER_ENCODING, an unknown coding). */
  private refusedAfterHead = false;

  /** A parser from the pool (or a new one) for `listener`, started afresh for requests. */
  static take(listener: RequestListener): RequestParser {
    const parser = pool.pop() ?? new RequestParser();
    parser.parser.startRequests(MAX_REQUEST_HEAD_BYTES);
    parser.listener = listener;
    held++;
    return parser;
  }

  private constructor() {}

  /**
   * Back to the worker's pool (or freed), in whatever state; never from inside execute(). Its
   * listener hears nothing more from it.
   */
  release(): void {
    if (this.listener === null) return;
    this.listener = null;
    held--;
    this.restartPending = false;
    this.forgetHead();
    this.messageOpen = false;
    this.headOpen = false;
    this.restartable = true;
    this.lineStart = '';
    this.unconfirmed = null;
    this.refusedAfterHead = false;
    returnToPool(pool, this, this.parser, PARSER_POOL_SIZE);
  }

  /**
   * After an execute() that took every byte it was given: no message is under way and llhttp may
   * start afresh for the next one, so the connection can release() this parser and take one when
   * its next message begins.
   */
  get atRest(): boolean {
    return !this.messageOpen && this.restartable;
  }

  /**
   * Parses one read; nothing of `chunk` is kept after it returns (llhttp copies what it keeps).
   * The bytes parsed: all of them, or up to the end of a head whose listener took the connection.
   */
  execute(chunk: Buffer): ParseResult {
    // Node's binding takes a buffer without memory (a zero-length one of its own) for EOF: it
    // runs llhttp_finish and answers undefined instead of a count.
    if (chunk.length === 0) return 0;
    let offset = 0;
    for (;;) {
      const ret = this.parser.execute(offset === 0 ? chunk : chunk.subarray(offset));
      if (typeof ret !== 'number') {
        if (ret.code === 'HPE_HEADER_OVERFLOW') this.noteOpenLine(chunk, Math.min(chunk.length, offset + (ret.bytesParsed ?? chunk.length)));
        // The error is the unconfirmed head's own: the listener never hears of that head.
        this.refusedAfterHead = this.unconfirmed !== null;
        this.unconfirmed = null;
        return ret;
      }
      // Never from a sane llhttp; but see restart() for when the binding stops reporting errors.
      if (ret < 0 || offset + ret > chunk.length) return new ParserInternalError();
      this.confirmHead();
      offset += ret;
      if (this.headOpen) this.noteOpenLine(chunk, offset); // a head goes on in the next read
      // A head that asked to upgrade and is served as a plain request, confirmed at the end of
      // a read, may still have its body to come: llhttp reads it and stops at the message's end.
      if (!this.restartPending || this.messageOpen) return offset;
      // llhttp stopped after a request that asked to upgrade and is served as a plain one: what
      // follows is the next request.
      this.restartPending = false;
      this.restart();
      if (offset >= chunk.length || ret === 0) return offset;
    }
  }

  /**
   * Starts llhttp afresh between two messages; never from inside execute(). After a request that
   * asked to upgrade, Node's binding resumes llhttp but leaves its upgrade flag set until another
   * head completes, and while it is set the binding reports no parse error (execute() returns
   * a byte count instead): the next request must not be parsed in that state.
   */
  private restart(): void {
    this.parser.startRequests(MAX_REQUEST_HEAD_BYTES);
    this.restartable = true;
  }

  /**
   * The answer to what execute() refused: a head over MAX_REQUEST_HEAD_BYTES is 414 or 431; a
   * complete head whose Transfer-Encoding does not end in chunked is 501, as nginx answers an
   * unknown coding; anything else malformed 400.
   */
  errorStatus(err: ParseError): number {
    if (err.code === 'HPE_HEADER_OVERFLOW') return headOverflowStatus(this.lineStart);
    if (err.code === 'HPE_INVALID_TRANSFER_ENCODING' && this.refusedAfterHead) return 501;
    return 400;
  }

  private noteOpenLine(chunk: Buffer, end: number): void {
    this.lineStart = openLineStart(chunk, end, this.lineStart);
  }

  /** llhttp: a message begins. */
  onMessageBegin(): void {
    // A chunked body's trailers arrive through kOnHeaders (with the finished request's URL)
    // after its head was taken: dropped here (as nginx does), or the next head split over
    // reads would start with them.
    this.forgetHead();
    this.messageOpen = true;
    this.headOpen = true;
    this.restartable = true;
    this.lineStart = '';
    this.listener!.onHeadBegin();
  }

  /** llhttp: part of a head that came over several reads, or trailers. */
  onHeaders(headers: string[], url: string): void {
    if (!this.headOpen) this.restartable = false; // trailers
    for (const h of headers) this.headers.push(h);
    this.url += url;
  }

  /** llhttp: a complete head. */
  onHeadersComplete(major: number, minor: number, headers: string[] | undefined, method: string, url: string | undefined, _status: number, _reason: string, upgrade: boolean, keepAlive: boolean): AfterHead {
    this.headOpen = false;
    this.lineStart = ''; // a trailer's line is the next to be judged
    if (upgrade || !keepAlive) this.restartable = false;
    const raw = headers ?? this.headers;
    let target = url ?? this.url;
    this.headers = [];
    this.url = '';
    // A client that speaks to us as to a forward proxy: routed and forwarded as origin-form, with
    // the target's authority as the Host (RFC 9112 §3.2.2), as nginx does; its own Host headers
    // are still checked (admission).
    const absolute = splitAbsoluteForm(target);
    const t = translateRequest(raw, this.listener!.peerAddress(), absolute?.[0]);
    if (absolute !== null) target = absolute[1];
    this.unconfirmedUpgrade = upgrade;
    this.unconfirmed = {
      method,
      url: target,
      versionMajor: major,
      versionMinor: minor,
      keepAlive,
      rawHeaders: raw,
      t,
      hasBody: t.chunked || t.contentLength > 0,
      complete: false,
      received: 0,
      buffered: null,
      accessLogged: true,
      clientAddress: null,
      startedAt: Date.now(),
    };
    return AfterHead.Body;
  }

  /** llhttp: body bytes, so it has passed the head. */
  onBody(chunk: Buffer): void {
    this.confirmHead();
    this.listener!.onBody(chunk);
  }

  /** llhttp: the message is complete, so it has passed the head. */
  onMessageComplete(): void {
    this.messageOpen = false;
    this.confirmHead();
    this.listener!.onRequestEnd();
  }

  /** The head llhttp has gone past goes to the listener. */
  private confirmHead(): void {
    const req = this.unconfirmed;
    if (req === null) return;
    this.unconfirmed = null;
    const upgrade = this.unconfirmedUpgrade;
    const tunnel = this.listener!.onRequest(req, upgrade);
    if (upgrade && !tunnel) this.restartPending = true;
  }

  private forgetHead(): void {
    if (this.headers.length > 0) this.headers = [];
    this.url = '';
  }
}
