// What a request's Host and target mean for routing, read as nginx reads them before it matches
// server_name and location: one valid Host (ngx_http_validate_host), and the path with %XX
// decoded, slashes merged and `.`/`..` resolved (ngx_http_parse_complex_uri). Routing on the
// raw target would let `/public/../admin`, `/%61dmin` or `//admin` reach the `/` route's
// upstream while that upstream itself reads them as `/admin` — a way around a route that keeps
// `/admin` apart. The target is still forwarded as the client sent it (nginx's proxy_pass
// without a URI does the same).

/** Where a request is routed: its Host as a name ('' without one) and its normalised path. */
export interface RouteKey {
  readonly host: string;
  readonly path: string;
}

/**
 * The route key of a request, or null when nginx would answer 400: more than one Host, a Host
 * that is not a host name (empty, `/`, controls, spaces, `..`), or a path that is not one or
 * climbs above the root. `authority`: an absolute-form target's, which names the host instead
 * (the Host headers are still checked, as nginx checks them); with userinfo (`user@`) it is a 400.
 */
export function routeKey(hostCount: number, host: string | undefined, target: string, authority?: string): RouteKey | null {
  if (hostCount > 1) return null;
  let name = host === undefined ? '' : hostName(host);
  if (name === null) return null;
  if (authority !== undefined) {
    name = authority.includes('@') ? null : hostName(authority);
    if (name === null) return null;
  }
  const path = normalisedPath(target);
  return path === null ? null : { host: name, path };
}

/** Lower-cased, without the port and one trailing dot; null: invalid (nginx's ngx_http_validate_host, and a port of digits). */
export function hostName(value: string): string | null {
  const nameEnd = hostNameEnd(value);
  return nameEnd < 0 ? null : value.slice(0, nameEnd).toLowerCase();
}

/**
 * The Host the upstream gets: the validated name, lower-cased and without its trailing dot, and
 * the port as a decimal number when one was given; null when invalid. One spelling for every way
 * a client may write the same host (`A.Test.:080`), so the upstream cannot read a different host
 * out of it than the one the proxy routed on. A value already in that form is returned as it is
 * (no new string on the common path).
 */
export function canonicalHost(value: string): string | null {
  const nameEnd = hostNameEnd(value);
  if (nameEnd < 0) return null;
  const raw = value.slice(0, nameEnd);
  const name = raw.toLowerCase();
  let colon = nameEnd;
  if (value.charCodeAt(colon) === 0x2e /* . */) colon++; // the trailing dot
  if (colon >= value.length - 1) return name; // no port, or an empty one
  const leadingZero = value.charCodeAt(colon + 1) === 0x30 /* 0 */ && colon + 2 < value.length;
  if (name === raw && colon === nameEnd && !leadingZero) return value;
  return `${name}:${leadingZero ? Number(value.slice(colon + 1)) : value.slice(colon + 1)}`;
}

/** Whether `value` from `from` on is a port: up to five digits, no greater than 65535 (RFC 9110 §4.2.1: port = *DIGIT). */
function isPort(value: string, from: number): boolean {
  if (value.length - from > 5) return false;
  let port = 0;
  for (let i = from; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
    port = port * 10 + (c - 0x30);
  }
  return port <= 65535;
}

/**
 * Where the name of a Host value ends (one trailing dot left out), or -1 when the value is
 * invalid: what nginx refuses (a `/`, controls, spaces, `..`, nothing before the port), and
 * anything but a port of digits after the name's colon (nginx lets that through; RFC 9110 does not).
 */
function hostNameEnd(value: string): number {
  let end = value.length;
  let lastDot = -2;
  let literal = false;
  let rest = false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 0x2e /* . */) {
      if (lastDot === i - 1) return -1;
      lastDot = i;
    } else if (c === 0x3a /* : */) {
      if (!literal && !rest) {
        end = i;
        rest = true;
      }
    } else if (c === 0x5b /* [ */) {
      if (i === 0) literal = true;
    } else if (c === 0x5d /* ] */) {
      if (literal && !rest) {
        end = i + 1;
        literal = false;
        rest = true;
      }
    } else if (c === 0x2f /* / */ || c <= 0x20 || c === 0x7f) {
      return -1;
    }
  }
  // After the name: nothing, or a colon and the port.
  if (end < value.length && (value.charCodeAt(end) !== 0x3a /* : */ || !isPort(value, end + 1))) return -1;
  let nameEnd = end;
  if (lastDot === nameEnd - 1) nameEnd--;
  return nameEnd <= 0 ? -1 : nameEnd;
}

/** Anything that may need normalising: a %, a dot segment, a doubled slash. */
const NEEDS_WORK = /%|\/\.|\/\//;

/** Where the path ends: at a query or a fragment. */
const PATH_END = /[?#]/;

/** The target's path as nginx matches locations; null: not an origin-form path, or above the root. */
export function normalisedPath(target: string): string | null {
  const end = target.search(PATH_END);
  const path = end === -1 ? target : target.slice(0, end);
  if (path.charCodeAt(0) !== 0x2f /* / */) return null;
  if (!NEEDS_WORK.test(path)) return path;
  let decoded: string;
  try {
    decoded = percentDecoded(path);
  } catch {
    return null;
  }
  const segments: string[] = [];
  const parts = decoded.split('/');
  for (let i = 1; i < parts.length; i++) {
    const part = parts[i];
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (segments.length === 0) return null;
      segments.pop();
    } else {
      segments.push(part);
    }
  }
  const last = parts[parts.length - 1];
  const trailingSlash = segments.length > 0 && (last === '' || last === '.' || last === '..');
  return `/${segments.join('/')}${trailingSlash ? '/' : ''}`;
}

/** %XX decoded byte for byte (latin1, as llhttp hands the target over); throws on a bad % or a NUL. */
function percentDecoded(path: string): string {
  if (path.indexOf('%') === -1) return path;
  let out = '';
  for (let i = 0; i < path.length; i++) {
    const c = path[i];
    if (c !== '%') {
      out += c;
      continue;
    }
    const byte = Number.parseInt(path.slice(i + 1, i + 3), 16);
    if (!/^[0-9a-fA-F]{2}$/.test(path.slice(i + 1, i + 3)) || byte === 0) throw new Error('bad escape');
    out += String.fromCharCode(byte);
    i += 2;
  }
  return out;
}

/**
 * An absolute-form target (`http://host[:port]/path?query`, which clients send to proxies) as
 * [authority, origin-form target]; null for any other form. RFC 9112 §3.2.2: its authority
 * replaces the Host header.
 */
export function splitAbsoluteForm(target: string): [string, string] | null {
  if (target.charCodeAt(0) === 0x2f /* / */) return null;
  const m = /^https?:\/\/([^/?#]*)(.*)$/i.exec(target);
  if (m === null) return null;
  const rest = m[2];
  return [m[1], rest === '' ? '/' : rest.charCodeAt(0) === 0x2f /* / */ ? rest : `/${rest}`];
}
