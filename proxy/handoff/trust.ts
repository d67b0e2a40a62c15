// Who may be trusted through the handoff directory. Whoever can write into it can replace
// config.json, and so send all traffic through the next worker to a server of their choosing,
// or listen on master.sock in the master's place. So the directory, and every file a worker
// reads from it, must belong to the master's user (or root) and be writable by nobody else;
// and each end of master.sock asks the kernel (SO_PEERCRED) who is at the other end.
//
// Workers read their config from the directory rather than receive it over the channel: a
// channel message carries at most 64 bytes (MAX_MESSAGE_SIZE) and a config is kilobytes. So
// they verify what they read instead.
import fs from 'node:fs';
import path from 'node:path';
import { HandoffDirUnsafeError } from './errors';
import { native } from './native';

const GROUP_OR_OTHER_WRITE = 0o022;

function ownUid(): number {
  return process.geteuid?.() ?? 0;
}

/** Our own user, or root (who can read and write everything anyway). */
export function isTrustedUid(uid: number): boolean {
  return uid === ownUid() || uid === 0;
}

const octal = (mode: number) => (mode & 0o7777).toString(8).padStart(4, '0');

/**
 * The master's check: the directory (created 0700 if missing) is owned by the master's user and
 * writable by nobody else; then it is tightened to 0700. Another user's directory is refused,
 * never chmodded; so is a group- or world-writable one, even ours: whoever could write into it
 * may already have planted a file (a symlink named like our temporary file), and a chmod now
 * would not undo that. Throws HandoffDirUnsafeError, whose message says what to do.
 */
export function secureHandoffDir(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const link = fs.lstatSync(dir);
  // A symlink's owner could point it elsewhere later, wherever it points now.
  if (link.isSymbolicLink() && !isTrustedUid(link.uid)) {
    throw new HandoffDirUnsafeError(dir, `is a symlink owned by uid ${link.uid}, who could point it elsewhere: use a directory of your own as handoff.dir`);
  }
  const st = fs.statSync(dir);
  if (!st.isDirectory()) throw new HandoffDirUnsafeError(dir, 'is not a directory');
  if (st.uid !== ownUid()) {
    throw new HandoffDirUnsafeError(
      dir,
      `is owned by uid ${st.uid}, not by this master's user (uid ${ownUid()}): its owner could replace config.json; remove it, or set handoff.dir to a directory of your own`,
    );
  }
  if ((st.mode & GROUP_OR_OTHER_WRITE) !== 0) {
    throw new HandoffDirUnsafeError(
      dir,
      `is writable by other users (mode ${octal(st.mode)}): they could replace config.json; empty it and chmod 700 it, or set handoff.dir to a new directory`,
    );
  }
  if ((st.mode & 0o777) !== 0o700) fs.chmodSync(dir, 0o700);
}

/** What is wrong with an owner and mode, for a worker (our user or root, no group/other write). */
function ownershipProblem(st: fs.Stats): string | null {
  if (!isTrustedUid(st.uid)) return `is owned by uid ${st.uid}, not by this worker's user (uid ${ownUid()}) or root`;
  if ((st.mode & GROUP_OR_OTHER_WRITE) !== 0) return `is writable by other users (mode ${octal(st.mode)})`;
  return null;
}

/**
 * A worker's read of a file the master published: the directory and the file must pass
 * ownershipProblem. The file is opened without following a symlink, and the opened fd is
 * checked (fstat), so what is checked is what is read. Throws HandoffDirUnsafeError.
 */
export function readTrustedFile(dir: string, name: string): string {
  const dirProblem = ownershipProblem(fs.statSync(dir));
  if (dirProblem) throw new HandoffDirUnsafeError(dir, `${dirProblem}: refusing to serve the config in it`);
  const file = path.join(dir, name);
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') throw new HandoffDirUnsafeError(file, 'is a symlink: refusing to read it');
    throw err;
  }
  try {
    const st = fs.fstatSync(fd);
    const problem = st.isFile() ? ownershipProblem(st) : 'is not a regular file';
    if (problem) throw new HandoffDirUnsafeError(file, `${problem}: refusing to serve it`);
    return fs.readFileSync(fd, 'utf8');
  } finally {
    fs.closeSync(fd);
  }
}

/** Why the process at the other end of a Unix socket is not to be trusted, or null when it is. */
export function untrustedPeer(fd: number): string | null {
  const peer = native.peerCredentials(fd);
  if (isTrustedUid(peer.uid)) return null;
  return `pid ${peer.pid} runs as uid ${peer.uid}, not as ${ownUid() === 0 ? 'root' : `uid ${ownUid()} or root`}`;
}
