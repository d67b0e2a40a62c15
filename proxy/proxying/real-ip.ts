// The client address behind trusted proxies, as nginx's realip module: a request whose TCP peer
// is in realIp.from has its client address taken from realIp.header, a list of addresses with
// the client first and each proxy appending the one it saw. Taken from the right, as
// ngx_http_get_forwarded_addr does: only the rightmost entry was written by the trusted peer;
// anything left of it is whatever the client sent. With `recursive`, entries that are themselves
// trusted proxies are skipped. An entry that is not an address stops the walk: the last good one
// (or the peer) stands.
import * as net from 'node:net';
import { parseCidr } from '../config/cidr';
import type { RealIpConfig } from '../config/types';

export class RealIp {
  private readonly trusted = new net.BlockList();
  private readonly header: string;
  private readonly everyOccurrence: boolean;
  private readonly recursive: boolean;

  constructor(config: RealIpConfig) {
    for (const text of config.from) {
      const cidr = parseCidr(text);
      this.trusted.addSubnet(cidr.address, cidr.prefix, cidr.family);
    }
    this.header = config.header;
    // nginx reads every X-Forwarded-For line as one list; of any other header, the first.
    this.everyOccurrence = config.header === 'x-forwarded-for';
    this.recursive = config.recursive;
  }

  /** Whether `address` (a peer's, as the socket gives it) is a trusted proxy. */
  trusts(address: string): boolean {
    const family = net.isIPv4(address) ? 'ipv4' : net.isIPv6(address) ? 'ipv6' : null;
    return family !== null && this.trusted.check(address, family);
  }

  /** The client address of a request that the trusted peer `peer` sent: from the header, or `peer`. */
  clientAddress(peer: string, rawHeaders: readonly string[]): string {
    const value = this.headerValue(rawHeaders);
    if (value === undefined) return peer;
    let client = peer;
    let end = value.length;
    for (;;) {
      while (end > 0 && isSeparator(value.charCodeAt(end - 1))) end--;
      if (end === 0) break;
      let start = end;
      while (start > 0 && !isSeparator(value.charCodeAt(start - 1))) start--;
      const address = addressOf(value.slice(start, end));
      if (address === null) break;
      client = address;
      end = start;
      if (!this.recursive || !this.trusts(address)) break;
    }
    return client;
  }

  private headerValue(raw: readonly string[]): string | undefined {
    const name = this.header;
    let value: string | undefined;
    for (let i = 0; i < raw.length; i += 2) {
      if (raw[i]!.length !== name.length || raw[i]!.toLowerCase() !== name) continue;
      if (!this.everyOccurrence) return raw[i + 1];
      value = value === undefined ? raw[i + 1] : `${value}, ${raw[i + 1]}`;
    }
    return value;
  }
}

/** ' ', ',' and tab: what separates the entries of an address list. */
function isSeparator(c: number): boolean {
  return c === 0x20 || c === 0x2c || c === 0x09;
}

/**
 * The address of one list entry, port dropped ("203.0.113.7", "203.0.113.7:5123", "2001:db8::1",
 * "[2001:db8::1]:443"), IPv6 in its shortest form so that one client is one hash key; null when
 * the entry is not an address ("unknown", a name, an obfuscated identifier).
 */
export function addressOf(entry: string): string | null {
  let text = entry;
  if (text.charCodeAt(0) === 0x5b /* [ */) {
    const close = text.indexOf(']');
    if (close === -1 || (close !== text.length - 1 && !(text[close + 1] === ':' && isPort(text.slice(close + 2))))) return null;
    text = text.slice(1, close);
    return net.isIPv6(text) && !text.includes('%') ? shortestIpv6(text) : null;
  }
  const colon = text.indexOf(':');
  if (colon !== -1 && colon === text.lastIndexOf(':')) { // "a.b.c.d:port"
    if (!isPort(text.slice(colon + 1))) return null;
    text = text.slice(0, colon);
    return net.isIPv4(text) ? text : null;
  }
  if (net.isIPv4(text)) return text;
  return net.isIPv6(text) && !text.includes('%') ? shortestIpv6(text) : null;
}

function isPort(text: string): boolean {
  return /^[0-9]{1,5}$/.test(text) && Number(text) <= 65535;
}

function shortestIpv6(text: string): string {
  return new net.SocketAddress({ address: text, family: 'ipv6' }).address;
}
