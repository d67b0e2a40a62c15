// Value parsers for the config's scalar formats: durations, sizes, hosts, "host:port" addresses
// and route matches. Each returns the parsed value or throws InvalidValue with the message;
// Checker.parse turns that into a problem at the field's path.

import * as net from 'net';
import { InvalidValue, describeValue } from './errors';
import { normalisedPath } from '../http1/request-target';

const DURATION_UNITS = new Map([['ms', 1], ['s', 1000], ['m', 60_000], ['h', 3_600_000], ['d', 86_400_000]]);
const DURATION_EXPECTED = 'expected a duration like "500ms", "60s", "5m", "1h" or a number of milliseconds';
/** setTimeout silently turns anything above 2^31-1 ms (~24.8 days) into 1 ms; refuse instead. */
export const MAX_DURATION_MS = 2 ** 31 - 1;

/** Milliseconds from a number (ms) or an nginx-style string: "500ms", "60s", "5m", "1h", "1d", "1m 30s". */
export function parseDuration(value: unknown): number {
  let ms: number;
  if (typeof value === 'number' && Number.isInteger(value)) ms = value;
  else if (typeof value === 'string') ms = parseDurationString(value);
  else throw new InvalidValue(`${DURATION_EXPECTED}, got ${describeValue(value)}`);
  if (ms <= 0) throw new InvalidValue(`must be greater than 0, got ${describeValue(value)}`);
  if (ms > MAX_DURATION_MS) throw new InvalidValue(`must be at most ${MAX_DURATION_MS} ms (about 24 days), got ${describeValue(value)}`);
  return ms;
}

function parseDurationString(text: string): number {
  const trimmed = text.trim();
  // nginx reads a bare "60" as seconds, JSON numbers here are milliseconds: make the user pick.
  if (/^\d+$/.test(trimmed)) {
    throw new InvalidValue(`duration "${text}" has no unit; write "${trimmed}s" for seconds or the number ${trimmed} for milliseconds`);
  }
  if (trimmed === '') throw new InvalidValue(`${DURATION_EXPECTED}, got ""`);
  let total = 0;
  for (let rest = trimmed; rest !== '';) {
    const part = /^(\d+)\s*([A-Za-z]+)\s*/.exec(rest);
    if (part === null) throw new InvalidValue(`${DURATION_EXPECTED}, got ${describeValue(text)}`);
    const unit = DURATION_UNITS.get(part[2]!);
    if (unit === undefined) throw new InvalidValue(`unknown unit "${part[2]}" in duration "${text}"; use ms, s, m, h or d`);
    total += Number(part[1]) * unit;
    rest = rest.slice(part[0].length);
  }
  return total;
}

const SIZE_UNITS = new Map([['', 1], ['k', 1024], ['m', 1024 ** 2], ['g', 1024 ** 3]]);
const SIZE_EXPECTED = 'expected a size like "512k", "10m", "1g" or a number of bytes';

/** Bytes from a number or an nginx-style string: "1024", "10k", "1m", "1g" (powers of 1024, any case). */
export function parseSize(value: unknown): number {
  if (typeof value === 'number') {
    if (Number.isSafeInteger(value) && value >= 0) return value;
    throw new InvalidValue(`expected a whole number of bytes (0 or more), got ${describeValue(value)}`);
  }
  const match = typeof value === 'string' ? /^(\d+)([A-Za-z]*)$/.exec(value.trim()) : null;
  if (match === null) throw new InvalidValue(`${SIZE_EXPECTED}, got ${describeValue(value)}`);
  const unit = SIZE_UNITS.get(match[2]!.toLowerCase());
  if (unit === undefined) throw new InvalidValue(`unknown unit "${match[2]}" in size ${describeValue(value)}; use k, m or g`);
  const bytes = Number(match[1]) * unit;
  if (!Number.isSafeInteger(bytes)) throw new InvalidValue(`size ${describeValue(value)} is too large`);
  return bytes;
}

const HOST_NAME = /^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?$/;

/** A host name or IP address as net.connect/listen want it: IPv6 without brackets ("[::1]" -> "::1"). */
export function parseHost(value: unknown): string {
  const expected = `expected a host name or IP address, got ${describeValue(value)}`;
  if (typeof value !== 'string') throw new InvalidValue(expected);
  const inBrackets = /^\[(.*)\]$/.exec(value)?.[1];
  if (inBrackets !== undefined) {
    if (net.isIPv6(inBrackets)) return inBrackets;
    throw new InvalidValue(`${describeValue(value)} is not an IPv6 address`);
  }
  if (net.isIP(value) !== 0) return value;
  // Looks like IPv4 but is not one ("999.1.1.1", "1.2.3"): getaddrinfo would read "1.2.3" as
  // 1.2.0.3 (inet_aton), "999.1.1.1" fails only when bound or connected. Not a name either: a
  // top-level domain is never all digits (RFC 3696).
  if (/^[\d.]*\.[\d.]*$/.test(value)) throw new InvalidValue(`${describeValue(value)} is not a valid IPv4 address`);
  if (HOST_NAME.test(value)) return value;
  throw new InvalidValue(expected);
}

/** "host:port" or "[ipv6]:port"; the port must be in minPort..65535. */
export function parseHostPort(value: unknown, minPort: number): { host: string; port: number } {
  const text = typeof value === 'string' ? value : '';
  const match = /^(\[[^\]]*\]|[^:[\]]+):(\d+)$/.exec(text);
  if (typeof value !== 'string' || match === null) {
    const bareIPv6 = /:.*:/.test(text) && !text.startsWith('[');
    const hint = bareIPv6 ? ' (write IPv6 addresses in brackets, e.g. "[::1]:3000")' : '';
    throw new InvalidValue(`expected "host:port"${hint}, got ${describeValue(value)}`);
  }
  const port = Number(match[2]);
  if (port < minPort || port > 65535) {
    throw new InvalidValue(`port must be from ${minPort} to 65535, got ${match[2]} in "${text}"`);
  }
  return { host: parseHost(match[1]), port };
}

/** Listeners may use port 0: the kernel picks a free port (tests). */
export const parseListenAddress = (value: unknown) => parseHostPort(value, 0);
export const parseServerAddress = (value: unknown) => parseHostPort(value, 1);
/** The fallback address after a reported problem; never reaches a Config (the problem ends in a ConfigError). */
export const NO_ADDRESS = Object.freeze({ host: '', port: 0 });

/** As the router compares it with the Host header: lower case, port stripped, IPv6 kept in brackets. */
export function parseRouteHost(value: unknown): string {
  const expected = `expected a host name (optionally with a port) or "*", got ${describeValue(value)}`;
  if (typeof value !== 'string') throw new InvalidValue(expected);
  const match = /^(\[[^\]]+\]|[^:[\]]+)(?::\d+)?$/.exec(value.toLowerCase());
  if (match === null) throw new InvalidValue(expected);
  const host = match[1]!;
  if (host === '*') return host;
  if (host.includes('*')) throw new InvalidValue(`only "*" on its own is supported as a wildcard, got ${describeValue(value)}`);
  if (host.startsWith('[') ? net.isIPv6(host.slice(1, -1)) : HOST_NAME.test(host)) return host;
  throw new InvalidValue(expected);
}

export function parsePathPrefix(value: unknown): string {
  if (typeof value !== 'string' || !value.startsWith('/')) {
    throw new InvalidValue(`expected a path starting with "/", got ${describeValue(value)}`);
  }
  // The router matches the path only; a query or fragment here could never match.
  if (/[\s?#]/.test(value)) throw new InvalidValue(`must be a plain path (no spaces, "?" or "#"), got ${describeValue(value)}`);
  // Requests are matched by their normalised path (%XX decoded, "." and ".." resolved, "//"
  // merged, as nginx's locations), which a prefix in any other spelling could never match.
  const normal = normalisedPath(value);
  if (normal !== value) {
    throw new InvalidValue(`must be written as requests are matched (no %XX escapes, "." or ".." segments, or "//"${normal === null ? '' : `; here: "${normal}"`}), got ${describeValue(value)}`);
  }
  return value;
}
