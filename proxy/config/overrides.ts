// Command-line overrides of config values (nginx's -g): `--set key.path=value` and the shortcut
// flags (--listen, --workers, --handoff-dir, --upstream) each set one place in the raw file
// before validation, so they are checked as the file is, and a reload re-applies them.

import { ConfigError, type ConfigProblem } from './errors';

/** The only key of the object there: --upstream sets the servers of the config's only upstream. */
export const ONLY_KEY = Symbol('the only key');

export interface ConfigOverride {
  readonly path: readonly (string | typeof ONLY_KEY)[];
  readonly value: unknown;
  /** As the user wrote it, for messages: '--set workers=4'. */
  readonly source: string;
}

/** "key.path=value": the value as JSON when it parses (4, true, null, ["a"]), else the text itself. */
export function parseSetOption(text: string): ConfigOverride {
  const source = `--set ${text}`;
  const equals = text.indexOf('=');
  const keys = equals === -1 ? [] : text.slice(0, equals).split('.');
  if (keys.length === 0 || keys.some((key) => key === '')) {
    throw new SyntaxError(`${source}: expected key.path=value, e.g. --set accessLog=stdout`);
  }
  const valueText = text.slice(equals + 1);
  let value: unknown = valueText;
  try {
    value = JSON.parse(valueText);
  } catch {
    // Not JSON: a plain string ("off", "X-Handoff-Worker", "5s").
  }
  return { path: keys, value, source };
}

/** A copy of `raw` with the overrides applied in order; one that cannot apply is a ConfigError. */
export function applyOverrides(raw: unknown, overrides: readonly ConfigOverride[], file: string): unknown {
  if (overrides.length === 0) return raw;
  const copy = structuredClone(raw) as Record<string, unknown>;
  const problems: ConfigProblem[] = [];
  for (const override of overrides) {
    const problem = applyOne(copy, override);
    if (problem !== null) problems.push({ path: '', message: `${override.source}: ${problem}` });
  }
  if (problems.length > 0) throw new ConfigError(file, problems);
  return copy;
}

function applyOne(root: unknown, { path, value }: ConfigOverride): string | null {
  let node = root;
  for (let i = 0; i < path.length; i++) {
    if (node === null || typeof node !== 'object') return `${describe(path.slice(0, i))} is not an object or array`;
    const container = node as Record<string, unknown>;
    let key = path[i]!;
    if (key === ONLY_KEY) {
      const keys = Object.keys(container);
      if (keys.length !== 1) return `needs exactly one entry in ${describe(path.slice(0, i))}, the file has ${keys.length}`;
      key = keys[0]!;
    }
    if (Array.isArray(container) && !/^\d+$/.test(key)) return `${describe(path.slice(0, i))} is an array: use an index`;
    // Past the end would leave holes that validation reports one by one (a million of them for
    // `routes.1000000`): an array grows by one entry, at its end.
    if (Array.isArray(container) && Number(key) > container.length) {
      return `${describe(path.slice(0, i))} has ${container.length} entries: use an index up to ${container.length} (${container.length} adds one)`;
    }
    // A config has no such keys, and walking into them would change every object of the master.
    if (!Object.hasOwn(container, key) && key in container) return `${describe(path.slice(0, i + 1))} is not a config key`;
    if (i === path.length - 1) container[key] = structuredClone(value);
    else container[key] ??= {};
    node = container[key];
  }
  return null;
}

function describe(path: readonly (string | typeof ONLY_KEY)[]): string {
  return path.length === 0 ? 'the config' : path.map((k) => (k === ONLY_KEY ? '*' : k)).join('.');
}

/** Names the override behind a problem: a problem at or under an overridden path. */
export function attributeProblems(err: ConfigError, overrides: readonly ConfigOverride[]): ConfigError {
  if (overrides.length === 0) return err;
  const problems = err.problems.map((problem) => {
    const override = [...overrides].reverse().find((o) => covers(o.path, problem.path));
    return override === undefined ? problem : { ...problem, message: `${problem.message} (from ${override.source})` };
  });
  return new ConfigError(err.file, problems, { ...(err.location === null ? {} : { location: err.location }), cause: err.cause });
}

/** Whether `at` ("upstreams.api.servers[1]") is the place `path` sets or lies under it. */
function covers(path: readonly (string | typeof ONLY_KEY)[], at: string): boolean {
  const segments = at.match(/[^.[\]"]+|"(?:[^"\\]|\\.)*"/g)?.map((s) => (s.startsWith('"') ? JSON.parse(s) as string : s)) ?? [];
  return path.length <= segments.length && path.every((key, i) => key === ONLY_KEY || key === segments[i]);
}
