// What a request gets before any upstream is involved, in nginx's order: the answers the proxy
// gives itself, or the upstream group that serves it.
//   400  HTTP/1.1 without Host; more than one Host, or an invalid one; a path that is not one or
//        climbs above the root (request-target.ts); Transfer-Encoding on HTTP/1.0
//   405  CONNECT (nginx refuses it: this is not a forward proxy);  505  an HTTP version other than 1.x
//   501  a Transfer-Encoding other than `chunked` alone (the upstream would read a coded body as plain)
//   404  no route;  413  over limits.maxBodySize by its Content-Length;  417  an Expect other than 100-continue
import type { UpstreamGroup } from '../upstream/upstream-group';
import type { ParsedRequest } from './parsed-request';
import { routeKey } from './request-target';
import type { Router } from './router';

export type Admission =
  | { readonly status: 0; readonly group: UpstreamGroup }
  /** `close`: the connection cannot serve another request after this answer. */
  | { readonly status: 400 | 404 | 405 | 413 | 417 | 501 | 505; readonly close: boolean };

/** The facts of a request head that routing and its refusals depend on, from either engine. */
export interface HeadFacts {
  readonly method: string;
  readonly versionMajor: number;
  readonly versionMinor: number;
  readonly hostCount: number;
  readonly host: string | undefined;
  readonly target: string;
  /** An absolute-form target's authority (see request-target.ts routeKey). */
  readonly authority?: string;
  readonly transferEncoding: string | null;
  /** A body that was not read to its end: a 404 cannot keep the connection then. */
  readonly bodyUnread: boolean;
}

/** 505, 400, 405, 501 and 404 (both engines; node:http has refused a missing Host already). */
export function route(head: HeadFacts, router: Router): Admission {
  if (head.versionMajor !== 1) return { status: 505, close: true };
  if (head.versionMinor >= 1 && head.host === undefined) return { status: 400, close: true }; // as node:http's requireHostHeader
  const key = routeKey(head.hostCount, head.host, head.target, head.authority);
  if (key === null) return { status: 400, close: true };
  if (head.method === 'CONNECT') return { status: 405, close: true };
  const te = head.transferEncoding;
  if (te !== null) {
    if (head.versionMinor === 0) return { status: 400, close: true };
    if (te.trim().toLowerCase() !== 'chunked') return { status: 501, close: true };
  }
  const group = router.match(key.host, key.path);
  // A 404 keeps the connection when no body is left unread (as nginx after a 404).
  return group === null ? { status: 404, close: head.bodyUnread } : { status: 0, group };
}

/** The fast path's admission: route(), then the body limit and Expect. */
export function admit(req: ParsedRequest, router: Router, maxBodySize: number): Admission {
  const t = req.t;
  const routed = route(
    { method: req.method, versionMajor: req.versionMajor, versionMinor: req.versionMinor, hostCount: t.hostCount, host: t.host, target: req.url, authority: t.authority, transferEncoding: t.transferEncoding, bodyUnread: req.hasBody && !req.complete },
    router,
  );
  if (routed.status !== 0) return routed;
  if (maxBodySize > 0 && t.contentLength > maxBodySize) return { status: 413, close: true };
  if (t.expect !== null && t.expect !== '100-continue') return { status: 417, close: true };
  return routed;
}
