// Active health checks, as HAProxy's `check inter rise fall`: one prober, in the master, for every
// server of every upstream that has checks, whatever the number of workers. Each server is checked
// on its own timer, `interval` after its last check ended; `fall` failures in a row take an up
// server down, `rise` passes in a row bring a down one back (one pass for a server that has just
// joined and was never checked). Every verdict that changes goes to the membership, which tells
// the workers, and to the error log as one sentence.
import { ServerState } from '../handoff/protocol';
import type { Logger } from '../observability/logger';
import { probe, type ProbeResult } from '../upstream/health-probe';
import type { Member, UpstreamMembership } from './upstream-membership';

interface Watch {
  timer: NodeJS.Timeout | null;
  stopped: boolean;
  /** Consecutive results that disagree with the current state. */
  streak: number;
}

export class HealthChecker {
  private readonly watches = new Map<number, Watch>();

  constructor(
    private readonly membership: UpstreamMembership,
    private readonly log: Logger,
  ) {}

  /** Starts checking members that have checks and are not checked yet; stops for those gone. */
  sync(): void {
    const current = new Set<number>();
    for (const member of this.membership.all()) {
      if (member.check === null) continue;
      current.add(member.slot);
      if (this.watches.has(member.slot)) continue;
      const watch: Watch = { timer: null, stopped: false, streak: 0 };
      this.watches.set(member.slot, watch);
      void this.check(member.slot, watch);
    }
    for (const [slot, watch] of this.watches) if (!current.has(slot)) this.unwatch(slot, watch);
  }

  stop(): void {
    for (const [slot, watch] of this.watches) this.unwatch(slot, watch);
  }

  private unwatch(slot: number, watch: Watch): void {
    watch.stopped = true;
    if (watch.timer) clearTimeout(watch.timer);
    this.watches.delete(slot);
  }

  private async check(slot: number, watch: Watch): Promise<void> {
    const member = this.membership.get(slot);
    if (!member?.check || watch.stopped) return;
    const result = await probe(member.server.host, member.server.port, member.check);
    if (watch.stopped) return;
    this.judge(member, watch, result);
    watch.timer = setTimeout(() => void this.check(slot, watch), member.check.interval);
  }

  private judge(member: Member, watch: Watch, result: ProbeResult): void {
    const { check, health } = member;
    const up = health.state === ServerState.UP;
    if (result.ok === up) {
      watch.streak = 0;
      return;
    }
    watch.streak++;
    const what = `upstream server ${member.label} of "${member.upstreamName}"`;
    if (up && !result.ok && watch.streak >= check!.fall) {
      watch.streak = 0;
      this.log.error(`${what} is down: ${result.detail} (${check!.fall} check${check!.fall === 1 ? '' : 's'} in a row)`);
      this.membership.setHealth(member.slot, { state: ServerState.DOWN, reason: result.reason, detail: result.detail, since: Date.now() });
      return;
    }
    const fresh = health.reason === 'not checked yet';
    const rise = fresh ? 1 : check!.rise;
    if (!up && result.ok && watch.streak >= rise) {
      watch.streak = 0;
      this.log.notice(fresh
        ? `${what} joined: its first check passed (status ${result.status})`
        : `${what} is up again: status ${result.status} (${rise} check${rise === 1 ? '' : 's'} in a row)`);
      this.membership.setHealth(member.slot, { state: ServerState.UP, reason: '', detail: `status ${result.status}`, since: Date.now() });
    }
  }
}
