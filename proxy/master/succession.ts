// A master taking over from one that died. A master that exits cleans its files up
// (cleanHandoffDir); one that died (kill -9, a crash) leaves its master.json behind. The new
// master holds the lock, so the old one is gone, but its workers may not be: they accept on its
// listening sockets (proxy/worker/lifeboat.ts) until this master's master.json says it serves,
// then finish and exit. Until then the ports are shared with them (listener-set.ts).
import type { HandoffTransport } from '../config/types';
import { readMasterIdentity } from '../handoff/handoff-dir';
import type { MasterIdentity } from '../handoff/host-identity';
import type { Logger } from '../observability/logger';

export class Succession {
  private announcedServing = false;

  constructor(
    private readonly dir: string,
    private readonly identity: MasterIdentity,
    /** Publishes master.json (the handoff dir's keeper, which republishes it if the dir is recreated). */
    private readonly publish: (identity: MasterIdentity) => void,
    private readonly log: Logger,
  ) {}

  /**
   * Whether orphaned workers of the master before may hold our ports. Call with the lock held,
   * before publishing our own master.json (which says who we are, not yet serving). Never under ipc: Node's net.Server cannot share a
   * port, and ipc workers keep no listeners.
   */
  previousMasterDied(transport: HandoffTransport): boolean {
    const previous = readMasterIdentity(this.dir);
    if (previous === null || transport === 'ipc') return false;
    this.log.notice(`the previous master of ${this.dir} (pid ${previous.pid} on ${previous.host}) did not exit cleanly: ` +
      `its workers may still be accepting on its ports, which this master shares with them until they hand over`);
    return true;
  }

  /**
   * Once, with the first worker that can serve: orphans of the master before accept until
   * then, and leave the port to this master from then on (proxy/worker/successor-watch.ts).
   */
  announceServing(): void {
    if (this.announcedServing) return;
    this.announcedServing = true;
    try {
      this.publish({ ...this.identity, serving: true });
    } catch (err) {
      // Orphans, if any, then keep accepting beside this master: nothing is lost.
      this.log.error(`cannot publish ${this.dir}/master.json: ${(err as Error).message}`);
    }
  }
}
