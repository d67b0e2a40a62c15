// What the kernel says about processes and sockets: fd counts, socket ownership, children.
// Tests use it to show the handoff is real (who owns which socket) and that nothing leaks.
import fs from 'node:fs';

export function fdCount(pid: number): number {
  return fs.readdirSync(`/proc/${pid}/fd`).length;
}

/** Resident set size in bytes (/proc/PID/status's VmRSS, which the kernel gives in kB). */
export function rssBytes(pid: number): number {
  const m = /^VmRSS:\s*(\d+) kB$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (m === null) throw new Error(`no VmRSS for ${pid} (a zombie has none)`);
  return Number(m[1]) * 1024;
}

/** The number after `key:` in a /proc file of `key: value` lines (io, status). */
function procNumber(file: string, key: string): number {
  const m = new RegExp(`^${key}:\\s*(\\d+)$`, 'm').exec(fs.readFileSync(file, 'utf8'));
  if (m === null) throw new Error(`no ${key} in ${file}`);
  return Number(m[1]);
}

/** write(2) and writev(2) calls the process has made so far (/proc/PID/io's syscw). */
export function writeSyscalls(pid: number): number {
  return procNumber(`/proc/${pid}/io`, 'syscw');
}

/** The nice value of the process's main thread (/proc/PID/stat, field 19). */
export function niceOf(pid: number): number {
  return niceIn(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
}

/** The nice values of the process's threads other than the main one (a nice value is per thread on Linux). */
export function helperThreadNices(pid: number): number[] {
  const nices: number[] = [];
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    if (tid === String(pid)) continue;
    try {
      nices.push(niceIn(fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')));
    } catch {
      // the thread ended meanwhile
    }
  }
  return nices;
}

function niceIn(stat: string): number {
  // The command name (field 2) may hold spaces and parentheses: count fields after its last ')'.
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
}

/** Times the process's main thread (the event loop) has gone to sleep: its wakeups, near enough. */
export function voluntarySwitches(pid: number): number {
  return procNumber(`/proc/${pid}/status`, 'voluntary_ctxt_switches');
}

/** Inodes of every socket the process has open. */
export function socketInodes(pid: number): Set<number> {
  const inodes = new Set<number>();
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(Number(m[1]));
    } catch {
      // closed while we looked
    }
  }
  return inodes;
}

export interface TcpSocketEntry {
  readonly localPort: number;
  readonly remotePort: number;
  /** Kernel TCP state: 0x0A is LISTEN, 0x01 ESTABLISHED. */
  readonly state: number;
  readonly inode: number;
}

export const TCP_LISTEN = 0x0a;
export const TCP_ESTABLISHED = 0x01;

/** Every IPv4 and IPv6 TCP socket of this network namespace (/proc/net/tcp{,6}). */
export function tcpSockets(): TcpSocketEntry[] {
  const out: TcpSocketEntry[] = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 10) continue;
      out.push({
        localPort: parseInt(cols[1].split(':')[1], 16),
        remotePort: parseInt(cols[2].split(':')[1], 16),
        state: parseInt(cols[3], 16),
        inode: Number(cols[9]),
      });
    }
  }
  return out;
}

export function childPids(pid: number): number[] {
  try {
    return fs
      .readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Polls `check` until it returns true, or fails with `what` after `timeoutMs`. */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
