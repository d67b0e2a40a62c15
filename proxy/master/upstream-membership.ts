// Which servers each upstream group has, and whether their health checks pass: the master owns
// this and tells every worker (SERVER messages), its own and those joined from other containers,
// so membership and active health are decided once, not once per worker.
//
// Every (upstream, address, port) the master ever puts in a group gets a slot: a number never
// reused while the master runs. The config it publishes gives each server its slot; SERVER
// messages and UPSTREAM reports name servers by it, so a worker that joined before a change and
// one that joined after agree on what "server 7" is. A server that stays across a reload keeps
// its slot and its health.
import { formatAddress } from '../config/addresses';
import type { Config, HealthCheckConfig, UpstreamConfig, UpstreamServerConfig } from '../config/types';
import { encodeServer, ServerState, type DownReason } from '../handoff/protocol';

export interface MemberHealth {
  readonly state: ServerState.UP | ServerState.DOWN;
  readonly reason: DownReason;
  /** What the log and the status page say: "status 503", "connection refused". */
  readonly detail: string;
  /** Date.now() of the last change (or of joining). */
  readonly since: number;
}

export interface Member {
  readonly slot: number;
  /** The upstream's place among the config's upstreams (SERVER's `a`). */
  readonly upstream: number;
  readonly upstreamName: string;
  readonly server: UpstreamServerConfig;
  /** The upstream's active checks; null: none, the server is always UP to the master. */
  readonly check: HealthCheckConfig | null;
  health: MemberHealth;
  /** host:port, IPv6 in brackets. */
  readonly label: string;
}

/** What the master does with a change: tell the workers; the health checker follows joins and leaves. */
export type MembershipChange = (member: Member, state: ServerState, kind: 'joined' | 'health' | 'left') => void;

export class UpstreamMembership {
  private nextSlot = 0;
  /** The current members by slot, in the order they joined. */
  private members = new Map<number, Member>();
  /**
   * Slots in the published config whose servers have since left: a worker that registers now
   * still reads them from that config, so it is told they are gone.
   */
  private departed: Member[] = [];
  /** The published config's servers' slots, flattened (how a protocol-4 worker numbers them). */
  private publishedOrder: number[] = [];
  /** Each upstream's place in the config and its checks. */
  private upstreams = new Map<string, { readonly index: number; readonly check: HealthCheckConfig | null }>();

  constructor(private readonly onChange: MembershipChange) {}

  /**
   * Start and reload: the config's servers become the members (a server already in keeps its slot
   * and health), nobody is told (the workers to come read the config this returns: the same
   * config, each server with its slot).
   */
  adopt(config: Config): Config {
    const before = new Map([...this.members.values()].map((m) => [keyOf(m.upstreamName, m.server), m]));
    this.members = new Map();
    this.departed = [];
    const upstreams: Record<string, UpstreamConfig> = {};
    this.upstreams = new Map();
    Object.values(config.upstreams).forEach((upstream, index) => {
      const check = upstream.healthCheck ?? null;
      this.upstreams.set(upstream.name, { index, check });
      const servers = upstream.servers.map((server) => {
        const kept = before.get(keyOf(upstream.name, server));
        const health = kept && check ? kept.health : upHealth();
        const member = this.add(index, upstream.name, server, check, health, kept?.slot);
        return { ...server, slot: member.slot };
      });
      upstreams[upstream.name] = { ...upstream, servers };
    });
    this.publishedOrder = Object.values(upstreams).flatMap((u) => u.servers.map((s) => s.slot!));
    return { ...config, upstreams };
  }

  /**
   * Reload, all or nothing: adopts `config` and hands what is to be published to `publish`; if
   * that throws (the handoff dir gone, a full disk), the members are as they were and it rethrows.
   */
  adoptPublishing(config: Config, publish: (published: Config) => void): Config {
    const { nextSlot, members, departed, publishedOrder, upstreams } = this;
    const published = this.adopt(config);
    try {
      publish(published);
    } catch (err) {
      Object.assign(this, { nextSlot, members, departed, publishedOrder, upstreams });
      throw err;
    }
    return published;
  }

  /**
   * A lookup of `name` (a server entry of upstream `upstreamName` on `template.port`) found
   * `addresses`: those new join, with the entry's settings; those gone leave.
   */
  resolved(upstreamName: string, name: string, template: UpstreamServerConfig, addresses: readonly string[]): void {
    const fromName = [...this.members.values()].filter((m) => m.upstreamName === upstreamName && m.server.resolvedFrom === name && m.server.port === template.port);
    const wanted = new Set(addresses);
    for (const member of fromName) if (!wanted.has(member.server.host)) this.remove(member);
    const have = new Set([...this.members.values()].filter((m) => m.upstreamName === upstreamName).map((m) => keyOf(upstreamName, m.server)));
    const group = this.upstreams.get(upstreamName);
    if (!group) return;
    for (const host of addresses) {
      const server = { ...template, host, resolvedFrom: name };
      if (have.has(keyOf(upstreamName, server))) continue;
      // With checks, a new address serves once one check passes: it may not be listening yet.
      const health: MemberHealth = group.check ? { state: ServerState.DOWN, reason: 'not checked yet', detail: 'not checked yet', since: Date.now() } : upHealth();
      const member = this.add(group.index, upstreamName, server, group.check, health);
      this.onChange(member, health.state, 'joined');
    }
  }

  /** An active check's verdict changed. */
  setHealth(slot: number, health: MemberHealth): void {
    const member = this.members.get(slot);
    if (!member) return;
    member.health = health;
    this.onChange(member, health.state, 'health');
  }

  get(slot: number): Member | undefined {
    return this.members.get(slot);
  }

  /** Every member, in the config's upstream order, then by joining. */
  all(): Member[] {
    return [...this.members.values()].sort((a, b) => a.upstream - b.upstream || a.slot - b.slot);
  }

  /** A protocol-4 worker's server number (its place in the published config) as a slot. */
  slotAt(index: number): number | undefined {
    return this.publishedOrder[index];
  }

  /** What a worker that has just registered is told: every member's state, and who has left since the config was published. */
  messages(): Buffer[] {
    return [...this.all().map((m) => messageOf(m, m.health.state)), ...this.departed.map((m) => messageOf(m, ServerState.REMOVED))];
  }

  private add(upstream: number, upstreamName: string, server: UpstreamServerConfig, check: HealthCheckConfig | null, health: MemberHealth, slot = this.nextSlot++): Member {
    const member: Member = { slot, upstream, upstreamName, server, check, health, label: formatAddress(server.host, server.port) };
    this.members.set(slot, member);
    return member;
  }

  private remove(member: Member): void {
    this.members.delete(member.slot);
    if (this.publishedOrder.includes(member.slot)) this.departed.push(member);
    this.onChange(member, ServerState.REMOVED, 'left');
  }
}

export function messageOf(member: Member, state: ServerState): Buffer {
  const { host, port, weight, maxFails, failTimeout } = member.server;
  return encodeServer({ slot: member.slot, upstream: member.upstream, state, reason: state === ServerState.DOWN ? member.health.reason : '', host, port, weight, maxFails, failTimeout });
}

function keyOf(upstreamName: string, server: UpstreamServerConfig): string {
  return `${upstreamName} ${formatAddress(server.host, server.port)}`;
}

function upHealth(): MemberHealth {
  return { state: ServerState.UP, reason: '', detail: '', since: Date.now() };
}
