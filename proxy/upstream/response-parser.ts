// llhttp in response mode for upstream connections, pooled per worker as the client side's request
// parsers are (request-parser.ts): creating one (a C++ object, an async id, a weak handle) and
// freeing it cost a worker that opens an upstream connection per request more than 1% of its CPU;
// a reused one is only re-initialized.
import { AfterHead, type HttpParser, type HttpParserEvents, type ParseError } from '../http1/http-parser';
import { createHttpParser, returnToPool } from '../http1/llhttp';

/** Parsers kept for reuse: a connection holds one while it lives, so as many as connections close at once. */
const PARSER_POOL_SIZE = 256;

const pool: ResponseParser[] = [];

/** What a connection hears from its parser (http-parser.ts's events, minus what responses lack). */
export type ResponseEvents = Pick<HttpParserEvents, 'onMessageBegin' | 'onHeaders' | 'onBody' | 'onMessageComplete'> & {
  onResponseHeadComplete(headers: string[] | undefined, status: number, reason: string, keepAlive: boolean): AfterHead;
};

export class ResponseParser implements HttpParserEvents {
  private readonly parser: HttpParser = createHttpParser(this);
  private events: ResponseEvents | null = null;

  /** A parser from the pool (or a new one) for `events`, started afresh for responses. */
  static take(events: ResponseEvents): ResponseParser {
    const parser = pool.pop() ?? new ResponseParser();
    parser.events = events;
    parser.parser.startResponses();
    return parser;
  }

  private constructor() {}

  /** Back to the pool (or freed); never from inside execute(). Its connection hears nothing more. */
  release(): void {
    if (this.events === null) return;
    this.events = null;
    returnToPool(pool, this, this.parser, PARSER_POOL_SIZE);
  }

  /** Starts afresh for the next response. */
  restart(): void {
    this.parser.startResponses();
  }

  execute(data: Buffer): number | ParseError {
    return this.parser.execute(data);
  }

  finish(): ParseError | undefined {
    return this.parser.finish();
  }

  onMessageBegin(): void {
    this.events?.onMessageBegin();
  }

  onHeaders(headers: string[], _url: string): void {
    this.events?.onHeaders(headers, '');
  }

  onHeadersComplete(_maj: number, _min: number, headers: string[] | undefined, _method: string, _url: string | undefined, status: number, reason: string, _upgrade: boolean, keepAlive: boolean): AfterHead {
    // A released parser is never executed: Body only satisfies the type.
    return this.events === null ? AfterHead.Body : this.events.onResponseHeadComplete(headers, status, reason, keepAlive);
  }

  onBody(chunk: Buffer): void {
    this.events?.onBody(chunk);
  }

  onMessageComplete(): void {
    this.events?.onMessageComplete();
  }
}
