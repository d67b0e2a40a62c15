// The HTTP/1.1 response sink: a response's framing for the client (Content-Length passed on,
// chunked when the length is unknown, close-delimited for an HTTP/1.0 client) and its
// Connection/Keep-Alive lines. One per client connection, reused by each of its responses (the
// framing of the one being written is all it keeps). The exchange corks the socket around each
// upstream read, so the head and the first body bytes leave in one writev.
import { errorPage, errorResponseHead } from '../http1/error-pages';
import type { ParsedRequest } from '../http1/parsed-request';
import { translateResponse } from '../http1/wire-heads';
import type { ClientSocket } from '../io/client-socket';
import type { ResponseSink } from './response-sink';

const enum Framing { None, Raw, Chunked, Close }

/** What the sink needs of its connection's front. */
export interface SinkFront {
  /** The Connection/Keep-Alive lines of a response on a connection that stays open. */
  readonly keepAliveLines: string;
  /** The Connection: close line of a response that ends its connection (with the worker's header). */
  readonly closeLines: string;
}

/** The client connection whose responses the sink writes (methods, not a closure each per connection). */
export interface SinkOwner {
  /** Destroys the client connection. */
  destroy(): void;
  /** Whether the connection takes another request after answering `req`. */
  mayKeepAlive(req: ParsedRequest): boolean;
}

export class Http1ResponseSink implements ResponseSink {
  private framing = Framing.None;

  constructor(
    private readonly socket: ClientSocket,
    private readonly front: SinkFront,
    private readonly owner: SinkOwner,
  ) {}

  head(req: ParsedRequest, status: number, reason: string, rawHeaders: string[], contentLength: number): boolean {
    let framing: Framing;
    if (req.method === 'HEAD' || status === 204 || status === 304) framing = Framing.None;
    else if (contentLength >= 0) framing = Framing.Raw;
    else if (req.versionMinor >= 1) framing = Framing.Chunked; // close-delimited or chunked upstream
    else framing = Framing.Close; // an HTTP/1.0 client: no chunked, the close ends the body
    this.framing = framing;
    const keep = framing !== Framing.Close && this.owner.mayKeepAlive(req);
    let head = translateResponse(status, reason, rawHeaders);
    if (framing === Framing.Chunked) head += 'Transfer-Encoding: chunked\r\n';
    head += keep ? this.front.keepAliveLines : this.front.closeLines;
    this.socket.write(`${head}\r\n`);
    return keep;
  }

  data(chunk: Buffer): void {
    const socket = this.socket;
    if (this.framing === Framing.Raw || this.framing === Framing.Close) {
      socket.write(chunk);
    } else if (this.framing === Framing.Chunked) {
      socket.write(`${chunk.length.toString(16)}\r\n`);
      socket.write(chunk);
      socket.write('\r\n');
    }
  }

  end(): void {
    if (this.framing === Framing.Chunked) this.socket.write('0\r\n\r\n');
    this.framing = Framing.None;
  }

  abort(): void {
    this.framing = Framing.None;
    this.owner.destroy();
  }

  errorPage(status: number, head: boolean, keepAlive: boolean): void {
    const body = errorPage(status);
    this.socket.cork();
    this.socket.write(errorResponseHead(status, body.length, keepAlive ? this.front.keepAliveLines : this.front.closeLines));
    if (!head) this.socket.write(body);
    this.socket.uncork();
  }
}
