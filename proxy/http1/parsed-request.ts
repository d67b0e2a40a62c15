// A request head as the request parser read it, and how much of its body has come since
// (the client connection counts it, and holds what comes before its exchange starts).
import type { TranslatedRequest } from './wire-heads';

export interface ParsedRequest {
  readonly method: string;
  readonly url: string;
  /** 1; anything else is answered 505 (llhttp also lets HTTP/2.0 through). */
  readonly versionMajor: number;
  readonly versionMinor: number;
  /** llhttp's verdict: HTTP/1.1 without Connection: close, or HTTP/1.0 with keep-alive. */
  readonly keepAlive: boolean;
  readonly rawHeaders: string[];
  readonly t: TranslatedRequest;
  readonly hasBody: boolean;
  complete: boolean;
  /** Body bytes received so far (client_max_body_size). */
  received: number;
  /** Body bytes that arrived before the request's exchange started. */
  buffered: Buffer[] | null;
  /** Date.now() once its head was read: nginx's $request_time runs from here. */
  readonly startedAt: number;
  /**
   * The client address as the access log and the client-address hash see it (nginx's
   * $remote_addr after realip), once the connection has worked it out; null until then.
   */
  clientAddress: string | null;
  /** false once routed to a route with accessLog off: no access-log line. */
  accessLogged: boolean;
}
