// Header rules between client and upstream (RFC 9110 §7.6.1 and nginx's proxy module):
// hop-by-hop headers stop at the proxy; X-Forwarded-* and Via say who forwarded what.

/** Always hop-by-hop, whatever the Connection header says. */
export const HOP_BY_HOP = new Set([
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

/** Handoff's Via token (RFC 9110 §7.6.3: protocol version and a pseudonym). */
export const VIA_TOKEN = '1.1 handoff';

/** Lower-cased header names listed in every Connection header. */
export function connectionTokens(raw: readonly string[]): Set<string> | null {
  let tokens: Set<string> | null = null;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i].length === 10 && raw[i].toLowerCase() === 'connection') {
      for (const t of raw[i + 1].split(',')) {
        const name = t.trim().toLowerCase();
        if (name) (tokens ??= new Set()).add(name);
      }
    }
  }
  return tokens;
}

/** Copies raw header pairs, dropping hop-by-hop ones and those named in Connection. */
export function stripHopByHop(raw: readonly string[]): string[] {
  const named = connectionTokens(raw);
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i].toLowerCase();
    if (HOP_BY_HOP.has(name) || (named !== null && named.has(name))) continue;
    out.push(raw[i], raw[i + 1]);
  }
  return out;
}

export interface ForwardedFacts {
  /** The client's address as the worker sees it (getpeername on the passed fd). */
  readonly clientAddress: string | undefined;
  readonly proto: 'http' | 'https';
}

/**
 * The request headers for the upstream: hop-by-hop removed, X-Forwarded-For appended to
 * (a client's own X-Forwarded-For is kept, as nginx's $proxy_add_x_forwarded_for),
 * X-Forwarded-Proto and X-Forwarded-Host set, Via appended, Host passed through.
 * `bodyIsChunked` re-adds Transfer-Encoding so Node frames a body of unknown length.
 */
export function upstreamRequestHeaders(raw: readonly string[], facts: ForwardedFacts, bodyIsChunked: boolean): string[] {
  const out: string[] = [];
  const named = connectionTokens(raw);
  let forwardedFor: string | null = null;
  let via: string | null = null;
  let host: string | null = null;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i].toLowerCase();
    if (HOP_BY_HOP.has(name) || (named !== null && named.has(name))) continue;
    switch (name) {
      case 'x-forwarded-for':
        forwardedFor = forwardedFor === null ? raw[i + 1] : `${forwardedFor}, ${raw[i + 1]}`;
        continue;
      case 'via':
        via = via === null ? raw[i + 1] : `${via}, ${raw[i + 1]}`;
        continue;
      case 'x-forwarded-proto':
      case 'x-forwarded-host':
        continue; // set by us below: the client cannot choose what the proxy vouches for
      case 'host':
        host = raw[i + 1];
        break;
    }
    out.push(raw[i], raw[i + 1]);
  }
  const client = facts.clientAddress ?? 'unknown';
  out.push('X-Forwarded-For', forwardedFor === null ? client : `${forwardedFor}, ${client}`);
  out.push('X-Forwarded-Proto', facts.proto);
  if (host !== null) out.push('X-Forwarded-Host', host);
  out.push('Via', via === null ? VIA_TOKEN : `${via}, ${VIA_TOKEN}`);
  if (bodyIsChunked) out.push('Transfer-Encoding', 'chunked');
  return out;
}
