// The HTTP/1 parser as the rest of the proxy sees it: what it reports while it reads a message,
// and how it is driven. One implementation, Node's own llhttp (llhttp.ts); nothing outside
// proxy/http1/ knows which parser it is.

/** What onHeadersComplete returns: how the parser goes on after the head. */
export const enum AfterHead {
  /** Read the body the head announces. */
  Body = 0,
  /** No body, whatever the head says (the answer to a HEAD request). */
  NoBody = 1,
  /** No body, and execute() stops here and returns where the rest begins. */
  Stop = 2,
}

/** The parser's events. Header strings and body chunks are copies: the listener's to keep. */
export interface HttpParserEvents {
  /** The first byte of a message. */
  onMessageBegin(): void;
  /** Part of a head that came over several reads (fields and URL arrive in pieces then). */
  onHeaders(headers: string[], url: string): void;
  /**
   * A complete head. `headers` and `url` are undefined when they came in pieces (onHeaders).
   * `method` is a name from KNOWN_METHODS (requests); `statusCode`/`statusMessage` are responses'.
   * `keepAlive`: HTTP/1.1 without Connection: close, or HTTP/1.0 with keep-alive.
   */
  onHeadersComplete(
    versionMajor: number,
    versionMinor: number,
    headers: string[] | undefined,
    method: string,
    url: string | undefined,
    statusCode: number,
    statusMessage: string,
    upgrade: boolean,
    keepAlive: boolean,
  ): AfterHead;
  onBody(chunk: Buffer): void;
  onMessageComplete(): void;
}

/** A parse failure: `code` names it (HPE_*, as llhttp's), `bytesParsed` where it was found. */
export type ParseError = Error & { code?: string; bytesParsed?: number; reason?: string };

export interface HttpParser {
  /** Starts afresh (strict: no lenient parsing ever) for requests, heads up to `maxHeadBytes`. */
  startRequests(maxHeadBytes: number): void;
  /** Starts afresh for responses, with no limit of its own on the head. */
  startResponses(): void;
  /** Bytes consumed, or what was wrong with them. */
  execute(data: Buffer): number | ParseError;
  /** EOF: completes a close-delimited message, or says one was cut short. */
  finish(): ParseError | undefined;
  /** Kept for reuse by another connection: lets go of what belongs to this one. */
  recycle(): void;
  /** Gone for good; never from inside execute(). */
  close(): void;
}
