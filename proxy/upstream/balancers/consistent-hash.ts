// nginx's `hash <key> consistent`: ketama consistent hashing. Each server owns 160 points per unit
// of weight on a ring of 32-bit hashes (from MD5, four points per digest, as libketama); a request
// goes to the owner of the first point at or after its key's hash. A key therefore stays on one
// server while the group is unchanged, and removing one of N servers moves only the keys it
// owned, about 1/N of them, to the servers after its points; everyone else keeps theirs.
// A server that cannot take the request (down, or tried already) passes it on along the ring.
import crypto from 'node:crypto';
import type { UpstreamServer } from '../upstream-server';
import type { Balancer, Eligible } from './balancer';

const POINTS_PER_WEIGHT = 160;

function digest(text: string): Buffer {
  return crypto.createHash('md5').update(text).digest();
}

/** The point a key hashes to. */
export function keyPoint(key: string): number {
  return digest(key).readUInt32LE(0);
}

export class ConsistentHash implements Balancer {
  /** Ring points, ascending, and the index of the server owning each. */
  private readonly points: Uint32Array;
  private readonly owners: Uint16Array;
  /** Per pick, which servers were already considered (stamped with the pick's number). */
  private readonly seen: Uint32Array;
  private stamp = 0;

  constructor(private readonly servers: readonly UpstreamServer[]) {
    const ring: Array<[point: number, owner: number]> = [];
    servers.forEach((server, owner) => {
      // The label (host:port), not the index: a server keeps its points whatever else is listed.
      for (let i = 0; i < (POINTS_PER_WEIGHT * server.weight) / 4; i++) {
        const d = digest(`${server.label}-${i}`);
        for (let j = 0; j < 4; j++) ring.push([d.readUInt32LE(j * 4), owner]);
      }
    });
    ring.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    this.points = Uint32Array.from(ring, (p) => p[0]);
    this.owners = Uint16Array.from(ring, (p) => p[1]);
    this.seen = new Uint32Array(servers.length);
  }

  pick(eligible: Eligible, key: string): UpstreamServer | null {
    const { points, owners, servers, seen } = this;
    if (points.length === 0) return null;
    const stamp = ++this.stamp;
    let considered = 0;
    for (let i = this.firstAtOrAfter(keyPoint(key)), steps = 0; steps < points.length; steps++, i = (i + 1) % points.length) {
      const owner = owners[i]!;
      if (seen[owner] === stamp) continue;
      seen[owner] = stamp;
      if (eligible(servers[owner]!)) return servers[owner]!;
      if (++considered === servers.length) break;
    }
    return null;
  }

  /** The index of the first point ≥ `point`, wrapping to 0 past the last. */
  private firstAtOrAfter(point: number): number {
    let lo = 0;
    let hi = this.points.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.points[mid]! < point) lo = mid + 1;
      else hi = mid;
    }
    return lo === this.points.length ? 0 : lo;
  }
}
