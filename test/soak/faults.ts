// The soak's faults: a reload (SIGHUP to the master) and kill -9 of a worker, each waited on
// until the master has its workers back. What a kill can lose is what the killed worker held:
// the kernel's list of its sockets says which client connections those were.
import { socketInodes, tcpSockets, TCP_LISTEN, waitFor } from '../helpers/procfs';
import type { RunningProxy } from '../helpers/proxy';
import type { ProcessSampler } from './process-sampler';

export interface Kill {
  readonly pid: number;
  /** ms since the epoch. */
  readonly at: number;
  /** Local ports of the client connections the worker held when it died. */
  readonly clientPorts: ReadonlySet<number>;
  /** Its sockets not in the TCP table (its channel to the master, and any the table skipped). */
  readonly unmatchedSockets: number;
}

export interface Reload {
  readonly at: number;
  /** ms from the HUP until every new worker had joined. */
  readonly tookMs: number;
}

const RESPAWN_TIMEOUT_MS = 15_000;

/**
 * Client ports of the proxy-side TCP sockets this process holds. The kernel's TCP table is read
 * in pieces and may skip sockets that move while others open and close, so it is read a few
 * times and the results joined (the process itself is stopped: its sockets do not change).
 */
export function clientPortsHeldBy(pid: number, proxyPort: number): { ports: Set<number>; unmatchedSockets: number } {
  const inodes = socketInodes(pid);
  const ports = new Set<number>();
  const matched = new Set<number>();
  for (let read = 0; read < 5; read++) {
    for (const s of tcpSockets()) {
      if (!inodes.has(s.inode)) continue;
      matched.add(s.inode);
      if (s.localPort === proxyPort && s.state !== TCP_LISTEN) ports.add(s.remotePort);
    }
  }
  return { ports, unmatchedSockets: inodes.size - matched.size };
}

/** Connections this process holds to any of these upstream ports (the keep-alive pool). */
export function upstreamSocketCount(pid: number, upstreamPorts: ReadonlySet<number>): number {
  const inodes = socketInodes(pid);
  return tcpSockets().filter((s) => upstreamPorts.has(s.remotePort) && inodes.has(s.inode)).length;
}

function joined(proxy: RunningProxy, pid: number): boolean {
  return new RegExp(`\\(pid ${pid}[ ,)][^\\n]*\\) joined`).test(proxy.stderr());
}

async function newWorkersJoined(proxy: RunningProxy, sampler: ProcessSampler, before: ReadonlySet<number>, count: number): Promise<void> {
  await waitFor(`${count} new worker(s) to join`, () => {
    const fresh = sampler.servingWorkers().filter((pid) => !before.has(pid));
    for (const pid of fresh) if (joined(proxy, pid)) sampler.joined(pid);
    return fresh.length >= count && fresh.every((pid) => joined(proxy, pid));
  }, RESPAWN_TIMEOUT_MS);
}

/**
 * Stops the worker first so that the list of what it holds cannot change before it dies: the
 * master may still send it connections meanwhile, but those wait in its channel, unacknowledged,
 * and the master re-sends them to another worker once the channel closes.
 */
export async function killWorker(proxy: RunningProxy, sampler: ProcessSampler, pid: number): Promise<Kill> {
  const before = new Set(proxy.workerPids());
  process.kill(pid, 'SIGSTOP');
  const held = clientPortsHeldBy(pid, proxy.port);
  const at = Date.now();
  process.kill(pid, 'SIGKILL');
  sampler.retire(pid);
  await newWorkersJoined(proxy, sampler, before, 1);
  return { pid, at, clientPorts: held.ports, unmatchedSockets: held.unmatchedSockets };
}

export async function reload(proxy: RunningProxy, sampler: ProcessSampler, workers: number): Promise<Reload> {
  const before = new Set(proxy.workerPids());
  sampler.retireAll();
  const at = Date.now();
  process.kill(proxy.pid, 'SIGHUP');
  await newWorkersJoined(proxy, sampler, before, workers);
  return { at, tookMs: Date.now() - at };
}
