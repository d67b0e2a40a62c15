// The handoff directory: the rendezvous between a master and its workers, wherever they run.
// It holds the master's socket and the config the workers must serve, so a worker needs only
// the directory's path to join (docker-compose mounts it as a shared volume).
//
//   <dir>/master.sock    SOCK_SEQPACKET, mode 0600: workers connect here
//   <dir>/config.json    the master's validated config, mode 0600, replaced atomically
//   <dir>/master.lock    flock(2)ed by the master while it runs, holding its pid: one master per
//                        directory (two would fight over master.sock). Never removed: unlinking a
//                        lock file someone may have just opened would let two masters both lock.
import fs from 'node:fs';
import path from 'node:path';
import { DEFAULT_TIMEOUTS } from '../config/schema';
import type { Config } from '../config/types';
import { native } from './native';
import { MASTER_SOCKET_NAME } from './protocol';

const CONFIG_NAME = 'config.json';
const LOCK_NAME = 'master.lock';

export function masterSocketPath(dir: string): string {
  return path.join(dir, MASTER_SOCKET_NAME);
}

/** Creates the directory (and parents) with mode 0700, and tightens an existing one. */
export function prepareHandoffDir(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  fs.chmodSync(dir, 0o700);
}

/**
 * Takes the directory for this master; the returned fd must stay open while the master runs.
 * Throws EBUSY, naming the other master's pid, when one already holds it.
 */
export function lockHandoffDir(dir: string): number {
  const file = path.join(dir, LOCK_NAME);
  const fd = native.lockFile(file);
  if (fd < 0) {
    let holder = 'another process';
    try {
      const pid = Number.parseInt(fs.readFileSync(file, 'utf8'), 10);
      if (pid > 0) holder = `the master with pid ${pid}`;
    } catch {
      // unreadable: say less
    }
    throw Object.assign(new Error(`handoff dir ${dir} is in use by ${holder} (${file} is locked); stop it, or give this one another handoff.dir`), { code: 'EBUSY' });
  }
  fs.ftruncateSync(fd);
  fs.writeSync(fd, `${process.pid}\n`, 0);
  return fd;
}

/** Publishes the config for workers: write a temporary file, then rename over the old one. */
export function publishConfig(dir: string, config: Config): void {
  const target = path.join(dir, CONFIG_NAME);
  const temp = `${target}.${process.pid}.tmp`;
  fs.writeFileSync(temp, JSON.stringify(config), { mode: 0o600 });
  fs.renameSync(temp, target);
}

/**
 * The config the master published. It was validated by the master; the directory is 0700. A
 * master older than this worker (another container, a rolling upgrade) may not know every
 * timeout yet: those get their defaults, never undefined.
 */
export function readPublishedConfig(dir: string): Config {
  const config = JSON.parse(fs.readFileSync(path.join(dir, CONFIG_NAME), 'utf8')) as Config;
  return { ...config, timeouts: { ...DEFAULT_TIMEOUTS, ...config.timeouts } };
}

/** Removes what the master created (not the directory: it may be a mounted volume). */
export function cleanHandoffDir(dir: string): void {
  for (const name of [MASTER_SOCKET_NAME, CONFIG_NAME]) {
    try {
      fs.unlinkSync(path.join(dir, name));
    } catch {
      // already gone
    }
  }
}
