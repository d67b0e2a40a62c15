// Raw JSON -> a validated, defaulted, deep-frozen Config, in two passes whose problems are
// reported together: the JSON Schema (schema-check.ts), then what a schema cannot say
// (resolve.ts). Problems are listed in the order of the file, one per place: where both passes
// name the same place, the second pass's message is the more precise one (it parsed the value).

import * as path from 'path';
import { deepFreeze } from './deep-freeze';
import { Checker, ConfigError, type ConfigProblem, joinPath } from './errors';
import { resolveConfig } from './resolve';
import { schemaProblems } from './schema-check';
import type { Config } from './types';

// The config module's public names, importable from here.
export { ACCESS_LOG_FORMATS, ACCESS_LOG_TARGETS, DEFAULT_TIMEOUTS, DEFAULT_UPGRADES, MAX_WORKERS, POLICIES, TRANSPORTS } from './schema';
export {
  MAX_DURATION_MS, parseDuration, parseHost, parseHostPort, parsePathPrefix, parseRouteHost, parseSize,
} from './value-parsers';

export function validateConfig(raw: unknown, file: string | null): Config {
  const absoluteFile = file === null ? null : path.resolve(file);
  const structural = schemaProblems(raw);
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError(absoluteFile, structural);
  const check = new Checker();
  const config = resolveConfig(check, raw as Record<string, unknown>, absoluteFile);
  const precise = new Set(check.problems.map((p) => p.path));
  const problems = [...structural.filter((p) => !precise.has(p.path)), ...check.problems];
  if (problems.length > 0) throw new ConfigError(absoluteFile, inFileOrder(raw, problems));
  return deepFreeze(config);
}

/** Sorted by where their path (or, for a missing key, its parent) appears in the file; stable. */
function inFileOrder(raw: object, problems: ConfigProblem[]): ConfigProblem[] {
  const order = new Map<string, number>();
  const walk = (value: unknown, at: string): void => {
    order.set(at, order.size);
    if (value !== null && typeof value === 'object') {
      for (const [key, child] of Object.entries(value)) walk(child, joinPath(at, Array.isArray(value) ? Number(key) : key));
    }
  };
  walk(raw, '');
  const position = (at: string): number => {
    // Drops the last segment: ".key", "[0]", '["odd key"]', or the first key itself.
    for (let p = at; ; p = p.replace(/(\.[^.[\]]+|\[[^\]]*\]|^[^.[\]]+)$/, '')) {
      const found = order.get(p);
      if (found !== undefined) return found;
      if (p === '') return 0;
    }
  };
  return problems.map((p) => ({ p, at: position(p.path) })).sort((a, b) => a.at - b.at).map(({ p }) => p);
}
