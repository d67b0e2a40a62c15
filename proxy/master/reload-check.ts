// What a reload (SIGHUP) may change. Like nginx, a reload is all-or-nothing: the new config is
// loaded, validated and resolved in full before anything changes, and any problem keeps the old
// config and the old workers. Unlike nginx, the listening sockets and the handoff directory are
// fixed for the master's life: changing them needs a restart, and a reload says so.
import { ConfigError, type ConfigProblem } from '../config/errors';
import type { Config } from '../config/types';

const key = (l: { host: string; port: number }) => `${l.host}:${l.port}`;

export function checkReloadable(current: Config, next: Config): void {
  const problems: ConfigProblem[] = [];
  const before = current.listeners.map(key).join(',');
  const after = next.listeners.map(key).join(',');
  if (before !== after) problems.push({ path: 'listeners', message: `changed from [${before}] to [${after}]: listeners change only on a restart` });
  if (current.handoff.dir !== next.handoff.dir) problems.push({ path: 'handoff.dir', message: 'the handoff directory changes only on a restart' });
  if (current.handoff.transport !== next.handoff.transport) problems.push({ path: 'handoff.transport', message: 'the transport changes only on a restart' });
  if (current.pidFile !== next.pidFile) problems.push({ path: 'pidFile', message: 'the pid file changes only on a restart' });
  if (problems.length > 0) throw new ConfigError(next.file, problems);
}
