// An IP address as 16 bytes on the handoff channel: IPv6 as it is, IPv4 as an IPv4-mapped IPv6
// address (::ffff:a.b.c.d), as the kernel's own sockaddr_in6 does. Text comes back in the forms
// dns.lookup and net give: dotted IPv4, and IPv6 compressed as RFC 5952 says (lower case, the
// longest run of two or more zero groups as "::", the first such run on a tie).
import net from 'node:net';

export const WIRE_ADDRESS_SIZE = 16;

/** Writes `address` (an IPv4 or IPv6 literal) into `buf` at `offset`; false if it is neither. */
export function writeWireAddress(address: string, buf: Buffer, offset: number): boolean {
  const groups = groupsOf(address);
  if (groups === null) return false;
  groups.forEach((g, i) => buf.writeUInt16BE(g, offset + i * 2));
  return true;
}

export function readWireAddress(buf: Buffer, offset: number): string {
  const groups = Array.from({ length: 8 }, (_, i) => buf.readUInt16BE(offset + i * 2));
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return [groups[6]! >> 8, groups[6]! & 0xff, groups[7]! >> 8, groups[7]! & 0xff].join('.');
  }
  return formatIpv6(groups);
}

function groupsOf(address: string): number[] | null {
  const family = net.isIP(address);
  if (family === 4) {
    const [a, b, c, d] = address.split('.').map(Number) as [number, number, number, number];
    return [0, 0, 0, 0, 0, 0xffff, (a << 8) | b, (c << 8) | d];
  }
  if (family !== 6) return null;
  let text = address;
  // An embedded IPv4 tail ("::ffff:1.2.3.4") is two groups.
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const parse = (part: string) => (part === '' ? [] : part.split(':').map((g) => parseInt(g, 16)));
  const first = parse(head);
  const last = tail === undefined ? [] : parse(tail);
  return [...first, ...new Array<number>(8 - first.length - last.length).fill(0), ...last];
}

function formatIpv6(groups: readonly number[]): string {
  let bestAt = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestAt = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestAt === -1) return hex.join(':');
  return `${hex.slice(0, bestAt).join(':')}::${hex.slice(bestAt + bestLength).join(':')}`;
}
