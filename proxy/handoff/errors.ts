// The handoff directory's failures, as typed errors.
import { HandoffError } from '../observability/handoff-error';

/** Another master holds the handoff directory's lock. */
export class HandoffDirInUseError extends HandoffError {
  readonly code = 'HANDOFF_DIR_IN_USE';
  constructor(readonly dir: string, readonly holder: string, file: string) {
    super(`handoff dir ${dir} is in use by ${holder} (${file} is locked); stop it, or give this one another handoff.dir`);
  }
}
