// The handoff directory: the rendezvous between a master and its workers, wherever they run.
// It holds the master's socket and the config the workers must serve, so a worker needs only
// the directory's path to join (docker-compose mounts it as a shared volume).
//
//   <dir>/master.sock    SOCK_SEQPACKET, mode 0600: workers connect here
//   <dir>/config.json    the master's validated config, mode 0600, replaced atomically
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../config/types';
import { MASTER_SOCKET_NAME } from './protocol';

const CONFIG_NAME = 'config.json';

export function masterSocketPath(dir: string): string {
  return path.join(dir, MASTER_SOCKET_NAME);
}

/** Creates the directory (and parents) with mode 0700, and tightens an existing one. */
export function prepareHandoffDir(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  fs.chmodSync(dir, 0o700);
}

/** Publishes the config for workers: write a temporary file, then rename over the old one. */
export function publishConfig(dir: string, config: Config): void {
  const target = path.join(dir, CONFIG_NAME);
  const temp = `${target}.${process.pid}.tmp`;
  fs.writeFileSync(temp, JSON.stringify(config), { mode: 0o600 });
  fs.renameSync(temp, target);
}

/** The config the master published. It was validated by the master; the directory is 0700. */
export function readPublishedConfig(dir: string): Config {
  return JSON.parse(fs.readFileSync(path.join(dir, CONFIG_NAME), 'utf8')) as Config;
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
