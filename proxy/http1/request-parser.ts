// The HTTP parser (http-parser.ts, on llhttp) in request mode (strict: no lenient flag), turned
// into what a client connection acts on: a head begins, a request's head is complete and has
// passed every check of llhttp's (as a ParsedRequest), body bytes, the end of the request. It gathers a head that arrives over several reads (llhttp hands over header
// fields and the URL in pieces then) and reads the head's framing in one pass (wire-heads.ts).
import { ParserInternalError } from './errors';
import { headOverflowStatus, openLineStart } from './head-overflow';
import { AfterHead, type HttpParser, type HttpParserEvents, type ParseError } from './http-parser';
import { createHttpParser } from './llhttp';
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
 * How many llhttp parsers a worker keeps for reuse, as node:http's FreeList of 1000. Creating
 * one (a C++ object, an async id, a weak handle) and freeing it was 2.5% of a worker's CPU under
 * a new connection per request; a reused one is only re-initialized.
 */
const PARSER_POOL_SIZE = 1000;

/** A pooled parser: its events go to whichever RequestParser has it now. */
class PooledParser implements HttpParserEvents {
  owner: RequestParser | null = null;
  readonly parser: HttpParser = createHttpParser(this);

  onMessageBegin(): void {
    this.owner?.messageBegin();
  }
  onHeaders(headers: string[], url: string): void {
    this.owner?.headersPart(headers, url);
  }
  onHeadersComplete(major: number, minor: number, headers: string[] | undefined, method: string, url: string | undefined, _status: number, _reason: string, upgrade: boolean, keepAlive: boolean): AfterHead {
    this.owner?.headersComplete(major, minor, headers, method, url, upgrade, keepAlive);
    return AfterHead.Body;
  }
  onBody(chunk: Buffer): void {
    this.owner?.body(chunk);
  }
  onMessageComplete(): void {
    this.owner?.messageComplete();
  }
}

const pool: PooledParser[] = [];

function acquireParser(owner: RequestParser): PooledParser {
  const pooled = pool.pop() ?? new PooledParser();
  pooled.parser.startRequests(MAX_REQUEST_HEAD_BYTES);
  pooled.owner = owner;
  return pooled;
}

function releaseParser(pooled: PooledParser): void {
  pooled.owner = null;
  if (pool.length < PARSER_POOL_SIZE) {
    pooled.parser.recycle();
    pool.push(pooled);
  } else {
    pooled.parser.close();
  }
}

export class RequestParser {
  private parser: PooledParser | null;
  /** A request that asked to upgrade is served as a plain one: llhttp starts afresh after it. */
  private restartPending = false;
  private headers: string[] = [];
  private url = '';
  /** Between the first byte of a head and its end. */
  private headOpen = false;
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

  constructor(
    readonly listener: RequestListener,
    /** The client's address, for X-Forwarded-For (read once per request head). */
    private readonly clientAddress: () => string | undefined,
  ) {
    this.parser = acquireParser(this);
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
      const ret = this.parser!.parser.execute(offset === 0 ? chunk : chunk.subarray(offset));
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
      if (!this.restartPending) return offset;
      // llhttp stopped after a request that asked to upgrade and is served as a plain one. It has
      // no body (the listener refuses those), so what follows is the next request.
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
    this.parser!.parser.startRequests(MAX_REQUEST_HEAD_BYTES);
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

  /** Gives llhttp back to the worker's pool (or frees it); never from inside execute(). */
  close(): void {
    if (this.parser === null) return;
    releaseParser(this.parser);
    this.parser = null;
  }

  /** llhttp: body bytes, so it has passed the head. */
  body(chunk: Buffer): void {
    this.confirmHead();
    this.listener.onBody(chunk);
  }

  /** llhttp: the message is complete, so it has passed the head. */
  messageComplete(): void {
    this.confirmHead();
    this.listener.onRequestEnd();
  }

  /** The head llhttp has gone past goes to the listener. */
  private confirmHead(): void {
    const req = this.unconfirmed;
    if (req === null) return;
    this.unconfirmed = null;
    const upgrade = this.unconfirmedUpgrade;
    const tunnel = this.listener.onRequest(req, upgrade);
    if (upgrade && !tunnel) this.restartPending = true;
  }

  /** llhttp: a message begins. */
  messageBegin(): void {
    // A chunked body's trailers arrive through kOnHeaders (with the finished request's URL)
    // after its head was taken: dropped here (as nginx does), or the next head split over
    // reads would start with them.
    this.forgetHead();
    this.headOpen = true;
    this.lineStart = '';
    this.listener.onHeadBegin();
  }

  /** llhttp: part of a head that came over several reads. */
  headersPart(headers: string[], url: string): void {
    for (const h of headers) this.headers.push(h);
    this.url += url;
  }

  private forgetHead(): void {
    if (this.headers.length > 0) this.headers = [];
    this.url = '';
  }

  /** llhttp: a complete head. */
  headersComplete(major: number, minor: number, headers: string[] | undefined, method: string, url: string | undefined, upgrade: boolean, keepAlive: boolean): void {
    this.headOpen = false;
    this.lineStart = ''; // a trailer's line is the next to be judged
    const raw = headers ?? this.headers;
    let target = url ?? this.url;
    this.headers = [];
    this.url = '';
    // A client that speaks to us as to a forward proxy: routed and forwarded as origin-form, with
    // the target's authority as the Host (RFC 9112 §3.2.2), as nginx does; its own Host headers
    // are still checked (admission).
    const absolute = splitAbsoluteForm(target);
    const t = translateRequest(raw, this.clientAddress(), absolute?.[0]);
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
  }
}
