// Address ranges for realIp.from (nginx set_real_ip_from): an IP address or a CIDR block. The
// config holds each in one spelling ("10.0.0.0/8", "::1/128"), which workers turn into a
// net.BlockList (proxying/real-ip.ts): Node's own matcher, which also matches an IPv4-mapped IPv6
// address ("::ffff:10.1.2.3", a dual-stack listener's IPv4 peer) against IPv4 ranges, as nginx's
// ngx_cidr_match does.

import * as net from 'net';
import { InvalidValue, describeValue } from './errors';

export interface Cidr {
  /** The network's address, shortest form (IPv6 without brackets). */
  readonly address: string;
  readonly prefix: number;
  readonly family: 'ipv4' | 'ipv6';
}

/** "10.0.0.0/8", "127.0.0.1" (= /32), "::1" (= /128), "fd00::/8". Throws InvalidValue otherwise. */
export function parseCidr(value: unknown): Cidr {
  if (typeof value !== 'string') throw new InvalidValue(`expected an IP address or CIDR block like "10.0.0.0/8", got ${describeValue(value)}`);
  const slash = value.indexOf('/');
  const text = slash === -1 ? value : value.slice(0, slash);
  const version = net.isIP(text);
  if (version === 0 || text.includes('%')) {
    throw new InvalidValue(`expected an IP address or CIDR block like "10.0.0.0/8" or "::1/128", got ${describeValue(value)}`);
  }
  const family = version === 4 ? 'ipv4' : 'ipv6';
  const bits = version === 4 ? 32 : 128;
  const prefixText = slash === -1 ? String(bits) : value.slice(slash + 1);
  const prefix = /^[0-9]{1,3}$/.test(prefixText) ? Number(prefixText) : NaN;
  if (!(prefix <= bits)) throw new InvalidValue(`the prefix length of "${value}" must be a number from 0 to ${bits}`);
  const bytes = addressBytes(text, version);
  const network = maskBytes(bytes, prefix);
  if (network.some((b, i) => b !== bytes[i])) {
    // nginx only warns ("low address bits are meaningless") and uses the network; a typo here
    // would trust a whole network nobody meant to, so say which one it is.
    throw new InvalidValue(`"${value}" has bits set after its /${prefix} prefix; write the network, "${formatBytes(network, version)}/${prefix}"`);
  }
  return { address: formatBytes(network, version), prefix, family };
}

/** "10.0.0.0/8": the spelling the config keeps. */
export function formatCidr(cidr: Cidr): string {
  return `${cidr.address}/${cidr.prefix}`;
}

/** The address's bytes (4 or 16), from a string net.isIP accepted. */
function addressBytes(text: string, version: number): number[] {
  if (version === 4) return text.split('.').map(Number);
  let tail: number[] = [];
  let head = text;
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.', lastColon)) { // an IPv4 tail: "::ffff:10.0.0.1"
    tail = text.slice(lastColon + 1).split('.').map(Number);
    head = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const [left, right] = head.split('::') as [string, string?];
  const groups = (part: string | undefined) => (part === undefined || part === '' ? [] : part.split(':').map((g) => parseInt(g, 16)));
  const l = groups(left);
  const r = groups(right);
  const all = right === undefined ? l : [...l, ...new Array<number>(8 - l.length - r.length).fill(0), ...r];
  const bytes = all.flatMap((g) => [g >> 8, g & 0xff]);
  if (tail.length === 4) bytes.splice(12, 4, ...tail);
  return bytes;
}

function maskBytes(bytes: readonly number[], prefix: number): number[] {
  return bytes.map((b, i) => {
    const keep = Math.max(0, Math.min(8, prefix - i * 8));
    return b & ((0xff << (8 - keep)) & 0xff);
  });
}

function formatBytes(bytes: readonly number[], version: number): string {
  if (version === 4) return bytes.join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  // net.SocketAddress prints the shortest form (RFC 5952).
  return new net.SocketAddress({ address: groups.join(':'), family: 'ipv6' }).address;
}
