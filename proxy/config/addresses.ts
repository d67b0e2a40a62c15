// Which configured addresses collide: two listening sockets (listeners, the status address) that
// Linux will not both bind, and upstream servers listed twice. Hosts are compared as the kernel
// sees them; names are compared as written, never resolved (validation does no DNS).

import * as net from 'net';

/** A valid address and the config path it came from, for "same as listeners[0]" messages. */
export interface PlacedAddress {
  readonly at: string;
  readonly host: string;
  readonly port: number;
}

/** "host:port", IPv6 in brackets. */
export function formatAddress(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * The host in one spelling per address: names lower-cased, IPv6 shortest form ("0:0::0" -> "::"),
 * IPv4-mapped IPv6 as plain IPv4 (binding "::ffff:127.0.0.1" takes 127.0.0.1). A zone ("%eth0")
 * is kept: the same address on two interfaces is two sockets.
 */
export function comparableHost(host: string): string {
  if (!net.isIPv6(host)) return host.toLowerCase();
  const zone = host.indexOf('%');
  const address = new net.SocketAddress({ address: host, family: 'ipv6' }).address;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(address)?.[1];
  return mapped ?? (zone === -1 ? address : address + host.slice(zone));
}

/**
 * Why `later` cannot bind once `earlier` is listening: 'same' address, 'overlap' when one is a
 * wildcard covering the other ("dual-stack" when that is [::] covering IPv4), or null. Both
 * without SO_REUSEPORT, as the listeners of the seqpacket and ipc transports and the status
 * server; refused for reuseport too, so a config does not turn invalid when only the transport
 * changes. Port 0 is a fresh port per socket and never collides.
 */
export function bindConflict(earlier: PlacedAddress, later: PlacedAddress): 'same' | 'overlap' | 'dual-stack' | null {
  if (earlier.port !== later.port || earlier.port === 0) return null;
  const a = comparableHost(earlier.host);
  const b = comparableHost(later.host);
  if (a === b) return 'same';
  if ((a === '0.0.0.0' && net.isIPv4(b)) || (b === '0.0.0.0' && net.isIPv4(a))) return 'overlap';
  if ((a === '::' && net.isIPv6(b)) || (b === '::' && net.isIPv6(a))) return 'overlap';
  // The sockets leave IPV6_V6ONLY off (Linux's default, as Node does), so [::] takes IPv4 too.
  if ((a === '::' && net.isIPv4(b)) || (b === '::' && net.isIPv4(a))) return 'dual-stack';
  return null;
}

/** The first of `earlier` that `address` cannot bind next to, with the reason; null if none. */
export function firstBindConflict(
  earlier: readonly PlacedAddress[],
  address: PlacedAddress,
): { readonly with: PlacedAddress; readonly kind: 'same' | 'overlap' | 'dual-stack' } | null {
  for (const other of earlier) {
    const kind = bindConflict(other, address);
    if (kind !== null) return { with: other, kind };
  }
  return null;
}

/** "127.0.0.1:8080 overlaps listeners[0] (0.0.0.0:8080)", with why when it is dual-stack. */
export function describeOverlap(address: PlacedAddress, other: PlacedAddress, kind: 'overlap' | 'dual-stack'): string {
  const text = `${formatAddress(address.host, address.port)} overlaps ${other.at} (${formatAddress(other.host, other.port)})`;
  return kind === 'dual-stack' ? `${text}; [::] also accepts IPv4 connections` : text;
}
