// How a worker whose master died learns that a new master has taken the handoff directory over:
// a new master publishes <dir>/master.json (a new file, renamed into place) once its listeners
// are bound, and again, saying `serving`, once a worker has registered with it: from then on
// the connections it accepts are served, and the orphans can leave the port to it (until then
// they keep accepting beside it: a handover earlier would make every new connection wait for
// the new master's workers to start). Polled, not inotify: the
// directory may be a volume shared between containers, and a stat four times a second costs
// nothing beside serving.
import { masterIdentityStamp, readMasterIdentity } from '../handoff/handoff-dir';

const POLL_MS = 250;

/**
 * Calls `onSuccessor` once, with the new master's pid (null if its master.json does not say),
 * when master.json is another one than now (the dead master's, or none), from a master that
 * serves (or is too old to say). Call it when the master has died. Returns a function that
 * stops watching.
 */
export function watchForSuccessor(dir: string, onSuccessor: (pid: number | null) => void): () => void {
  const deadMasters = masterIdentityStamp(dir);
  const timer = setInterval(() => {
    const stamp = masterIdentityStamp(dir);
    if (stamp === null || stamp === deadMasters) return;
    const successor = readMasterIdentity(dir);
    if (successor?.serving === false) return;
    clearInterval(timer);
    onSuccessor(successor?.pid ?? null);
  }, POLL_MS);
  return () => clearInterval(timer);
}
