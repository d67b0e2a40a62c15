// What a master and its workers tell each other about where they run, beyond a pid (pids are per
// container: a worker in another one may show any number, even one of the master's children's).
//
//   hostname            os.hostname(): the container id in Docker, so the dashboard can tell
//                       workers apart by host
//   network namespace   the inode of /proc/self/ns/net. Compared, it answers "does a port this
//                       worker binds reach the proxy's clients?" exactly: every process on one
//                       kernel sees the same inode for the same namespace, and a master and its
//                       workers always share a kernel (a Unix socket connects nothing else). A
//                       hostname cannot answer it: two containers of one Kubernetes pod share a
//                       namespace under two hostnames, and `hostname:` in compose changes the
//                       name alone.
//   spawn key           a random number the master gives its own children in their environment
//                       and that they repeat in REGISTER: "spawned by this master", which a pid
//                       cannot say across containers. An identity, not a secret: the handoff
//                       socket's mode (0600) is what keeps strangers out.
import { randomInt } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import { safeHostname, type Unfitness } from './protocol';
import type { HandoffTransport } from '../config/types';

export const SPAWN_KEY_ENV = 'HANDOFF_SPAWN_KEY';
/**
 * The host a worker reports in REGISTER, instead of its hostname: for tests and the workshop, to
 * show a worker started by hand on the master's machine as one of another container. A label
 * only: whether it can serve is judged from the network namespace, never from this.
 */
export const WORKER_HOST_ENV = 'HANDOFF_WORKER_HOST';

/** A fresh key for one master run (never 0: 0 says "not spawned"). */
export function newSpawnKey(): number {
  return randomInt(1, 2 ** 32 - 1);
}

/** The key in this process's environment, or 0. */
export function inheritedSpawnKey(): number {
  const value = Number(process.env[SPAWN_KEY_ENV]);
  return Number.isInteger(value) && value > 0 && value < 2 ** 32 ? value : 0;
}

export function hostName(): string {
  return safeHostname(os.hostname());
}

/** What a worker calls its host: HANDOFF_WORKER_HOST when set (not empty), else its hostname. */
export function workerHostName(): string {
  const override = process.env[WORKER_HOST_ENV];
  return override ? safeHostname(override) : hostName();
}

/** The inode of this process's network namespace, or 0 where /proc cannot tell (not Linux, no /proc). */
export function networkNamespace(): number {
  try {
    const match = /^net:\[(\d+)\]$/.exec(fs.readlinkSync('/proc/self/ns/net'));
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}

/** What the master publishes about itself in the handoff directory, for workers to compare with. */
export interface MasterIdentity {
  readonly pid: number;
  readonly host: string;
  /** 0: unknown. */
  readonly netns: number;
  /**
   * Whether a worker has registered with it, so that it can serve the connections it accepts:
   * until then, workers orphaned by the master before it keep accepting (lifeboat.ts).
   * Undefined from a master older than protocol 5, which never says.
   */
  readonly serving?: boolean;
}

export function ownIdentity(): MasterIdentity {
  return { pid: process.pid, host: hostName(), netns: networkNamespace(), serving: false };
}

/**
 * Whether a worker can serve under the master's transport, judged by the worker when it joins.
 * `master` is null when an older master published nothing: then only ipc can be judged.
 */
export function unfitness(transport: HandoffTransport, hasIpcChannel: boolean, master: MasterIdentity | null): Unfitness | null {
  if (transport === 'ipc' && !hasIpcChannel) return 'ipc-not-spawned';
  if (transport === 'reuseport' && master && master.netns !== 0) {
    const mine = networkNamespace();
    if (mine !== 0 && mine !== master.netns) return 'reuseport-other-netns';
  }
  return null;
}

/** For log lines and the dashboard. */
export function describeUnfitness(unfit: Unfitness): string {
  return unfit === 'ipc-not-spawned'
    ? 'the ipc transport passes connections only to the master\'s own children'
    : 'reuseport binds the ports in this worker\'s network namespace, not the proxy\'s';
}
