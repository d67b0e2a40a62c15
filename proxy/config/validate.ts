// Raw JSON -> a validated, defaulted, deep-frozen Config. Every rule (section-validators.ts, with
// the value parsers in value-parsers.ts and the address collisions in addresses.ts) records its
// problem and carries on with a fallback value, so one run reports everything wrong with the file
// (fastify style); the fallbacks never escape because any problem ends in a ConfigError.
// config/handoff.schema.json describes the same format for editors; a unit test keeps the key
// lists in schema.ts in sync.

import * as path from 'path';
import { deepFreeze } from './deep-freeze';
import { Checker, ConfigError } from './errors';
import { KNOWN_KEYS } from './schema';
import {
  validateAccessLog, validateHandoff, validateLimits, validateListeners, validateRoutes, validateStatus, validateTimeouts,
  validateUpgrades, validateUpstreams, validateWorkerPriority, validateWorkers,
} from './section-validators';
import type { Config } from './types';

// The config module's public names, importable from here as before the split.
export { ACCESS_LOG_TARGETS, DEFAULT_TIMEOUTS, DEFAULT_UPGRADES, KNOWN_KEYS, MAX_WORKERS, POLICIES, TRANSPORTS } from './schema';
export {
  MAX_DURATION_MS, parseDuration, parseHost, parseHostPort, parsePathPrefix, parseRouteHost, parseSize,
} from './value-parsers';

export function validateConfig(raw: unknown, file: string | null): Config {
  const absoluteFile = file === null ? null : path.resolve(file);
  const check = new Checker();
  const root = check.object(raw, '');
  if (root === null) throw new ConfigError(absoluteFile, check.problems);
  check.knownKeys(root, KNOWN_KEYS.root, '');

  // Sections in file order, so problems are listed in roughly the order the user reads them.
  const workers = validateWorkers(check, root.workers);
  const handoff = validateHandoff(check, root.handoff, absoluteFile);
  const { listeners, addresses: listenerAddresses } = validateListeners(check, root.listeners);
  const upstreams = validateUpstreams(check, root.upstreams);
  const config: Config = {
    file: absoluteFile,
    workers,
    workerPriority: validateWorkerPriority(check, root.workerPriority),
    handoff,
    listeners,
    upstreams: upstreams.byName,
    routes: validateRoutes(check, root.routes, upstreams.names),
    timeouts: validateTimeouts(check, root.timeouts),
    limits: validateLimits(check, root.limits),
    accessLog: validateAccessLog(check, root.accessLog),
    status: validateStatus(check, root.status, listenerAddresses),
    upgrades: validateUpgrades(check, root.upgrades),
  };
  if (check.problems.length > 0) throw new ConfigError(absoluteFile, check.problems);
  return deepFreeze(config);
}
