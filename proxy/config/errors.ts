// Config errors, modelled on fastify's config validation and `nginx -t`: collect every problem,
// then throw once, so a user fixes the whole file in one edit-and-retry cycle instead of one
// mistake per run.

import * as path from 'path';

/** One thing wrong with a config. `path` is where, in JS accessor syntax: 'upstreams.api.servers[1].address'. */
export interface ConfigProblem {
  readonly path: string;
  readonly message: string;
}

/** 1-based position in the config file (used for JSON syntax errors). */
export interface SourceLocation {
  readonly line: number;
  readonly column: number;
}

export const CONFIG_ERROR_CODE = 'HANDOFF_CONFIG_INVALID';

export class ConfigError extends Error {
  /** Stable, for programmatic checks (`err.code === 'HANDOFF_CONFIG_INVALID'`); messages may change. */
  readonly code = CONFIG_ERROR_CODE as typeof CONFIG_ERROR_CODE;
  /** Absolute path of the config file, or null for a config built in memory. */
  readonly file: string | null;
  readonly problems: readonly ConfigProblem[];
  /** Where in the file, when known (JSON syntax errors only). */
  readonly location: SourceLocation | null;

  constructor(
    file: string | null,
    problems: readonly ConfigProblem[],
    options: { location?: SourceLocation; cause?: unknown } = {},
  ) {
    const location = options.location ?? null;
    super(formatProblems(file, problems, location), options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ConfigError';
    this.file = file;
    this.problems = Object.freeze(problems.map((p) => Object.freeze({ path: p.path, message: p.message })));
    this.location = location === null ? null : Object.freeze({ ...location });
  }

  /** The file could not be read at all (ENOENT, EACCES, EISDIR...). The errno code stays in the message. */
  static unreadable(file: string, cause: unknown): ConfigError {
    const reason = cause instanceof Error ? cause.message : String(cause);
    return new ConfigError(file, [{ path: '', message: `cannot read config file: ${reason}` }], { cause });
  }

  /** The file is not valid JSON. `detail` is the parser's complaint, without its own position info. */
  static syntax(file: string | null, location: SourceLocation | null, detail: string, cause?: unknown): ConfigError {
    // Spelled out in the message too, so the problem reads on its own without the `file:line:col:` prefix.
    const where = location === null ? '' : ` at line ${location.line}, column ${location.column}`;
    return new ConfigError(file, [{ path: '', message: `invalid JSON${where}: ${detail}` }], {
      ...(location === null ? {} : { location }),
      cause,
    });
  }
}

/**
 * One line per problem: `config/handoff.json: upstreams.api.servers[1].address: expected ...`.
 * With a location (syntax errors) the compiler-style `file:line:col:` prefix, which terminals and
 * editors turn into a link.
 */
export function formatProblems(
  file: string | null,
  problems: readonly ConfigProblem[],
  location: SourceLocation | null = null,
): string {
  const where = location === null ? '' : `:${location.line}:${location.column}`;
  // Without a file (config built in memory) a location still helps: "3:5: invalid JSON: ...".
  const prefix = file === null ? (where === '' ? null : where.slice(1)) : `${displayPath(file)}${where}`;
  return problems
    .map((p) => {
      const parts = [prefix, p.path === '' ? null : p.path, p.message];
      return parts.filter((part) => part !== null).join(': ');
    })
    .join('\n');
}

/** Relative to the working directory when the file is inside it (shorter, what the user typed); else absolute. */
export function displayPath(file: string): string {
  const relative = path.relative(process.cwd(), file);
  return relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative : file;
}

/** How a value looks in a "got ..." message: strings quoted, containers named rather than dumped. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return JSON.stringify(value);
  return String(value);
}

/**
 * The candidate the user most likely meant, for "did you mean ...?" hints, or null. Compares
 * case- and separator-insensitively so nginx habits map over: "keepalive" -> "keepAlive",
 * "proxy_connect_timeout" -> "connect", "timeout" -> "timeouts".
 */
export function closestMatch(input: string, candidates: readonly string[]): string | null {
  const norm = (s: string): string => s.toLowerCase().replace(/[-_\s]/g, '');
  const wanted = norm(input);
  if (wanted === '') return null;
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const c = norm(candidate);
    // A known name inside a longer one ("connectTimeout" holds "connect") is a strong hint.
    const distance = c.length >= 4 && wanted.includes(c) ? 1 : editDistance(wanted, c);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  const allowed = wanted.length <= 3 ? 1 : Math.max(2, Math.floor(wanted.length / 3));
  return bestDistance <= allowed ? best : null;
}

/** Levenshtein distance, two rows at a time. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min(previous[j]! + 1, current[j - 1]! + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length]!;
}

/** Thrown by value parsers (durations, sizes, addresses); Checker.parse turns it into a problem. */
export class InvalidValue extends Error {}

/**
 * Collects the second pass's problems (resolve.ts). Every check reports and carries on with a
 * fallback instead of throwing, so all problems surface in one run; the fallbacks never escape,
 * as any problem ends in a ConfigError.
 */
export class Checker {
  readonly problems: ConfigProblem[] = [];

  report(at: string, message: string): void {
    this.problems.push({ path: at, message });
  }

  /** Runs a value parser; its InvalidValue becomes a problem at `at`. Other errors are bugs and propagate. */
  parse<T>(value: unknown, at: string, parser: (value: unknown) => T, fallback: T): T {
    try {
      return parser(value);
    } catch (err) {
      if (!(err instanceof InvalidValue)) throw err;
      this.report(at, err.message);
      return fallback;
    }
  }
}

/** Path of `key` under `base`: `upstreams.api`, or `upstreams["my api"]` when not identifier-like. */
export function joinPath(base: string, key: string | number): string {
  if (typeof key === 'number') return `${base}[${key}]`;
  if (!/^[A-Za-z_$][\w$-]*$/.test(key)) return `${base}[${JSON.stringify(key)}]`;
  return base === '' ? key : `${base}.${key}`;
}
