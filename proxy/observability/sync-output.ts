// A blocking write of whole lines to an fd this process does not own (stderr, stdout), as nginx
// writes its error log: in order, at once, so a line logged just before process.exit() is out.
// It never throws: a full disk (ENOSPC), a pipe whose reader went away (EPIPE) or a full
// non-blocking pipe (EAGAIN) loses that text, counted, and the next write tries again.
import fs from 'node:fs';

/** "ENOSPC: no space left on device" from an fs error ("ENOSPC: no space left on device, write"). */
export function describeWriteError(err: unknown): string {
  const { code, message } = err as NodeJS.ErrnoException;
  const reason = typeof message === 'string' ? message.split(',')[0]! : String(err);
  return code && !reason.startsWith(code) ? `${code}: ${reason}` : reason;
}

export class SyncOutput {
  /** Writes that failed since the last one that worked. */
  dropped = 0;
  /** Why the first of them failed; null while writes work. */
  failedWith: string | null = null;

  constructor(readonly fd: number) {}

  /** true: all of `text` was written. */
  write(text: string): boolean {
    const bytes = Buffer.from(text);
    let offset = 0;
    try {
      while (offset < bytes.length) offset += fs.writeSync(this.fd, bytes, offset, bytes.length - offset);
      return true;
    } catch (err) {
      this.dropped++;
      this.failedWith ??= describeWriteError(err);
      return false;
    }
  }

  /** After a write that worked: how many were lost before it, and why; null when none were. */
  takeLoss(): { dropped: number; reason: string } | null {
    if (this.dropped === 0) return null;
    const loss = { dropped: this.dropped, reason: this.failedWith ?? 'unknown' };
    this.dropped = 0;
    this.failedWith = null;
    return loss;
  }
}

/**
 * Node's own stdout and stderr streams emit 'error' on a failed write (EPIPE, ENOSPC), and an
 * 'error' nobody listens to ends the process. Whatever still writes through them (Node's
 * warnings, a library's console.log) loses that text instead.
 */
export function guardStandardStreams(): void {
  for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {});
}

/** The start-up lines the master prints on stdout ("listening on ..."). */
export const stdoutLines = new SyncOutput(1);
