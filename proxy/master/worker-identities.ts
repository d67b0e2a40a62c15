// Who a registering worker is. The master names each one "w1", "w2"… in registration order, never
// reusing a name, and keys everything per worker by it: a pid is only unique in one pid namespace,
// and workers in other containers may show the very pids the master's children have.
import type { Register } from '../handoff/protocol';
import type { WorkerIdentity, WorkerOrigin } from '../observability/master-metrics';
import { workerIdOf } from '../observability/worker-identity';

export class WorkerIdentities {
  private issued = 0;

  constructor(
    /** The key this master's children carry in their environment (host-identity.ts). */
    private readonly spawnKey: number,
    /** Whether a child of this master (any generation) has this pid. */
    private readonly isOwnChild: (pid: number) => boolean,
  ) {}

  /** `generationOf`: the generation it serves, given whether it is one of our children. */
  identify(msg: Register, generationOf: (spawned: boolean) => number): WorkerIdentity {
    const origin = this.origin(msg);
    return { id: workerIdOf(++this.issued), pid: msg.pid, host: msg.self?.host ?? null, origin, generation: generationOf(origin === 'spawned') };
  }

  /**
   * Ours when it repeats our key and one of our children has its pid. A worker older than
   * protocol 3 says only its pid: ours if a child of ours has it (a worker in another container
   * may then pass for one; upgrading it ends that).
   */
  private origin(msg: Register): WorkerOrigin {
    const keyMatches = msg.self === null || msg.self.spawnKey === this.spawnKey;
    return keyMatches && this.isOwnChild(msg.pid) ? 'spawned' : 'joined';
  }
}

/** "worker w3 (pid 42 on 3f2a9c1b7d4e, joined)", for log lines. */
export function describeWorker(w: WorkerIdentity): string {
  return `worker ${w.id} (pid ${w.pid}${w.host === null ? '' : ` on ${w.host}`}, ${w.origin})`;
}
