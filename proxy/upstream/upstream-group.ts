// An upstream group: its servers and the balancer that picks one per request attempt. The group
// decides which servers may be picked (not tried yet for this request, not marked down) and
// counts what was sent; the balancer (balancers/, as the config's `balancer` says) chooses.
// The master may change the members while the worker runs (SERVER messages: a name re-resolved,
// a health check's verdict); the balancer is then built anew over the new list.
import type { BalancerName, UpstreamConfig } from '../config/types';
import { ServerState, type ServerMessage } from '../handoff/protocol';
import type { Balancer } from './balancers/balancer';
import { type KeyOf, keyReader } from './balancers/balance-key';
import { createBalancer } from './balancers/create-balancer';
import { UpstreamWithdrawnError } from './errors';
import { UpstreamServer } from './upstream-server';

/** What a SERVER message changed, for the worker's log. */
export type MemberChange = 'joined' | 'left' | 'down' | 'up' | null;

export class UpstreamGroup {
  readonly name: string;
  private members: UpstreamServer[];
  private balancer: Balancer;
  private readonly balancerName: BalancerName;
  private readonly keyOf: KeyOf;
  /** Whether requests have a hash key at all: without one, nothing of the request is read for it. */
  readonly hashed: boolean;
  private readonly keepalive: number;

  /** `firstSlot`: the first server's number when the config gives none (an older master's). */
  constructor(config: UpstreamConfig, firstSlot = 0) {
    this.name = config.name;
    this.keepalive = config.keepalive;
    this.members = config.servers.map((s, i) => new UpstreamServer(s, config.keepalive, firstSlot + i));
    // A master older than this worker publishes no balancer: nginx's default, as before.
    this.balancerName = config.balancer ?? 'round-robin';
    this.balancer = createBalancer(this.balancerName, this.members);
    this.keyOf = keyReader(config.hashKey ?? null);
    this.hashed = config.hashKey != null;
  }

  /** The current members, in the order they joined. */
  get servers(): readonly UpstreamServer[] {
    return this.members;
  }

  /** The request's hash key (the empty string unless the balancer is "hash"). */
  keyFor(clientAddress: string | undefined, url: string, rawHeaders: readonly string[]): string {
    return this.keyOf(clientAddress, url, rawHeaders);
  }

  /**
   * Picks the next server, skipping those in `tried` and those marked down (by passive health or
   * the master's checks). When every untried server is down, nginx tries them anyway rather than
   * fail outright: so do we, checked-down ones included (the checks may lag a recovery).
   */
  pick(tried: ReadonlySet<UpstreamServer>, key = '', now = Date.now()): UpstreamServer | null {
    const server =
      this.balancer.pick((s) => !tried.has(s) && s.health.isAvailable(now), key) ??
      this.balancer.pick((s) => !tried.has(s), key);
    if (server) server.requests++;
    return server;
  }

  /**
   * The master's word on one server (a SERVER message for this group): a slot not seen joins,
   * REMOVED leaves (no new requests; those in flight finish on their connection, which is then
   * closed, as are its idle ones), UP and DOWN set what its checks say.
   */
  apply(msg: ServerMessage): MemberChange {
    const index = this.members.findIndex((s) => s.slot === msg.slot);
    const member = this.members[index];
    if (msg.state === ServerState.REMOVED) {
      if (!member) return null;
      this.members = this.members.filter((s) => s !== member);
      member.close();
      this.balancer = createBalancer(this.balancerName, this.members);
      // After the member list changed, so the requests move on to the servers that remain.
      member.pool.abortConnects(() => new UpstreamWithdrawnError('removed'));
      return 'left';
    }
    if (!member) {
      const joined = new UpstreamServer(msg, this.keepalive, msg.slot);
      if (msg.state === ServerState.DOWN) joined.health.checkDown();
      this.members = [...this.members, joined];
      this.balancer = createBalancer(this.balancerName, this.members);
      return 'joined';
    }
    if (msg.state === ServerState.DOWN && !member.health.checkedDown) {
      member.health.checkDown();
      member.pool.abortConnects(() => new UpstreamWithdrawnError('marked down'));
      return 'down';
    }
    if (msg.state === ServerState.UP && member.health.checkedDown) {
      member.health.checkUp();
      return 'up';
    }
    return null;
  }

  /** Whether some member is not in `tried`: a failed attempt may go on to it. */
  hasUntried(tried: ReadonlySet<UpstreamServer>): boolean {
    return this.members.some((s) => !tried.has(s));
  }

  close(): void {
    for (const server of this.members) server.close();
  }
}
