// nginx's `server backend:3000 resolve` with `resolver … valid=`: every server the config gives by
// name is looked up again every `valid`, and the membership follows (new addresses join, vanished
// ones leave), so `docker compose up --scale backend=5` spreads traffic without a reload. A lookup
// that fails keeps the last addresses, as nginx does, and is logged once until one succeeds.
import type { Config, UpstreamServerConfig } from '../config/types';
import type { Logger } from '../observability/logger';
import { addressesOf } from '../upstream/resolve-servers';
import type { UpstreamMembership } from './upstream-membership';

interface NamedEntry {
  readonly upstreamName: string;
  readonly name: string;
  /** The settings every address of the name gets (weight, passive health, port). */
  readonly template: UpstreamServerConfig;
}

export class ReResolver {
  private entries: NamedEntry[] = [];
  private dnsServers: readonly string[] = [];
  private timer: NodeJS.Timeout | null = null;
  /** Entries whose last lookup failed, logged once: "upstream name port". */
  private readonly failing = new Set<string>();
  private generation = 0;

  constructor(
    private readonly membership: UpstreamMembership,
    private readonly log: Logger,
  ) {}

  /** Start and reload: what to look up, and how often (none without `resolver`). */
  follow(config: Config): void {
    this.stop();
    this.generation++;
    const valid = config.resolver?.valid ?? 0;
    this.dnsServers = config.resolver?.addresses ?? [];
    const seen = new Map<string, NamedEntry>();
    for (const upstream of Object.values(config.upstreams)) {
      for (const server of upstream.servers) {
        if (server.resolvedFrom === undefined) continue;
        const key = `${upstream.name} ${server.resolvedFrom} ${server.port}`;
        if (!seen.has(key)) seen.set(key, { upstreamName: upstream.name, name: server.resolvedFrom, template: { ...server } });
      }
    }
    this.entries = [...seen.values()];
    if (valid > 0 && this.entries.length > 0) this.schedule(valid, this.generation);
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private schedule(valid: number, generation: number): void {
    this.timer = setTimeout(() => void this.lookUpAll(valid, generation), valid);
  }

  private async lookUpAll(valid: number, generation: number): Promise<void> {
    await Promise.all(this.entries.map((entry) => this.lookUp(entry, generation)));
    if (generation === this.generation) this.schedule(valid, generation);
  }

  private async lookUp(entry: NamedEntry, generation: number): Promise<void> {
    const key = `${entry.upstreamName} ${entry.name} ${entry.template.port}`;
    let addresses: string[];
    try {
      addresses = await addressesOf(entry.name, this.dnsServers);
    } catch (err) {
      if (!this.failing.has(key)) {
        this.failing.add(key);
        this.log.error(`upstream "${entry.upstreamName}": looking up "${entry.name}" failed (${(err as NodeJS.ErrnoException).code ?? String(err)}); its last known addresses stay`);
      }
      return;
    }
    if (this.failing.delete(key)) this.log.notice(`upstream "${entry.upstreamName}": "${entry.name}" resolves again`);
    // A reload while the lookup ran: the new config's entries are the ones to follow.
    if (generation !== this.generation || addresses.length === 0) return;
    this.membership.resolved(entry.upstreamName, entry.name, entry.template, addresses);
  }
}
