// Header rules between client and upstream (RFC 9110 §7.6.1 and nginx's proxy module):
// hop-by-hop headers stop at the proxy; X-Forwarded-* and Via say who forwarded what; the
// message's framing and its Host are never the client's bytes but written by the proxy from what
// it parsed and validated (wire-heads.ts, proxy-exchange.ts), so an upstream cannot read another
// request boundary or another host out of them than the proxy did.
import { canonicalHost } from './request-target';
import { trimOws } from './whitespace';

/** Always hop-by-hop, whatever the Connection header says. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'proxy-authorization',
  'proxy-connection',
  // Not hop-by-hop by the RFC, but the proxy already answered any 100-continue itself
  // (Node's server does), so forwarding it would make the upstream send a second 100.
  'expect',
]);

/**
 * Never removed because a Connection header names them: the message's length and its Host are
 * what both ends frame and route by. A client that lists Content-Length in Connection would
 * otherwise send its body to the upstream with no length — the body read as the next request
 * (smuggled past the proxy's routing and X-Forwarded-For) — and one that lists Host would reach
 * the upstream without the Host the proxy routed on. nginx honours no Connection tokens at all.
 */
const NEVER_NAMED_AWAY = new Set(['content-length', 'host']);

/** Handoff's Via token (RFC 9110 §7.6.3: protocol version and a pseudonym). */
export const VIA_TOKEN = '1.1 handoff';

/** Lower-cased header names listed in every Connection header. */
export function connectionTokens(raw: readonly string[]): Set<string> | null {
  let tokens: Set<string> | null = null;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i].length === 10 && raw[i].toLowerCase() === 'connection') {
      for (const t of raw[i + 1].split(',')) {
        const name = trimOws(t).toLowerCase();
        if (name) (tokens ??= new Set()).add(name);
      }
    }
  }
  return tokens;
}

/** Hop-by-hop: always (HOP_BY_HOP), or named in this message's Connection header (framing and Host excepted). */
export function isHopByHop(lowerName: string, named: ReadonlySet<string> | null): boolean {
  return HOP_BY_HOP.has(lowerName) || (named !== null && named.has(lowerName) && !NEVER_NAMED_AWAY.has(lowerName));
}

/**
 * Upstream response headers the client does not get, as nginx's proxy_hide_header defaults: the
 * proxy answers for the response with its own Server and Date (the backend's software and clock
 * are its own business), and X-Accel-* / X-Pad are instructions to a proxy, not to clients.
 */
export function isHiddenResponseHeader(lowerName: string): boolean {
  switch (lowerName) {
    case 'server':
    case 'date':
    case 'x-pad':
      return true;
    default:
      return lowerName.startsWith('x-accel-');
  }
}

/** A response's raw header pairs as the client gets them: without hop-by-hop and hidden headers. */
export function clientResponseHeaders(raw: readonly string[]): string[] {
  const named = connectionTokens(raw);
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i].toLowerCase();
    if (isHopByHop(name, named) || isHiddenResponseHeader(name)) continue;
    out.push(raw[i], raw[i + 1]);
  }
  return out;
}

/** The characters of a header name nginx takes (lower-cased): letters, digits and `-`. */
const PLAIN_NAME_CHAR = new Uint8Array(128);
for (let c = 0; c < 128; c++) PLAIN_NAME_CHAR[c] = (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2d ? 1 : 0;

/**
 * Whether nginx takes a request header by this (lower-cased) name: letters, digits and `-` only
 * (its defaults `ignore_invalid_headers on`, `underscores_in_headers off`). Any other token
 * character is dropped with its header: CGI-style backends read `Content_Length` or
 * `X_Forwarded_For` as CONTENT_LENGTH and HTTP_X_FORWARDED_FOR, the very headers the proxy frames
 * and vouches for, and `X.Forwarded.For` likewise in some frameworks.
 */
export function isPlainHeaderName(lowerName: string): boolean {
  for (let i = 0; i < lowerName.length; i++) {
    if (PLAIN_NAME_CHAR[lowerName.charCodeAt(i)] !== 1) return false; // (above 127: undefined)
  }
  return lowerName.length > 0;
}

/**
 * The request header rules, in one pass: every header the upstream gets goes to `emit`, in
 * order — headers nginx ignores (isPlainHeaderName) and hop-by-hop ones removed, X-Forwarded-For
 * appended to (a client's own is kept, as nginx's $proxy_add_x_forwarded_for), X-Forwarded-Proto
 * and X-Forwarded-Host set (the client cannot choose what the proxy vouches for), Via appended.
 * Host and Content-Length are not emitted: the caller writes them once, canonical (the framing
 * from the parsed length, Host from the return value).
 * `inspect`, when given, sees every header nginx would take (lower-cased name), dropped or not.
 * `authority`: an absolute-form target's, which replaces the client's Host (RFC 9112 §3.2.2).
 * Returns the Host the upstream gets (canonicalHost): undefined without one, or an invalid one
 * (admission answers that request 400 before anything is sent).
 */
export function forwardRequestHeaders(
  raw: readonly string[],
  clientAddress: string | undefined,
  emit: (name: string, value: string) => void,
  inspect?: (lowerName: string, value: string) => void,
  authority?: string,
): string | undefined {
  const named = connectionTokens(raw);
  let forwardedFor: string | null = null;
  let via: string | null = null;
  let host: string | undefined = authority;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i].toLowerCase();
    if (!isPlainHeaderName(name)) continue;
    const value = raw[i + 1];
    inspect?.(name, value);
    switch (name) {
      case 'x-forwarded-for':
        forwardedFor = forwardedFor === null ? value : `${forwardedFor}, ${value}`;
        continue;
      case 'via':
        via = via === null ? value : `${via}, ${value}`;
        continue;
      case 'x-forwarded-proto':
      case 'x-forwarded-host':
      case 'content-length':
        continue;
      case 'host':
        host ??= value;
        continue;
    }
    if (isHopByHop(name, named)) continue;
    emit(raw[i], value);
  }
  const upstreamHost = host === undefined ? undefined : (canonicalHost(host) ?? undefined);
  // The TCP peer, even when realIp has named another client: X-Forwarded-For is the list of hops,
  // each proxy appending the one it saw, and the hop this proxy saw is its peer. (nginx's
  // $proxy_add_x_forwarded_for appends $remote_addr, which realip has rewritten, so a trusted
  // proxy's own address drops out of the list; appending the client named by the header
  // twice would tell the upstream nothing new and lose the hop.)
  const client = clientAddress ?? 'unknown';
  emit('X-Forwarded-For', forwardedFor === null ? client : `${forwardedFor}, ${client}`);
  // Listeners speak plain HTTP; TLS would end in front of the proxy.
  emit('X-Forwarded-Proto', 'http');
  if (upstreamHost !== undefined) emit('X-Forwarded-Host', upstreamHost);
  emit('Via', via === null ? VIA_TOKEN : `${via}, ${VIA_TOKEN}`);
  return upstreamHost;
}

/**
 * The request headers as raw pairs, for an upgrade's http.request (proxy-upgrade.ts): `host`
 * first (the request's canonical Host, or the upstream's name without one), then the rest as
 * forwardRequestHeaders has them. Upgrades carry no body (a request asking for one with a body is
 * refused), so no framing header.
 */
export function upstreamRequestHeaders(raw: readonly string[], clientAddress: string | undefined, host: string, authority?: string): string[] {
  const out: string[] = ['Host', host];
  forwardRequestHeaders(raw, clientAddress, (name, value) => void out.push(name, value), undefined, authority);
  return out;
}

/**
 * Whether a request offering `upgrade` (its Upgrade header) is tunnelled: every protocol it
 * offers, by name and without a version, is one the config allows. Otherwise it is served as a
 * plain request and the upstream never sees the Upgrade (it is hop-by-hop): an upstream that
 * speaks h2c cannot switch to it, and so cannot take HTTP/2 requests past the routes.
 */
export function tunnelsUpgrade(upgrade: string | undefined, allowed: readonly string[]): boolean {
  if (upgrade === undefined || allowed.length === 0) return false;
  let offered = 0;
  for (const item of upgrade.split(',')) {
    const product = trimOws(item);
    if (product === '') continue;
    const slash = product.indexOf('/');
    const name = (slash === -1 ? product : product.slice(0, slash)).toLowerCase();
    if (!allowed.includes(name)) return false;
    offered++;
  }
  return offered > 0;
}
