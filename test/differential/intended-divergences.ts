// Every way Handoff is meant to differ from nginx on the differential corpus, with the reason.
// Reviewed by humans: a divergence not listed here fails nginx-differential.test.ts, and an
// entry that no longer matches any divergence fails it too, so the list stays exactly as long as
// the truth.
import type { Aspect } from './compare';

export interface IntendedDivergence {
  /** The case names it covers. */
  readonly cases: RegExp;
  /** In what the two differ; a case may differ in these and in nothing else. */
  readonly differs: readonly Aspect[];
  /** What Handoff does, next to what nginx does. */
  readonly what: string;
  readonly reason: string;
}

const LLHTTP = "Handoff parses with Node's llhttp in strict mode, which rejects what RFC 9112 lets a server reject; nginx is lenient there";

export const INTENDED_DIVERGENCES: readonly IntendedDivergence[] = [
  // Framing
  {
    cases: /^te\/(?!plain|capitalised|upper|no-space|two-spaces|trailing-space|lower-name)[^/]+\/cl-(first|after)$/,
    differs: ['status'],
    what: 'Content-Length with an odd Transfer-Encoding: Handoff 400, nginx 501',
    reason: 'llhttp refuses Content-Length with any Transfer-Encoding (RFC 9112 §6.1 lets a server); nginx first refuses the coding it does not know',
  },
  {
    cases: /^te\/(chunked-chunked|chunked-identity|form-feed|vertical-tab|trailing-comma|nbsp|tab-after)\/alone$/,
    differs: ['status'],
    what: 'a malformed or non-final chunked Transfer-Encoding: Handoff 400, nginx 501',
    reason: `${LLHTTP}: it refuses the header as malformed before the proxy's 501 for unknown codings`,
  },
  {
    cases: /^te\/two-lines-chunked-last\/alone$/,
    differs: ['status'],
    what: 'Transfer-Encoding on two lines: Handoff 501 (identity, chunked), nginx 400',
    reason: 'Handoff reads the lines as one list (RFC 9110 §5.3) and refuses the coding; nginx refuses a repeated Transfer-Encoding line',
  },
  {
    cases: /^te\/tab-before\/alone$/,
    differs: ['status', 'forwarded'],
    what: 'Transfer-Encoding:<HTAB>chunked: Handoff forwards it, nginx 501',
    reason: 'HTAB is optional whitespace (RFC 9110 §5.6.3); nginx compares the value with only spaces skipped',
  },
  {
    cases: /^(pipeline\/(garbage-second|bad-second-then-good|body-longer-than-cl|get-with-body-and-no-length)|cl\/(too-short|underscore)\/(get|post)|te\/underscore\/(alone|cl-first|cl-after))$/,
    differs: ['status'],
    what: 'a malformed request pipelined behind a good one: Handoff answers the good one and closes, nginx adds a 400',
    reason: 'Handoff finds the error while the earlier request is in flight and closes once its answer is out; the client sees the close (RFC 9112 §9.6) and no answer to the bad bytes',
  },
  {
    cases: /^te\/underscore\/cl-after$/,
    differs: ['forwarded'],
    what: 'a bare LF before a pipelined request line: nginx skips it and forwards the request, Handoff closes',
    reason: `${LLHTTP}; RFC 9112 §2.2 allows ignoring only CRLF before a request line`,
  },
  {
    cases: /^chunk\/(size-trailing-space|size-trailing-tab|extension-space-before|extension-empty|extension-nul|bare-lf-after-data|bare-lf-after-size|bare-lf-lines|trailer-bare-lf|trailer-content-length|trailer-not-a-header|trailer-obs-fold|trailer-transfer-encoding)$/,
    differs: ['status', 'forwarded', 'leftover'],
    what: 'whitespace, bare LF or an odd trailer in a chunked body: Handoff 400, nginx forwards it',
    reason: `${LLHTTP}; the head and the body before the error were already streamed, so the upstream holds an unfinished request, which it never answers`,
  },
  {
    cases: /^chunk\/[^/]+$/,
    differs: ['leftover'],
    what: 'an error in a chunked body: Handoff may have streamed the head upstream already (when its connection was ready first)',
    reason: 'bodies are streamed (as nginx with proxy_request_buffering off): an error in the body comes after the head went out',
  },
  {
    cases: /^chunk\/no-last-chunk-crlf$/,
    differs: ['status', 'close', 'forwarded'],
    what: 'no CRLF after the last chunk: Handoff 400, nginx forwards the body and waits',
    reason: `${LLHTTP}: the next bytes are not the empty line that ends the message`,
  },
  // Syntax
  {
    cases: /^(ws\/header\/(bare-lf-line-end|cr-cr-lf|form-feed-inside|non-ascii-name|vertical-tab-before|vertical-tab-inside)|ws\/request-line\/(all-bare-lf|bare-lf|trailing-space)|te\/bare-lf-before\/alone)$/,
    differs: ['status', 'forwarded'],
    what: 'bare LF or CR, VT, FF, non-ASCII in a header name, a space after the version: Handoff 400, nginx forwards',
    reason: LLHTTP,
  },
  {
    cases: /^ctl\/[a-z0-9-]+\/in-(header-value|header-name|target)$/,
    differs: ['status', 'forwarded'],
    what: 'control bytes in a header value, bytes over 0x7F in a header name or target: Handoff 400, nginx forwards',
    reason: `${LLHTTP} (RFC 9110 §5.5 and RFC 3986 allow neither)`,
  },
  {
    cases: /^ws\/host\/tab-before$/,
    differs: ['status', 'forwarded'],
    what: 'Host:<HTAB>a.test: Handoff forwards it, nginx 400',
    reason: 'HTAB is optional whitespace (RFC 9110 §5.6.3); nginx keeps it as part of the host and refuses it',
  },
  {
    cases: /^(method\/(BREW|G-ET|GET_X|long)|long\/method-100)$/,
    differs: ['status', 'forwarded'],
    what: 'a method llhttp does not know: Handoff 400, nginx forwards it',
    reason: "llhttp parses a fixed list of methods (README: Behaviour)",
  },
  {
    cases: /^version\/(1\.2|1\.9|1\.10)\/with-host$/,
    differs: ['status', 'forwarded'],
    what: 'HTTP/1.2, 1.9, 1.10: Handoff 400, nginx serves them as 1.1',
    reason: `${LLHTTP}: it accepts HTTP/1.0 and 1.1 only`,
  },
  {
    cases: /^version\/(0\.9|3\.0|9\.9)\/with(out)?-host$/,
    differs: ['status'],
    what: 'HTTP/0.9 with a version: Handoff 505, nginx 400; HTTP/3.0, 9.9: Handoff 400, nginx 505',
    reason: 'both refuse; llhttp tells the versions apart differently',
  },
  {
    cases: /^version\/none$/,
    differs: ['status', 'forwarded'],
    what: 'a request line without a version: Handoff 505, nginx serves it as HTTP/0.9 (a body without a status line)',
    reason: 'HTTP/0.9 is not served',
  },
  {
    cases: /^absolute\/(same-host|other-host|with-port|https|upper-scheme|no-path|query-only|userinfo|dot-segments|ipv6|bad-port|empty-port|trailing-dot|fragment|http10-no-host)$/,
    differs: ['headers'],
    what: "absolute-form: Handoff sends the target's authority as Host, nginx (Host $http_host) the client's Host",
    reason: 'RFC 9112 §3.2.2: a server must ignore Host and use the authority of an absolute-form target',
  },
  {
    cases: /^absolute\/ftp$/,
    differs: ['status', 'forwarded'],
    what: 'an ftp:// target: Handoff 400, nginx forwards it',
    reason: 'Handoff proxies http and https URIs only',
  },
  {
    cases: /^host\/(upper|trailing-dot|empty-port)$/,
    differs: ['headers'],
    what: 'Host in another spelling (A.TEST, a.test., a.test:): Handoff forwards it lower-cased, without the dot or the empty port; nginx (Host $http_host) as sent',
    reason: 'what the proxy routed on is what the upstream gets, in one spelling, so a lenient upstream cannot read another host than the proxy did',
  },
  {
    cases: /^(host\/(bad-port|two-ports)|absolute\/bad-port)$/,
    differs: ['status', 'forwarded'],
    what: 'a Host or authority port that is not a number up to 65535: Handoff 400, nginx forwards it',
    reason: 'RFC 9110 §4.2.1 and §7.2: the port is digits; an upstream could read "a.test:80:80" or "a.test:abc" as another host or port than the one routed',
  },
  {
    cases: /^version\/1\.0\/(without-host|no-host-body)$/,
    differs: ['headers'],
    what: "HTTP/1.0 without Host: Handoff sends Host: <the upstream's name>, nginx (Host $http_host) none",
    reason: "the upstream request is HTTP/1.1, which requires Host (RFC 9112 §3.2); nginx's default proxy_set_header Host $proxy_host sends the upstream's name too",
  },
  {
    cases: /^absolute\/underscore$/,
    differs: ['status', 'forwarded'],
    what: "an '_' in an absolute-form host: Handoff forwards it, nginx 400",
    reason: "a valid reg-name (RFC 3986 §3.2.2); nginx's request-line host parser refuses '_'",
  },
  {
    cases: /^long\/(target-(8300|16000|32700)|query-20000|header-value-(8300|16000|32700)|header-name-9000|1000-headers)$/,
    differs: ['status', 'forwarded'],
    what: 'a line over 8 KiB in a head under 32 KiB: Handoff forwards it, nginx 414 or 400',
    reason: "Handoff's one limit is 32 KiB for the whole head; nginx's large_client_header_buffers also caps each line at one 8 KiB buffer (README: Behaviour)",
  },
  {
    cases: /^long\/(header-value-(33000|66000)|header-name-33000)$/,
    differs: ['status'],
    what: 'headers over 32 KiB: Handoff 431, nginx 400',
    reason: 'RFC 6585 §5 has a status for it; nginx predates it',
  },
  // Hop-by-hop headers
  {
    cases: /^(connection\/(names-x-header|two-lines|proxy-connection|proxy-authorization)|upgrade\/h2c)$/,
    differs: ['headers'],
    what: 'headers named in Connection, Proxy-Connection and Proxy-Authorization: Handoff removes them, nginx forwards them',
    reason: 'they are hop-by-hop (RFC 9110 §7.6.1, §11.7.2); nginx does not read Connection tokens',
  },
  // Expect and Upgrade
  {
    cases: /^expect\/(unknown|100-continue-and-more)$/,
    differs: ['status', 'forwarded'],
    what: 'an expectation other than 100-continue: Handoff 417, nginx forwards the request',
    reason: 'RFC 9110 §10.1.1: a server that does not meet an expectation answers 417',
  },
  {
    cases: /^expect\/two-lines$/,
    differs: ['status', 'forwarded'],
    what: 'Expect: 100-continue twice: Handoff 100 then forwards, nginx 400',
    reason: 'the same expectation twice is still one (RFC 9110 §5.3); nginx refuses a repeated Expect',
  },
  {
    cases: /^expect\/100-continue-no-body$/,
    differs: ['status'],
    what: 'Expect: 100-continue without a body: nginx sends 100 Continue, Handoff does not',
    reason: 'there is no body to continue with (RFC 9110 §10.1.1 lets a server skip the 100)',
  },
  {
    cases: /^upgrade\/websocket$/,
    differs: ['close'],
    what: 'a WebSocket upgrade the upstream declines (200): Handoff closes after the answer, nginx keeps the connection',
    reason: 'the upgrade is proxied on its own upstream request, whose connection is not pooled; the answer says Connection: close',
  },
  {
    cases: /^upgrade\/websocket-with-body$/,
    differs: ['status', 'forwarded', 'leftover', 'close', 'headers', 'body'],
    what: "an upgrade request's body: Handoff sends it only after a 101, nginx with the request",
    reason: 'a known limit (README: Behaviour); WebSocket handshakes have no body',
  },
  {
    cases: /^upgrade\/websocket-without-connection$/,
    differs: ['headers'],
    what: 'Upgrade: websocket without Connection: upgrade: Handoff drops it, nginx (proxy_set_header Upgrade $http_upgrade) forwards it',
    reason: 'Upgrade is hop-by-hop and means nothing unless Connection names it (RFC 9110 §7.8)',
  },
  {
    cases: /^upgrade\/h2c-with-body$/,
    differs: ['status', 'forwarded'],
    what: 'an h2c upgrade with a body: Handoff 400, nginx forwards it without the Upgrade',
    reason: 'llhttp would not parse that body reliably after an upgrade (README: Behaviour)',
  },
];
