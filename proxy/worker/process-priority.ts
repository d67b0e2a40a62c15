// The worker's scheduling priority: config `workerPriority`, nginx's worker_priority.
//
// Why Handoff sets one by default and nginx does not: Handoff's master is in the path of every
// new connection (nginx's is in the path of none). When the CPU is short and the master weighs
// as much as a worker, the scheduler wakes it for almost every connection and lets it pre-empt
// the workers; measured on this repo's bench machine it then woke ~6,000 times a second for
// ~9,000 connections and cost 27 µs per connection. With the workers 5 nice levels above it,
// connections gather in the kernel's backlog while the workers run, and the master takes them
// ~10 at a time (12 µs per connection). An idle CPU still runs the master at once, so a lightly
// loaded proxy loses no latency.
import os from 'node:os';
import type { WorkerPriority } from '../config/types';
import type { Logger } from '../observability/logger';

/** How many nice levels "auto" puts a worker above (below, in nice numbers) where it started. */
export const AUTO_PRIORITY_STEP = 5;
const HIGHEST_PRIORITY = -20;

/**
 * Sets this process's nice value as configured and returns the one it runs at. Lowering a nice
 * value needs root, CAP_SYS_NICE or a permissive RLIMIT_NICE; without them the worker runs on as
 * it is: "auto" says so at info level (the usual case for an unprivileged user), a number the
 * user asked for is a warning, as nginx's setpriority() alert.
 */
export function applyWorkerPriority(setting: WorkerPriority, log: Logger): number {
  const current = os.getPriority();
  const wanted = setting === 'auto' ? Math.max(HIGHEST_PRIORITY, current - AUTO_PRIORITY_STEP) : setting;
  if (wanted === current) return current;
  try {
    // pid 0: on Linux this is the calling thread, the one running the event loop.
    os.setPriority(wanted);
    return wanted;
  } catch (err) {
    // os.setPriority throws a SystemError: its errno name (EACCES) is in `info`.
    const e = err as NodeJS.ErrnoException & { info?: { code?: string } };
    const code = e.info?.code ?? e.code ?? 'error';
    const asked = setting === 'auto' ? `"auto" (nice ${wanted})` : `${wanted}`;
    log.log(setting === 'auto' ? 'info' : 'warn',
      `workerPriority ${asked} not applied (${code}: lowering a nice value needs root, CAP_SYS_NICE or RLIMIT_NICE); running at nice ${current}`);
    return current;
  }
}
