// As nginx's master opens the log files before it starts (or reloads) anything: an access-log
// file that cannot be opened for appending (a directory that does not exist, no permission) is a
// configuration problem, said at once, rather than an alert from every worker afterwards.
// Workers in other containers open their own; each of them alerts if it cannot.
import fs from 'node:fs';
import { ConfigError } from '../config/errors';
import type { Config } from '../config/types';

export function checkAccessLogFile(config: Config): void {
  const file = config.accessLog?.file;
  if (file === null || file === undefined) return;
  try {
    fs.closeSync(fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_CREAT, 0o644));
  } catch (err) {
    const { code, message } = err as NodeJS.ErrnoException;
    throw new ConfigError(config.file, [{ path: 'accessLog.path', message: `"${file}" cannot be opened for appending (${code ?? message})` }]);
  }
}
