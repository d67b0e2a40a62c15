// A worker's way in: connect to master.sock (waiting while the master is not up yet, as a worker
// in another container may start first), check who listens there, and read the config it
// published. Whoever listens on master.sock hands us client connections and our config, so only
// a process of our own user or root is joined, and only a config our user or root wrote is
// served (handoff/trust.ts); anything else is refused, saying why.
import { UntrustedPeerError } from '../handoff/errors';
import { masterSocketPath, readPublishedConfig } from '../handoff/handoff-dir';
import { native } from '../handoff/native';
import { untrustedPeer } from '../handoff/trust';
import type { Config } from '../config/types';

const CONNECT_RETRY_MS = 200;

/** The connected channel's fd (the caller owns it) and the master's config. */
export async function joinMaster(handoffDir: string, waitMs: number): Promise<{ fd: number; config: Config }> {
  const path = masterSocketPath(handoffDir);
  const deadline = Date.now() + waitMs;
  let fd = -1;
  for (;;) {
    try {
      fd = native.seqpacketConnect(path);
      break;
    } catch (err) {
      if (Date.now() >= deadline) throw err;
      await new Promise((r) => setTimeout(r, CONNECT_RETRY_MS));
    }
  }
  try {
    const untrusted = untrustedPeer(fd);
    if (untrusted !== null) throw new UntrustedPeerError(`refusing to join the master on ${path}: ${untrusted}`);
    return { fd, config: readPublishedConfig(handoffDir) };
  } catch (err) {
    native.closeFd(fd);
    throw err;
  }
}
