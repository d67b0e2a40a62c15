// Starts the real compiled proxy (master + workers) on loopback with a config written for the
// test, and tears it down. Nothing is mocked: these are the processes a user runs.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { childPids, fdCount, waitFor } from './procfs';

export const CLI = path.resolve(__dirname, '../../proxy/cli.js');

export interface RunningProxy {
  readonly pid: number;
  readonly port: number;
  readonly url: string;
  readonly handoffDir: string;
  readonly configFile: string;
  readonly process: ChildProcess;
  /** Everything the processes wrote to stderr (the error log). */
  stderr(): string;
  /** Everything written to stdout (start-up lines, the access log). */
  stdout(): string;
  workerPids(): number[];
  /** fd counts of the master and every worker, keyed by pid. */
  fdCounts(): Map<number, number>;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export interface ProxyOptions {
  readonly upstreams: Record<string, unknown>;
  readonly routes?: unknown[];
  readonly workers?: number;
  readonly timeouts?: Record<string, unknown>;
  readonly handoff?: Record<string, unknown>;
  readonly limits?: Record<string, unknown>;
  readonly env?: NodeJS.ProcessEnv;
  /** Any other top-level config keys. */
  readonly extra?: Record<string, unknown>;
  /**
   * The proxy's stdout goes to this file (opened for appending) instead of a pipe, as a shell's
   * `>>` would: stdout() reads the file back (nothing for a device such as /dev/full). Readiness
   * is then also read from the error log, and the port, when stdout cannot tell it, from the
   * first of `extra.listeners`.
   */
  readonly stdoutTo?: string;
  /** Run the proxy as this user (the test runs as root): its files are handed over to it. */
  readonly runAs?: { readonly uid: number; readonly gid: number };
  /** Another build's cli.js (to compare builds); this checkout's by default. */
  readonly cli?: string;
}

export async function startProxy(opts: ProxyOptions): Promise<RunningProxy> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'handoff-test-'));
  const handoffDir = path.join(root, 'handoff');
  const configFile = path.join(root, 'handoff.json');
  fs.writeFileSync(
    configFile,
    JSON.stringify({
      workers: opts.workers ?? 2,
      listeners: ['127.0.0.1:0'],
      handoff: { dir: handoffDir, ...opts.handoff },
      upstreams: opts.upstreams,
      ...(opts.routes ? { routes: opts.routes } : {}),
      ...(opts.timeouts ? { timeouts: opts.timeouts } : {}),
      ...(opts.limits ? { limits: opts.limits } : {}),
      ...opts.extra,
    }),
  );
  if (opts.runAs) {
    for (const p of [root, configFile]) fs.chownSync(p, opts.runAs.uid, opts.runAs.gid);
  }
  const stdoutFd = opts.stdoutTo === undefined ? null : fs.openSync(opts.stdoutTo, 'a');
  const child = spawn(process.execPath, [opts.cli ?? CLI, '-c', configFile], {
    stdio: ['ignore', stdoutFd ?? 'pipe', 'pipe'],
    ...(opts.runAs ? { uid: opts.runAs.uid, gid: opts.runAs.gid } : {}),
    env: { ...process.env, HANDOFF_LOG_LEVEL: 'info', ...opts.env },
  });
  if (stdoutFd !== null) fs.closeSync(stdoutFd); // the child has its own copy
  let piped = '';
  let stderr = '';
  const stdoutFile = opts.stdoutTo;
  const readStdout = (): string => {
    if (stdoutFile === undefined) return piped;
    try {
      return fs.statSync(stdoutFile).isFile() ? fs.readFileSync(stdoutFile, 'utf8') : '';
    } catch {
      return '';
    }
  };
  child.stdout?.on('data', (d: Buffer) => (piped += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const workers = opts.workers ?? 2;
  try {
    await waitFor('the proxy to be ready', () => {
      if (child.exitCode !== null) throw new Error(`proxy exited with ${child.exitCode}:\n${stderr}`);
      const stdout = readStdout();
      if (stdoutFile !== undefined && stderr.includes(`(${workers} registered)`)) return true;
      return stdout.includes(`${workers} workers ready`) || (workers === 0 && stdout.includes('listening on'));
    }, 10_000);
  } catch (err) {
    killWithWorkers(child);
    throw err;
  }
  const listening = /listening on 127\.0\.0\.1:(\d+)/.exec(readStdout());
  const configured = (opts.extra?.listeners as string[] | undefined)?.[0];
  const port = Number(listening?.[1] ?? /:(\d+)$/.exec(configured ?? '')?.[1]);
  const pid = child.pid!;
  return {
    pid,
    port,
    url: `http://127.0.0.1:${port}`,
    handoffDir,
    configFile,
    process: child,
    stderr: () => stderr,
    stdout: readStdout,
    workerPids: () => childPids(pid),
    fdCounts() {
      const counts = new Map<number, number>();
      for (const p of [pid, ...childPids(pid)]) {
        try {
          counts.set(p, fdCount(p));
        } catch {
          // exited meanwhile
        }
      }
      return counts;
    },
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill(signal);
        const timer = setTimeout(() => killWithWorkers(child), 5_000);
        await exited;
        clearTimeout(timer);
      }
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
}

/**
 * SIGKILL for the master and its workers, the workers first: workers whose master is killed
 * serve on, as orphans, until a new master comes (proxy/worker/lifeboat.ts); left behind they
 * would outlive the test and keep its stdout and stderr pipes open.
 */
function killWithWorkers(master: ChildProcess): void {
  if (master.pid === undefined) return;
  for (const pid of childPids(master.pid)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // exited meanwhile
    }
  }
  master.kill('SIGKILL');
}

/** Waits until every process's fd count is back at its baseline (sockets close asynchronously). */
export async function expectFdsAtBaseline(proxy: RunningProxy, baseline: Map<number, number>, timeoutMs = 5_000): Promise<void> {
  let last = '';
  try {
    await waitFor('fd counts to return to baseline', () => {
      const now = proxy.fdCounts();
      last = [...baseline].map(([pid, n]) => `${pid}: ${n} -> ${now.get(pid)}`).join(', ');
      return [...baseline].every(([pid, n]) => now.get(pid) === undefined || now.get(pid)! <= n);
    }, timeoutMs);
  } catch {
    throw new Error(`fd counts did not return to baseline: ${last}`);
  }
}
