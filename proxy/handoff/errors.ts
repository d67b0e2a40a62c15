// The handoff directory's failures, as typed errors.
import { HandoffError } from '../observability/handoff-error';

/** Another master holds the handoff directory's lock. */
export class HandoffDirInUseError extends HandoffError {
  readonly code = 'HANDOFF_DIR_IN_USE';
  constructor(readonly dir: string, readonly holder: string, file: string) {
    super(`handoff dir ${dir} is in use by ${holder} (${file} is locked); stop it, or give this one another handoff.dir`);
  }
}

/** The handoff directory, or a file in it, could be written by someone other than the master's user. */
export class HandoffDirUnsafeError extends HandoffError {
  readonly code = 'HANDOFF_DIR_UNSAFE';
  constructor(readonly path: string, why: string) {
    super(`${path} ${why}`);
  }
}

/** The process at the other end of master.sock runs as a user we do not trust. */
export class UntrustedPeerError extends HandoffError {
  readonly code = 'HANDOFF_PEER_UNTRUSTED';
}
