// Where an exchange writes its response: the client side's framing, not the exchange's. The HTTP/1
// implementation is http1-response-sink.ts; a client protocol with other framing (HTTP/2) is
// another. One sink serves every response of its connection in turn.
import type { ParsedRequest } from '../http1/parsed-request';

export interface ResponseSink {
  /**
   * The upstream's final response head, for `req`. `contentLength`: the body's length when a
   * Content-Length frames it, else -1. Says whether the connection may serve another request
   * after this response (the client's keep-alive, the framing, a draining worker).
   */
  head(req: ParsedRequest, status: number, reason: string, rawHeaders: string[], contentLength: number): boolean;
  /** Body bytes; the chunk is not kept past the call's write. */
  data(chunk: Buffer): void;
  /** The body is complete. */
  end(): void;
  /** The response cannot be completed: the connection is destroyed, so it never looks complete. */
  abort(): void;
  /** A whole error page (nginx's) with the Connection header that matches what happens next. */
  errorPage(status: number, head: boolean, keepAlive: boolean): void;
}
