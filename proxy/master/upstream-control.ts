// The master's side of the upstream groups: membership (who is in each group, by slot), the
// active health checker and the re-resolver feed it; every change goes to the workers that read
// the current config, and to the log. The dashboard's and /metrics' upstream figures are the
// workers' reports (by slot) laid over the membership.
import type { Config } from '../config/types';
import { SERVER_SINCE_PROTOCOL, ServerState, type UpstreamReport } from '../handoff/protocol';
import type { Logger } from '../observability/logger';
import type { UpstreamSnapshot } from '../observability/master-metrics';
import { HealthChecker } from './health-checker';
import { ReResolver } from './re-resolver';
import { upstreamSnapshots } from './upstream-figures';
import { messageOf, UpstreamMembership, type Member } from './upstream-membership';
import type { WorkerLink } from './worker-link';

export class UpstreamControl {
  private readonly membership = new UpstreamMembership((member, state, kind) => this.changed(member, state, kind));
  private readonly checker: HealthChecker;
  private readonly resolver: ReResolver;

  constructor(
    /** The workers that read the current config: the only ones whose upstream numbering is this one's. */
    private readonly recipients: () => readonly WorkerLink[],
    /** Every registered worker, whose figures for a server that left are dropped. */
    private readonly everyone: () => readonly WorkerLink[],
    private readonly log: Logger,
  ) {
    this.checker = new HealthChecker(this.membership, log);
    this.resolver = new ReResolver(this.membership, log);
  }

  /**
   * Start and reload: the config to publish (each server with its slot), handed to `publish`;
   * checks and lookups follow it once that has worked (a reload that cannot publish changes nothing).
   */
  adopt(config: Config, publish: (published: Config) => void): Config {
    const published = this.membership.adoptPublishing(config, publish);
    this.checker.sync();
    this.resolver.follow(published);
    return published;
  }

  /** A worker registered: it learns every server's state (the config it read may be behind). */
  welcome(link: WorkerLink): void {
    if (link.protocol < SERVER_SINCE_PROTOCOL) return;
    for (const message of this.membership.messages()) link.tell(message);
  }

  /** An UPSTREAM report; a worker older than protocol 5 numbers servers by their place in the published config. */
  record(link: WorkerLink, report: UpstreamReport): void {
    const slot = link.protocol < SERVER_SINCE_PROTOCOL ? this.membership.slotAt(report.server) : report.server;
    if (slot !== undefined) link.upstreamFigures.record({ ...report, server: slot });
  }

  snapshots(workers: readonly WorkerLink[]): UpstreamSnapshot[] {
    return upstreamSnapshots(this.membership.all(), workers.map((l) => l.upstreamFigures));
  }

  stop(): void {
    this.checker.stop();
    this.resolver.stop();
  }

  private changed(member: Member, state: ServerState, kind: 'joined' | 'health' | 'left'): void {
    const message = messageOf(member, state);
    for (const link of this.recipients()) if (link.protocol >= SERVER_SINCE_PROTOCOL) link.tell(message);
    if (kind === 'left') {
      for (const link of this.everyone()) link.upstreamFigures.forget(member.slot);
      this.log.notice(`upstream server ${member.label} of "${member.upstreamName}" left: "${member.server.resolvedFrom}" no longer resolves to it; its requests in flight finish`);
    } else if (kind === 'joined') {
      this.log.notice(`upstream server ${member.label} of "${member.upstreamName}" joined: "${member.server.resolvedFrom}" resolves to it${member.check ? '; it serves once a check passes' : ''}`);
    }
    if (kind !== 'health') this.checker.sync();
  }
}
