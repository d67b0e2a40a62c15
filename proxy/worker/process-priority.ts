// The worker's scheduling priority: config `workerPriority`, nginx's worker_priority.
//
// Why Handoff sets one by default and nginx does not: Handoff's master is in the path of every
// new connection (nginx's is in the path of none). When the CPU is short and the master weighs
// as much as a worker, the scheduler wakes it for almost every connection and lets it pre-empt
// the workers; measured on this repo's bench machine it then woke ~6,000 times a second for
// ~9,000 connections and cost 27 µs per connection. With the workers 5 nice levels above it,
// connections gather in the kernel's backlog while the workers run, and the master takes them
// ~10 at a time (12 µs per connection). An idle CPU still runs the master at once, so a lightly
// loaded proxy loses no latency. With reuseport the master is not in the path, and "auto"
// leaves the workers alone.
//
// Nice values weigh only against processes in the same CPU cgroup (and, with the kernel's
// autogroup, the same session): in a container or a service of its own, the workers outrank
// their master and nothing else.
import os from 'node:os';
import type { HandoffTransport, WorkerPriority } from '../config/types';
import type { Logger } from '../observability/logger';

/** How many nice levels "auto" puts a worker above (below, in nice numbers) where it started. */
const AUTO_PRIORITY_STEP = 5;
const HIGHEST_PRIORITY = -20;

/**
 * The nice value this worker should run at: a number as given; "auto", 5 below where it started
 * when the master hands it connections, and where it started with reuseport.
 */
export function wantedNice(setting: WorkerPriority, transport: HandoffTransport, current: number): number {
  if (setting !== 'auto') return setting;
  return transport === 'reuseport' ? current : Math.max(HIGHEST_PRIORITY, current - AUTO_PRIORITY_STEP);
}

/**
 * Sets this process's nice value as configured. Lowering a nice value needs CAP_SYS_NICE (root
 * in a container usually lacks it) or an RLIMIT_NICE that allows the value asked for. Otherwise
 * the worker runs on as it is: "auto" says so at info level (the usual case for an unprivileged
 * user), a number the user asked for is a warning, as nginx's setpriority() alert.
 */
export function applyWorkerPriority(setting: WorkerPriority, transport: HandoffTransport, log: Logger): void {
  const current = os.getPriority();
  const wanted = wantedNice(setting, transport, current);
  if (wanted === current) return;
  try {
    // pid 0: on Linux a nice value belongs to a thread, and this moves only the calling one, the
    // event loop's. V8's garbage-collection and compiler threads, started before this runs, stay
    // where they were, and that is wanted: their work can wait for the requests. Moving every
    // thread (each id in /proc/self/task) cost ~7% of the new connections per second (3
    // interleaved shell runs, 10.6k/11.8k/11.8k against 12.0k/12.5k/12.8k).
    os.setPriority(wanted);
  } catch (err) {
    // os.setPriority throws a SystemError: its errno name (EACCES) is in `info`.
    const e = err as NodeJS.ErrnoException & { info?: { code?: string } };
    const code = e.info?.code ?? e.code ?? 'error';
    const asked = setting === 'auto' ? `"auto" (nice ${wanted})` : `${wanted}`;
    log.log(setting === 'auto' ? 'info' : 'warn',
      `workerPriority ${asked} not applied (${code}: lowering a nice value needs CAP_SYS_NICE or RLIMIT_NICE); running at nice ${current}`);
  }
}
