// The handoff directory: the rendezvous between a master and its workers, wherever they run.
// It holds the master's socket and the config the workers must serve, so a worker needs only
// the directory's path to join (docker-compose mounts it as a shared volume).
//
//   <dir>/master.sock    SOCK_SEQPACKET, mode 0600: workers connect here
//   <dir>/config.json    the master's validated config, mode 0600, replaced atomically
//   <dir>/master.json    the master's pid, hostname and network namespace (host-identity.ts)
//   <dir>/master.lock    flock(2)ed by the master while it runs, holding its pid: one master per
//                        directory (two would fight over master.sock). Never removed: unlinking a
//                        lock file someone may have just opened would let two masters both lock.
//
// Only the master's user may write here (trust.ts): the master refuses any other directory, and
// workers check what they read.
import fs from 'node:fs';
import path from 'node:path';
import { DEFAULT_TIMEOUTS } from '../config/timeout-defaults';
import type { Config } from '../config/types';
import { HandoffDirInUseError } from './errors';
import type { MasterIdentity } from './host-identity';
import { native } from './native';
import { MASTER_SOCKET_NAME } from './protocol';
import { readTrustedFile, secureHandoffDir } from './trust';

const CONFIG_NAME = 'config.json';
const IDENTITY_NAME = 'master.json';
const LOCK_NAME = 'master.lock';

export function masterSocketPath(dir: string): string {
  return path.join(dir, MASTER_SOCKET_NAME);
}

export function lockPath(dir: string): string {
  return path.join(dir, LOCK_NAME);
}

export function configPath(dir: string): string {
  return path.join(dir, CONFIG_NAME);
}

/**
 * Creates the directory (and parents) with mode 0700, or checks an existing one is ours and
 * writable by nobody else (then tightens it to 0700). Throws HandoffDirUnsafeError if not.
 */
export function prepareHandoffDir(dir: string): void {
  secureHandoffDir(dir);
}

/**
 * Takes the directory for this master; the returned fd must stay open while the master runs.
 * Throws HandoffDirInUseError, naming the other master's pid, when one already holds it.
 */
export function lockHandoffDir(dir: string): number {
  const file = lockPath(dir);
  const fd = native.lockFile(file);
  if (fd < 0) {
    let holder = 'another process';
    try {
      const pid = Number.parseInt(fs.readFileSync(file, 'utf8'), 10);
      if (pid > 0) holder = `the master with pid ${pid}`;
    } catch {
      // unreadable: say less
    }
    throw new HandoffDirInUseError(dir, holder, file);
  }
  fs.ftruncateSync(fd);
  fs.writeSync(fd, `${process.pid}\n`, 0);
  return fd;
}

/** Publishes the config for workers: write a temporary file, then rename over the old one. */
export function publishConfig(dir: string, config: Config): void {
  writeAtomically(path.join(dir, CONFIG_NAME), JSON.stringify(config));
}

/**
 * A reader sees the old file or the new one, never half of one. On failure (ENOSPC, the
 * directory gone) it throws and the old file stays; no temporary file is left behind. The
 * temporary file is created afresh (O_EXCL: never through a symlink planted under its name).
 */
function writeAtomically(target: string, text: string): void {
  const temp = `${target}.${process.pid}.tmp`;
  fs.rmSync(temp, { force: true });
  try {
    fs.writeFileSync(temp, text, { mode: 0o600, flag: 'wx' });
    fs.renameSync(temp, target);
  } catch (err) {
    fs.rmSync(temp, { force: true });
    throw err;
  }
}

/** Publishes who the master is, so a joining worker can tell whether it can serve (unfitness). */
export function publishMasterIdentity(dir: string, identity: MasterIdentity): void {
  writeAtomically(path.join(dir, IDENTITY_NAME), JSON.stringify(identity));
}

/** What the master published about itself, or null (a master older than this worker publishes nothing). */
export function readMasterIdentity(dir: string): MasterIdentity | null {
  try {
    const parsed = JSON.parse(readTrustedFile(dir, IDENTITY_NAME)) as Partial<MasterIdentity>;
    return typeof parsed.netns === 'number' && typeof parsed.pid === 'number'
      ? { pid: parsed.pid, host: String(parsed.host ?? ''), netns: parsed.netns, ...(typeof parsed.serving === 'boolean' ? { serving: parsed.serving } : {}) }
      : null;
  } catch {
    return null;
  }
}

/**
 * Which master.json this is: a new master renames a new file into place, so its inode (and
 * time) differ from the one a dead master left behind, even when the new master's pid is the
 * same (pid 1 again, in a new container). null: there is none.
 */
export function masterIdentityStamp(dir: string): string | null {
  try {
    const stat = fs.statSync(path.join(dir, IDENTITY_NAME));
    return `${stat.dev}:${stat.ino}:${stat.mtimeMs}`;
  } catch {
    return null;
  }
}

/**
 * The config the master published. It was validated by the master; the directory and the file
 * are checked to be writable only by our user or root (HandoffDirUnsafeError if not). A master
 * older than this worker (another container, a rolling upgrade) may not know every timeout yet:
 * those get their defaults, never undefined.
 */
export function readPublishedConfig(dir: string): Config {
  const config = JSON.parse(readTrustedFile(dir, CONFIG_NAME)) as Config;
  return { ...config, timeouts: { ...DEFAULT_TIMEOUTS, ...config.timeouts } };
}

/** Removes what the master created (not the directory: it may be a mounted volume). */
export function cleanHandoffDir(dir: string): void {
  for (const name of [MASTER_SOCKET_NAME, CONFIG_NAME, IDENTITY_NAME]) {
    try {
      fs.unlinkSync(path.join(dir, name));
    } catch {
      // already gone
    }
  }
}
