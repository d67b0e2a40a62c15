// Why an upstream attempt failed, as typed errors with stable codes (failure policy:
// upstream-failure.ts). A socket's own errors (ECONNREFUSED, EHOSTUNREACH...) arrive as Node's
// errno errors and stay so; these are the failures the proxy itself finds.
import { HandoffError } from '../observability/handoff-error';

export abstract class UpstreamError extends HandoffError {
  /**
   * The errno-style name the error log gives the failure ("ECONNRESET: upstream prematurely
   * closed connection ..."), as it gives a socket error its code.
   */
  abstract readonly errnoName: 'ECONNRESET' | 'EPROTO' | 'ETIMEDOUT' | 'ECONNABORTED';
}

/** The upstream closed a connection between responses, or before the response began. */
export class UpstreamClosedError extends UpstreamError {
  readonly code = 'HANDOFF_UPSTREAM_CLOSED';
  readonly errnoName = 'ECONNRESET';
  constructor() {
    super('upstream closed the connection');
  }
}

/** The upstream closed the connection inside a response. */
export class UpstreamPrematureCloseError extends UpstreamError {
  readonly code = 'HANDOFF_UPSTREAM_PREMATURE_CLOSE';
  readonly errnoName = 'ECONNRESET';
  constructor() {
    super('upstream prematurely closed connection');
  }
}

/**
 * The master took the server out (re-resolution found it gone, or its health checks failed)
 * while a connect to it was under way: the connect is given up at once rather than left to its
 * timeout. Nothing was sent, so the request may go to the next server; and it is no failure of
 * the server's (passive health does not count it).
 */
export class UpstreamWithdrawnError extends UpstreamError {
  readonly code = 'HANDOFF_UPSTREAM_WITHDRAWN';
  readonly errnoName = 'ECONNABORTED';
  constructor(why: 'removed' | 'marked down') {
    super(`upstream server was ${why} by the master`);
  }
}

/** The upstream broke HTTP/1.1: an unparsable or unasked-for response, bytes beyond it. */
export class UpstreamProtocolError extends UpstreamError {
  readonly code = 'HANDOFF_UPSTREAM_PROTOCOL';
  readonly errnoName = 'EPROTO';
}

export type UpstreamPhase = 'connecting' | 'sending the request' | 'reading the response' | 'reading the response header';

/** A connect, send or read timeout; `phase` says which, as nginx's "upstream timed out ... while ..." does. */
export abstract class UpstreamTimeoutError extends UpstreamError {
  readonly errnoName = 'ETIMEDOUT';
  constructor(readonly phase: UpstreamPhase) {
    super(`upstream timed out while ${phase}`);
  }

  /** What the error log says it was doing, as nginx's "… while connecting to upstream". */
  get whileDoing(): string {
    return `${this.phase} ${this.phase.startsWith('reading') ? 'from' : 'to'} upstream`;
  }
}

export class UpstreamConnectTimeoutError extends UpstreamTimeoutError {
  readonly code = 'HANDOFF_UPSTREAM_CONNECT_TIMEOUT';
  constructor() {
    super('connecting');
  }
}

export class UpstreamSendTimeoutError extends UpstreamTimeoutError {
  readonly code = 'HANDOFF_UPSTREAM_SEND_TIMEOUT';
  constructor() {
    super('sending the request');
  }
}

export class UpstreamReadTimeoutError extends UpstreamTimeoutError {
  readonly code = 'HANDOFF_UPSTREAM_READ_TIMEOUT';
  /** `phase`: a tunnel's wait for its 101 is "reading the response header". */
  constructor(phase: 'reading the response' | 'reading the response header' = 'reading the response') {
    super(phase);
  }
}

/** The name the error log gives any upstream failure: ours by its errno, a socket's by its code. */
export function errnoOf(err: NodeJS.ErrnoException, otherwise = 'error'): string {
  return err instanceof UpstreamError ? err.errnoName : (err.code ?? otherwise);
}
