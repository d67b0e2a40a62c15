// The master's pid file, as nginx's `pid`: written at start, removed at exit, and read by
// `handoff -s reload|reopen|quit|stop` to find the master to signal.
import fs from 'node:fs';
import path from 'node:path';

/** nginx's -s names and the signals they send. */
export const CONTROL_SIGNALS: Readonly<Record<string, NodeJS.Signals>> = Object.freeze({
  reload: 'SIGHUP',
  reopen: 'SIGUSR1',
  quit: 'SIGQUIT',
  stop: 'SIGTERM',
});

/** A `-s` that cannot be carried out; its message is one sentence. */
export class ControlError extends Error {}

/** Written whole or not at all (a temporary file renamed over it): a reader never sees half a pid. */
export function writePidFile(file: string): void {
  const temporary = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}`);
  fs.writeFileSync(temporary, `${process.pid}\n`, { mode: 0o644 });
  fs.renameSync(temporary, file);
}

/** Only if it still names this process: a master started since owns it now. */
export function removePidFile(file: string): void {
  try {
    if (Number.parseInt(fs.readFileSync(file, 'utf8'), 10) === process.pid) fs.unlinkSync(file);
  } catch {
    // gone already
  }
}

/** The signal `-s name` sends; throws for a name nginx's -s does not know. */
export function controlSignal(name: string): NodeJS.Signals {
  const signal = CONTROL_SIGNALS[name];
  if (signal === undefined) throw new ControlError(`unknown signal "${name}": use one of ${Object.keys(CONTROL_SIGNALS).join(', ')}`);
  return signal;
}

/** Sends `-s name` to the master the pid file names; returns its pid. */
export function signalMaster(name: string, file: string): number {
  const signal = controlSignal(name);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ControlError(code === 'ENOENT'
      ? `there is no pid file at ${file}, so no master to signal (is it running, with this config?)`
      : `the pid file ${file} cannot be read (${code})`);
  }
  const pid = Number(text.trim());
  if (!Number.isInteger(pid) || pid <= 0) throw new ControlError(`the pid file ${file} holds "${text.trim()}", which is not a process id`);
  try {
    process.kill(pid, signal);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ControlError(code === 'ESRCH'
      ? `the pid file ${file} names process ${pid}, which is not running (a stale pid file: the master did not exit cleanly)`
      : `process ${pid} from ${file} cannot be signalled (${code})`);
  }
  return pid;
}
