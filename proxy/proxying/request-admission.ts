// What a request gets before any upstream is involved, in nginx's order: the answers the proxy
// gives itself, or the upstream group that serves it.
//   400  HTTP/1.1 without Host; more than one Host, or an invalid one; a path that is not one or
//        climbs above the root (request-target.ts); Transfer-Encoding on HTTP/1.0; a
//        Content-Length over 2^53 (not exact as a number; nginx: over 2^63)
//   405  CONNECT (nginx refuses it: this is not a forward proxy), TRACE (nginx refuses it: it
//        would echo the request, cookies and credentials the proxy added included);  505  an HTTP version other than 1.x
//   501  a Transfer-Encoding other than `chunked` alone (the upstream would read a coded body as plain)
//   404  no route;  413  over limits.maxBodySize by its Content-Length;  417  an Expect other than 100-continue
import type { UpstreamGroup } from '../upstream/upstream-group';
import type { ParsedRequest } from '../http1/parsed-request';
import { routeKey } from '../http1/request-target';
import { trimOws } from '../http1/whitespace';
import type { Router } from './router';

export type Admission =
  | { readonly status: 0; readonly group: UpstreamGroup; readonly accessLog: boolean }
  /** `close`: the connection cannot serve another request after this answer. */
  | { readonly status: 400 | 404 | 405 | 413 | 417 | 501 | 505; readonly close: boolean };

/** 505, 400, 405, 501 and 404 in that order, then the body limit (413) and Expect (417). */
export function admit(req: ParsedRequest, router: Router, maxBodySize: number): Admission {
  const t = req.t;
  if (req.versionMajor !== 1) return { status: 505, close: true };
  if (req.versionMinor >= 1 && t.host === undefined) return { status: 400, close: true }; // as node:http's requireHostHeader
  const key = routeKey(t.hostCount, t.host, req.url, t.authority);
  if (key === null) return { status: 400, close: true };
  if (req.method === 'CONNECT') return { status: 405, close: true };
  if (req.method === 'TRACE') return { status: 405, close: req.hasBody && !req.complete };
  const te = t.transferEncoding;
  if (te !== null) {
    if (req.versionMinor === 0) return { status: 400, close: true };
    if (trimOws(te).toLowerCase() !== 'chunked') return { status: 501, close: true };
  }
  if (t.contentLength > Number.MAX_SAFE_INTEGER) return { status: 400, close: true };
  const route = router.match(key.host, key.path);
  // A 404 keeps the connection when no body is left unread (as nginx after a 404).
  if (route === null) return { status: 404, close: req.hasBody && !req.complete };
  if (maxBodySize > 0 && t.contentLength > maxBodySize) return { status: 413, close: true };
  if (t.expect !== null && t.expect !== '100-continue') return { status: 417, close: true };
  return { status: 0, group: route.group, accessLog: route.accessLog };
}
