// How many client connections a worker can really hold. Each proxied connection needs a second
// fd for its upstream, so the open-files limit caps it too — as nginx warns when
// worker_connections exceeds the open file resource limit. Without this cap a worker at its fd
// limit would accept connections it then cannot proxy (502) or lose fds in transit (MSG_CTRUNC).
import fs from 'node:fs';

/** fds kept free for the worker's own use: logs, DNS, the handoff channel, Node's internals. */
const RESERVED_FDS = 16;

/** The soft RLIMIT_NOFILE from /proc/self/limits, or null where that is not readable. */
function openFilesLimit(): number | null {
  try {
    const line = fs.readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
    const soft = line?.split(/\s{2,}/)[1];
    return soft === undefined || soft === 'unlimited' ? null : Number(soft);
  } catch {
    return null;
  }
}

function openFds(): number {
  try {
    return fs.readdirSync('/proc/self/fd').length;
  } catch {
    return 0;
  }
}

/** The configured limit, lowered to what the open-files limit leaves room for. */
export function effectiveConnectionLimit(configured: number): { limit: number; fdLimit: number | null } {
  const fdLimit = openFilesLimit();
  if (fdLimit === null) return { limit: configured, fdLimit };
  const room = Math.floor((fdLimit - openFds() - RESERVED_FDS) / 2);
  return { limit: Math.max(1, Math.min(configured, room)), fdLimit };
}
