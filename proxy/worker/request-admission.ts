// What a request gets before any upstream is involved, in nginx's order: the answers the proxy
// gives itself (400 without Host on HTTP/1.1 or for CONNECT, 404 without a route, 413 over
// limits.maxBodySize by its Content-Length, 417 for an Expect other than 100-continue), or the
// upstream group that serves it.
import type { UpstreamGroup } from '../upstream/upstream-group';
import type { ParsedRequest } from './parsed-request';
import type { Router } from './router';

export type Admission =
  | { readonly status: 0; readonly group: UpstreamGroup }
  /** `close`: the connection cannot serve another request after this answer. */
  | { readonly status: 400 | 404 | 413 | 417; readonly close: boolean };

export function admit(req: ParsedRequest, router: Router, maxBodySize: number): Admission {
  if (req.versionMinor >= 1 && req.t.host === undefined) return { status: 400, close: true }; // as node:http's requireHostHeader
  if (req.method === 'CONNECT') return { status: 400, close: true };
  const group = router.match(req.t.host, req.url);
  // A 404 keeps the connection when no body is left unread (as nginx after a 404).
  if (group === null) return { status: 404, close: req.hasBody && !req.complete };
  if (maxBodySize > 0 && req.t.contentLength > maxBodySize) return { status: 413, close: true };
  if (req.t.expect !== null && req.t.expect !== '100-continue') return { status: 417, close: true };
  return { status: 0, group };
}
