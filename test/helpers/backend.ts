// Starts the real compiled sample upstream (dist/backend/server.js) as a child process for
// tests. Usage:
//   const backend = await startBackend({ id: 'b1' });
//   ... fetch(`${backend.url}/echo`) ...
//   after(() => backend.stop());
import { spawn } from 'node:child_process';
import path from 'node:path';

export interface StartBackendOptions {
  /** Instance id (X-Backend-Id). Default: the server's `backend-<hostname>-<port>`. */
  id?: string;
  /** Default 0: any free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Extra environment for the child (merged over process.env). */
  env?: NodeJS.ProcessEnv;
}

export interface BackendExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface RunningBackend {
  readonly id: string;
  readonly host: string;
  readonly port: number;
  readonly pid: number;
  /** e.g. http://127.0.0.1:41234 (IPv6 hosts are bracketed). */
  readonly url: string;
  /** Resolves when the child exits, for whatever reason. */
  readonly exited: Promise<BackendExit>;
  /** Everything the child wrote to stderr so far (capped), for assertion messages. */
  stderr(): string;
  /** SIGTERM, wait for exit; SIGKILL if still alive after 3 s. Safe to call more than once. */
  stop(): Promise<void>;
  /** Sends a signal without waiting (default SIGTERM, like ChildProcess.kill); e.g. 'SIGKILL' to simulate a crash. */
  kill(signal?: NodeJS.Signals): void;
}

/** The helper compiles to dist/test/helpers/backend.js; the server to dist/backend/server.js. */
export const BACKEND_SERVER_PATH = path.resolve(__dirname, '../../backend/server.js');

const START_TIMEOUT_MS = 10_000;
const STOP_KILL_AFTER_MS = 3_000;
const STDERR_CAP = 64 * 1024;
const LISTENING_LINE = /^backend (\S+) listening on (.+):(\d+)$/;

export function startBackend(opts: StartBackendOptions = {}): Promise<RunningBackend> {
  const host = opts.host ?? '127.0.0.1';
  const args = [BACKEND_SERVER_PATH, '--port', String(opts.port ?? 0), '--host', host];
  if (opts.id !== undefined) args.push('--id', opts.id);
  const child = spawn(process.execPath, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...opts.env },
  });

  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (text: string) => {
    if (stderr.length < STDERR_CAP) stderr += text.slice(0, STDERR_CAP - stderr.length);
  });

  // 'close' rather than 'exit': it comes after stdout/stderr are drained, so a startup failure
  // is reported with the child's complete error message.
  const exited = new Promise<BackendExit>((resolve) => {
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  // A test that forgets stop() (or crashes) must not leave an orphan holding a port.
  const killOnExit = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);
  void exited.then(() => process.removeListener('exit', killOnExit));

  return new Promise<RunningBackend>((resolve, reject) => {
    let settled = false;
    const fail = (message: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`${message}\n--- backend stderr ---\n${stderr}`));
    };
    const timer = setTimeout(() => fail(`backend did not report listening within ${START_TIMEOUT_MS} ms`), START_TIMEOUT_MS);
    child.once('error', (err) => fail(`cannot spawn backend: ${err.message}`));
    void exited.then(({ code, signal }) => fail(`backend exited before listening (code ${code}, signal ${signal})`));

    let stdoutBuffer = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (text: string) => {
      if (settled) return; // keep draining so the child never blocks on a full pipe
      stdoutBuffer += text;
      const newline = stdoutBuffer.indexOf('\n');
      if (newline === -1) return;
      const match = LISTENING_LINE.exec(stdoutBuffer.slice(0, newline));
      if (match === null) return fail(`unexpected first line from backend: ${JSON.stringify(stdoutBuffer.slice(0, newline))}`);
      settled = true;
      clearTimeout(timer);
      const id = match[1]!;
      const port = Number(match[3]);
      const urlHost = host.includes(':') ? `[${host}]` : host;
      resolve(makeRunningBackend(child.pid!, id, host, port, `http://${urlHost}:${port}`));
    });
  });

  function makeRunningBackend(pid: number, id: string, host: string, port: number, url: string): RunningBackend {
    let stopping: Promise<void> | undefined;
    return {
      id,
      host,
      port,
      pid,
      url,
      exited,
      stderr: () => stderr,
      kill: (signal: NodeJS.Signals = 'SIGTERM') => {
        if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      },
      stop: () => {
        stopping ??= (async () => {
          if (child.exitCode !== null || child.signalCode !== null) return;
          child.kill('SIGTERM');
          const escalate = setTimeout(() => child.kill('SIGKILL'), STOP_KILL_AFTER_MS);
          await exited;
          clearTimeout(escalate);
        })();
        return stopping;
      },
    };
  }
}
