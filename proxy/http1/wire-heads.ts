// Request and response heads as wire text: requests through the header rules
// (headers.ts, forwardRequestHeaders), responses with hop-by-hop and hidden headers dropped.
// Header names and values are llhttp's latin1 strings and are written back as latin1: llhttp
// (strict) has already taken the OWS around each value off, and refused obs-fold, bare CR and
// controls, so a value goes out as `Name: value` with nothing a lenient upstream could read as a
// line end or a continuation. A request's framing line is the proxy's own, from the parsed length.
import http from 'node:http';
import { connectionTokens, forwardRequestHeaders, isHiddenResponseHeader, isHopByHop } from './headers';
import { httpDate } from './http-date';

/** What the proxy needs to know about a client's request head, read in the same pass. */
export interface TranslatedRequest {
  /**
   * The upstream's header block: "Name: value\r\n" lines, ending with the framing line the proxy
   * writes (`Content-Length: <the parsed number>` or `Transfer-Encoding: chunked`), without the
   * request line, Host, Connection or the final CRLF.
   */
  readonly headerLines: string;
  /** The client's Host as sent (the first one), for the checks and the error log. */
  readonly host: string | undefined;
  /** The Host the upstream gets: canonicalHost of the absolute-form authority or the client's Host; undefined without one. */
  readonly upstreamHost: string | undefined;
  /** How many Host headers the client sent (more than one is a 400). */
  readonly hostCount: number;
  /** The declared Content-Length, or -1. */
  readonly contentLength: number;
  readonly chunked: boolean;
  /** The Transfer-Encoding header as sent (anything but `chunked` alone is a 501), or null. */
  readonly transferEncoding: string | null;
  /** The Expect header, lower-cased, or null. */
  readonly expect: string | null;
  readonly referer: string | undefined;
  readonly userAgent: string | undefined;
  /** The Upgrade header (for a WebSocket handshake). */
  readonly upgrade: string | undefined;
  /** An absolute-form target's authority: the upstream's Host (`host` stays the client's, for the checks). */
  readonly authority: string | undefined;
}

export function translateRequest(raw: readonly string[], clientAddress: string | undefined, authority?: string): TranslatedRequest {
  let lines = '';
  let host: string | undefined;
  let hostCount = 0;
  let contentLength = -1;
  let chunked = false;
  let transferEncoding: string | null = null;
  let expect: string | null = null;
  let referer: string | undefined;
  let userAgent: string | undefined;
  let upgrade: string | undefined;
  const upstreamHost = forwardRequestHeaders(
    raw,
    clientAddress,
    (name, value) => void (lines += `${name}: ${value}\r\n`),
    (name, value) => {
      switch (name) {
        case 'host':
          if (hostCount++ === 0) host = value;
          break;
        case 'content-length':
          contentLength = Number(value);
          break;
        case 'transfer-encoding':
          chunked = true; // llhttp accepted it, so chunked is the final coding
          transferEncoding = transferEncoding === null ? value : `${transferEncoding}, ${value}`;
          break;
        case 'expect':
          expect = value.toLowerCase();
          break;
        case 'upgrade':
          // Repeated lines are one list (as node:http joins them): all of it decides a tunnel.
          upgrade = upgrade === undefined ? value : `${upgrade}, ${value}`;
          break;
        case 'referer':
          referer = value;
          break;
        case 'user-agent':
          userAgent = value;
          break;
      }
    },
    authority,
  );
  // Over 2^53 the number is not exact (and no body is that long): admission refuses it.
  if (chunked) lines += 'Transfer-Encoding: chunked\r\n';
  else if (contentLength >= 0) lines += `Content-Length: ${contentLength}\r\n`;
  return { headerLines: lines, host, upstreamHost, hostCount, contentLength, chunked, transferEncoding, expect, referer, userAgent, upgrade, authority };
}

/**
 * The head the upstream gets: HTTP/1.1, one Host first (the client's in canonical form, or
 * `hostWhenNone`, the upstream's name as nginx's $proxy_host, for a request that had none), the
 * translated header block with the framing in the proxy's own spelling at its end, keep-alive.
 */
export function upstreamRequestHead(method: string, url: string, t: TranslatedRequest, hostWhenNone: string): string {
  return `${method} ${url} HTTP/1.1\r\nHost: ${t.upstreamHost ?? hostWhenNone}\r\n${t.headerLines}Connection: keep-alive\r\n\r\n`;
}

/**
 * An upstream response head as the client will get it: the status line, the proxy's Server and
 * Date, and the end-to-end headers (hop-by-hop and hidden ones dropped, headers.ts), without
 * Connection/framing lines or the final CRLF.
 */
export function translateResponse(status: number, reason: string, raw: readonly string[]): string {
  const named = connectionTokens(raw);
  let head = `HTTP/1.1 ${status} ${reason || http.STATUS_CODES[status] || 'Unknown'}\r\nServer: handoff\r\nDate: ${httpDate()}\r\n`;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i].toLowerCase();
    if (isHopByHop(name, named) || isHiddenResponseHeader(name)) continue;
    head += `${raw[i]}: ${raw[i + 1]}\r\n`;
  }
  return head;
}
