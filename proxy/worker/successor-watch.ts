// How a worker whose master died learns that a new master has taken the handoff directory over:
// a new master publishes <dir>/master.json (a new file, renamed into place) once its listeners
// are bound, so from then on the port has a listener of its own. Polled, not inotify: the
// directory may be a volume shared between containers, and a stat four times a second costs
// nothing beside serving.
import { masterIdentityStamp, readMasterIdentity } from '../handoff/handoff-dir';

const POLL_MS = 250;

/**
 * Calls `onSuccessor` once, with the new master's pid (null if its master.json does not say),
 * when master.json is no longer the one stamped `joinedStamp` (masterIdentityStamp). Returns
 * a function that stops watching.
 */
export function watchForSuccessor(dir: string, joinedStamp: string | null, onSuccessor: (pid: number | null) => void): () => void {
  const timer = setInterval(() => {
    const stamp = masterIdentityStamp(dir);
    if (stamp === null || stamp === joinedStamp) return;
    clearInterval(timer);
    onSuccessor(readMasterIdentity(dir)?.pid ?? null);
  }, POLL_MS);
  return () => clearInterval(timer);
}
