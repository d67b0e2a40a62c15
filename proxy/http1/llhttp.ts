// The HttpParser (http-parser.ts) on Node's own llhttp binding, the parser behind node:http, used
// directly so the proxy keeps exactly node:http's strictness on client input (no lenient flag is
// ever set) without paying for IncomingMessage/ServerResponse/ClientRequest around it.
//
// It is reached through `require('_http_common').HTTPParser`: an undocumented export that undici
// used for years and that Node 20, 22 and 24 all keep (documentation-deprecated only, together with
// the other `_http_*` modules). The API used here is the one node:http itself uses on those
// versions: initialize(type, resource, maxHeaderSize, lenientFlags), execute(buffer) -> bytes parsed
// or an Error with `code`, finish(), and the callbacks at the indices HTTPParser.kOn*.
// A Node that drops it cannot run a worker: requireHttpParser() says so at start-up.
import type { AfterHead, HttpParser, HttpParserEvents, ParseError } from './http-parser';

/** The binding's object, as node:http drives it. */
interface LlhttpBinding {
  initialize(type: number, resource: object, maxHeaderSize: number, lenientFlags: number): void;
  execute(data: Buffer): number | ParseError;
  finish(): undefined | ParseError;
  close(): void;
  /** Runs async_hooks' destroy for a parser that is kept rather than deleted (as node:http does). */
  free?: () => void;
  [index: number]: unknown;
}

interface LlhttpBindingClass {
  new (): LlhttpBinding;
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
export const KNOWN_METHODS: readonly string[] = Object.freeze([
  'DELETE', 'GET', 'HEAD', 'POST', 'PUT', 'CONNECT', 'OPTIONS', 'TRACE', 'COPY', 'LOCK', 'MKCOL', 'MOVE',
  'PROPFIND', 'PROPPATCH', 'SEARCH', 'UNLOCK', 'BIND', 'REBIND', 'UNBIND', 'ACL', 'REPORT', 'MKACTIVITY',
  'CHECKOUT', 'MERGE', 'M-SEARCH', 'NOTIFY', 'SUBSCRIBE', 'UNSUBSCRIBE', 'PATCH', 'PURGE', 'MKCALENDAR',
  'LINK', 'UNLINK', 'SOURCE', 'PRI', 'DESCRIBE', 'ANNOUNCE', 'SETUP', 'PLAY', 'PAUSE', 'TEARDOWN',
  'GET_PARAMETER', 'SET_PARAMETER', 'REDIRECT', 'RECORD', 'FLUSH', 'QUERY',
]);

let cached: LlhttpBindingClass | null | undefined;

/** The binding's HTTPParser, or null when this Node does not expose it. */
function loadBinding(): LlhttpBindingClass | null {
  if (cached !== undefined) return cached;
  cached = null;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const common = require('_http_common') as { HTTPParser?: LlhttpBindingClass };
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

/**
 * Throws, naming this Node and what it lacks, when llhttp cannot be reached: a worker checks at
 * start-up, before it takes any connection, rather than failing on the first one.
 */
export function requireHttpParser(): void {
  if (loadBinding() !== null) return;
  throw new Error(
    `Node ${process.version} does not expose llhttp's parser (require('_http_common').HTTPParser with ` +
      'initialize, execute and the kOn* callback indices), which the worker parses HTTP with; run it on Node 20, 22 or 24',
  );
}

class LlhttpParser implements HttpParser {
  private readonly binding: LlhttpBinding;

  constructor(
    private readonly Binding: LlhttpBindingClass,
    private readonly events: HttpParserEvents,
  ) {
    const b = new Binding();
    this.binding = b;
    b[Binding.kOnMessageBegin] = () => events.onMessageBegin();
    b[Binding.kOnHeaders] = (headers: string[], url: string) => events.onHeaders(headers, url);
    b[Binding.kOnHeadersComplete] = (major: number, minor: number, headers: string[] | undefined, method: number | undefined, url: string | undefined, status: number | undefined, reason: string | undefined, upgrade: boolean, keepAlive: boolean): AfterHead =>
      events.onHeadersComplete(major, minor, headers, method === undefined ? '' : (KNOWN_METHODS[method] ?? 'GET'), url, status ?? 0, reason ?? '', upgrade, keepAlive);
    b[Binding.kOnBody] = (chunk: Buffer) => events.onBody(chunk);
    b[Binding.kOnMessageComplete] = () => events.onMessageComplete();
  }

  /** Resets llhttp completely (llhttp_init, limits, a new async id). */
  startRequests(maxHeadBytes: number): void {
    this.binding.initialize(this.Binding.REQUEST, this.events, maxHeadBytes, this.Binding.kLenientNone);
  }

  startResponses(): void {
    this.binding.initialize(this.Binding.RESPONSE, this.events, 0, this.Binding.kLenientNone);
  }

  execute(data: Buffer): number | ParseError {
    return this.binding.execute(data);
  }

  finish(): ParseError | undefined {
    return this.binding.finish();
  }

  recycle(): void {
    this.binding.free?.();
  }

  close(): void {
    this.binding.close();
  }
}

/** A parser on llhttp reporting to `events`; call requireHttpParser() once before. */
export function createHttpParser(events: HttpParserEvents): HttpParser {
  const Binding = loadBinding();
  if (Binding === null) requireHttpParser();
  return new LlhttpParser(Binding!, events);
}

/**
 * Hands a parser's owner back to `pool` for reuse, up to `size` kept: llhttp is recycled (reset,
 * the C++ object kept), and past the bound it is freed. Never from inside execute().
 */
export function returnToPool<T>(pool: T[], owner: T, parser: HttpParser, size: number): void {
  if (pool.length < size) {
    parser.recycle();
    pool.push(owner);
  } else {
    parser.close();
  }
}
