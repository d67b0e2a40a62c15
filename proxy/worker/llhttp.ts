// Node's own llhttp binding, the parser behind node:http, used directly so the fast path keeps
// exactly node:http's strictness on client input (no lenient flags are ever set) without paying for
// IncomingMessage/ServerResponse/ClientRequest around it.
//
// It is reached through `require('_http_common').HTTPParser`: an undocumented export that undici
// used for years and that Node 20, 22 and 24 all keep (documentation-deprecated only, together with
// the other `_http_*` modules). The API used here is the one node:http itself uses on those
// versions: initialize(type, resource, maxHeaderSize, lenientFlags), execute(buffer) -> bytes parsed
// or an Error with `code`, finish(), and the callbacks at the indices HTTPParser.kOn*.
// If a future Node drops it, `loadHttpParser()` returns null and the worker falls back to node:http.

/** kOnHeadersComplete: (versionMajor, versionMinor, headers?, method?, url?, statusCode?, statusMessage?, upgrade, shouldKeepAlive) */
export type HeadersCompleteCallback = (
  versionMajor: number,
  versionMinor: number,
  headers: string[] | undefined,
  method: number | undefined,
  url: string | undefined,
  statusCode: number | undefined,
  statusMessage: string | undefined,
  upgrade: boolean,
  shouldKeepAlive: boolean,
) => number;

export interface HttpParser {
  initialize(type: number, resource: object, maxHeaderSize: number, lenientFlags: number): void;
  /** Bytes consumed, or an Error (code HPE_*, bytesParsed) for malformed input. */
  execute(data: Buffer): number | (Error & { code?: string; bytesParsed?: number; reason?: string });
  /** Signals EOF: completes a close-delimited message, or returns an Error if one was cut short. */
  finish(): undefined | (Error & { code?: string });
  close(): void;
  [index: number]: unknown;
}

export interface HttpParserClass {
  new (): HttpParser;
  readonly REQUEST: number;
  readonly RESPONSE: number;
  readonly kOnMessageBegin: number;
  readonly kOnHeaders: number;
  readonly kOnHeadersComplete: number;
  readonly kOnBody: number;
  readonly kOnMessageComplete: number;
  readonly kLenientNone: number;
}

/**
 * llhttp's method enum (HTTP_ALL_METHOD_MAP), indexed by the number the parser reports. These values
 * are llhttp's ABI and only ever grow; node:http's own `allMethods` is the same list, but is not
 * exported from `_http_common`.
 */
export const LLHTTP_METHODS: readonly string[] = Object.freeze([
  'DELETE', 'GET', 'HEAD', 'POST', 'PUT', 'CONNECT', 'OPTIONS', 'TRACE', 'COPY', 'LOCK', 'MKCOL', 'MOVE',
  'PROPFIND', 'PROPPATCH', 'SEARCH', 'UNLOCK', 'BIND', 'REBIND', 'UNBIND', 'ACL', 'REPORT', 'MKACTIVITY',
  'CHECKOUT', 'MERGE', 'M-SEARCH', 'NOTIFY', 'SUBSCRIBE', 'UNSUBSCRIBE', 'PATCH', 'PURGE', 'MKCALENDAR',
  'LINK', 'UNLINK', 'SOURCE', 'PRI', 'DESCRIBE', 'ANNOUNCE', 'SETUP', 'PLAY', 'PAUSE', 'TEARDOWN',
  'GET_PARAMETER', 'SET_PARAMETER', 'REDIRECT', 'RECORD', 'FLUSH', 'QUERY',
]);

let cached: HttpParserClass | null | undefined;

/** The binding's HTTPParser, or null when this Node does not expose it (the caller falls back). */
export function loadHttpParser(): HttpParserClass | null {
  if (cached !== undefined) return cached;
  cached = null;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const common = require('_http_common') as { HTTPParser?: HttpParserClass };
    const P = common.HTTPParser;
    if (
      typeof P === 'function' &&
      typeof P.REQUEST === 'number' &&
      typeof P.RESPONSE === 'number' &&
      typeof P.kOnHeadersComplete === 'number' &&
      typeof P.kOnMessageBegin === 'number' &&
      typeof P.prototype.execute === 'function' &&
      typeof P.prototype.initialize === 'function'
    ) {
      cached = P;
    }
  } catch {
    // not exposed: stay null
  }
  return cached;
}
