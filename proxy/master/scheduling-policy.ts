// Which worker gets the next connection. Strategies behind one interface, as Node's cluster
// has RoundRobinHandle and SharedHandle: the master does not care which one it runs.
import type { BalancePolicy } from '../config/types';
import type { WorkerLink } from './worker-link';

export interface SchedulingPolicy {
  /** A worker with room for one more connection, or null when all are full. */
  pick(links: readonly WorkerLink[]): WorkerLink | null;
}

/** Fewest open plus in-flight connections; ties go to the earliest link. */
export class LeastConnectionsPolicy implements SchedulingPolicy {
  pick(links: readonly WorkerLink[]): WorkerLink | null {
    let best: WorkerLink | null = null;
    for (const link of links) {
      if (link.hasRoom() && (best === null || link.load < best.load)) best = link;
    }
    return best;
  }
}

/** Each worker in turn, skipping full ones. */
export class RoundRobinPolicy implements SchedulingPolicy {
  private next = 0;

  pick(links: readonly WorkerLink[]): WorkerLink | null {
    for (let i = 0; i < links.length; i++) {
      const link = links[(this.next + i) % links.length];
      if (link.hasRoom()) {
        this.next = (this.next + i + 1) % links.length;
        return link;
      }
    }
    return null;
  }
}

export function createPolicy(policy: BalancePolicy): SchedulingPolicy {
  return policy === 'round-robin' ? new RoundRobinPolicy() : new LeastConnectionsPolicy();
}
