// A worker leaves in two steps that arrive in either order: its channel closes (the master then
// re-sends what it had not acknowledged) and, for a child of this master, its process exits (the
// exit status says why). A worker told to quit closes its channel first and exits only once its
// last request is done, seconds later. So the "left" line and timeline event wait for both; a
// joined worker's exit status is not ours to see, and its channel closing is all there is.
import type { EventTimeline } from '../observability/event-timeline';
import type { Logger } from '../observability/logger';
import { describeWorker } from './worker-identities';
import type { ExitStatus, WorkerLink } from './worker-link';

export class WorkerDepartures {
  /** Children of ours whose channel closed before their process exited, by pid. */
  private readonly awaitingExit = new Map<number, { readonly link: WorkerLink; readonly resent: number }>();

  constructor(
    private readonly log: Logger,
    private readonly timeline: EventTimeline,
    /** A shutdown is under way: workers leaving then are expected to. */
    private readonly stopping: () => boolean,
  ) {}

  /** A registered worker's channel closed; `resent` of its connections went to other workers. */
  channelClosed(link: WorkerLink, resent: number): void {
    if (link.identity!.origin === 'spawned' && link.exit === null) this.awaitingExit.set(link.identity!.pid, { link, resent });
    else this.report(link, resent);
  }

  /** A child of ours exited; `openLink` is its registered link if that channel is still open. */
  processExited(pid: number, exit: ExitStatus, openLink: WorkerLink | undefined): void {
    const waiting = this.awaitingExit.get(pid);
    if (waiting) {
      this.awaitingExit.delete(pid);
      waiting.link.exit = exit;
      this.report(waiting.link, waiting.resent);
    } else if (openLink) {
      openLink.exit = exit; // its channel closes next, and reports both
    } else if (!this.stopping()) {
      const why = exitReason(exit);
      this.log.warn(`worker process ${pid} ${why} before it registered`);
      this.timeline.add({ kind: 'worker-failed-to-start', pid, why });
    }
  }

  private report(link: WorkerLink, resent: number): void {
    const worker = link.identity!;
    const why = link.exit ? exitReason(link.exit) : 'closed its channel';
    const expected = (link.quitRequested || this.stopping()) && resent === 0;
    this.log.log(expected ? 'notice' : 'warn', `${describeWorker(worker)} left: ${why}; ${resent} unacknowledged connection(s) re-sent to other workers`);
    this.timeline.add({ kind: 'worker-left', worker, why, exitCode: link.exit?.code ?? null, signal: link.exit?.signal ?? null, resent });
  }
}

function exitReason(exit: ExitStatus): string {
  return exit.signal ? `killed by ${exit.signal}` : `exited with code ${exit.code}`;
}
