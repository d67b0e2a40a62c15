// How an upstream attempt failed, and whether the next server may be tried: nginx's
// proxy_next_upstream default (`error timeout`, `non_idempotent` off).
//  - connect: the server was not reached (refused, unreachable, unresolvable, the connect timed
//    out, or it was given up because the master took the server out): the request never left, so
//    any request may go to the next server;
//  - reset, or a send/read timeout: the request may have reached the server and had effects, so
//    only an idempotent method is tried again;
//  - a request with a body never is: bodies are streamed (proxy_request_buffering off), and what
//    was sent of it cannot be sent again.
import { UpstreamConnectTimeoutError, UpstreamTimeoutError } from './errors';

type FailureKind = 'connect' | 'reset' | 'timeout';

const CONNECT_ERRORS = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'ENOTFOUND', 'EAI_AGAIN']);
const IDEMPOTENT_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

export function failureKind(err: NodeJS.ErrnoException, connecting: boolean): FailureKind {
  if (err instanceof UpstreamTimeoutError) return 'timeout';
  return connecting || CONNECT_ERRORS.has(err.code ?? '') ? 'connect' : 'reset';
}

export function mayTryNextServer(err: NodeJS.ErrnoException, kind: FailureKind, method: string, hasBody: boolean): boolean {
  if (hasBody) return false;
  const reached = kind === 'reset' || (kind === 'timeout' && !(err instanceof UpstreamConnectTimeoutError));
  return !reached || IDEMPOTENT_METHODS.has(method);
}
