// Fuzzing the config loader (proxy/config): arbitrary JSON, mutations of the repo's own configs,
// and random --set overrides. Whatever the input, loading either returns a deep-frozen Config
// or throws one ConfigError listing problems, never anything else, never hangs (the watchdog in
// test/helpers/fuzz.ts), and `__proto__`/`constructor` keys never reach Object.prototype.
//
// CI runs HANDOFF_FUZZ_RUNS (default 1000) / cost inputs per property (a load costs about 4 parses). Longer, by hand:
//   npm run build && HANDOFF_FUZZ_RUNS=20000 node --test dist/test/fuzz/config-loader.test.js
// A failure prints its seed and path; HANDOFF_FUZZ_SEED and HANDOFF_FUZZ_PATH replay it.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ConfigError } from '../../proxy/config/errors';
import { firstJsonErrorOffset, loadConfigFile } from '../../proxy/config/load';
import { type ConfigOverride, parseSetOption } from '../../proxy/config/overrides';
import { validateConfig } from '../../proxy/config/validate';
import { onPropertyThread, runPureProperty } from '../helpers/fuzz';

const REPO_CONFIGS = ['config/handoff.json', 'config/docker.json', 'config/examples/host-routing.json', 'config/examples/ipc-transport.json']
  .map((f) => path.resolve(__dirname, '../../..', f));
const valid = REPO_CONFIGS.map((f) => JSON.parse(fs.readFileSync(f, 'utf8')) as Record<string, unknown>);

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'handoff-fuzz-config-'));
process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
const file = path.join(dir, `config-${process.pid}-${Math.random().toString(36).slice(2)}.json`);

function isDeepFrozen(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return true;
  return Object.isFrozen(value) && Object.values(value).every(isDeepFrozen);
}

const PROTO_KEYS = Object.getOwnPropertyNames(Object.prototype).length;

/** Loads `text` with `overrides`: a frozen config or a ConfigError with problems; nothing else. */
function checkLoad(text: string, overrides: readonly ConfigOverride[]): void {
  fs.writeFileSync(file, text);
  try {
    const config = loadConfigFile(file, overrides);
    assert.ok(isDeepFrozen(config), 'the config is frozen all the way down');
  } catch (err) {
    if (!(err instanceof ConfigError)) throw new Error(`not a ConfigError: ${(err as Error)?.stack ?? String(err)}`);
    assert.ok(err.problems.length > 0, 'a ConfigError names its problems');
  }
  assert.equal(Object.getOwnPropertyNames(Object.prototype).length, PROTO_KEYS, 'Object.prototype is untouched');
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
}

const hostileKey = fc.constantFrom('__proto__', 'constructor', 'prototype', 'polluted', 'toString', 'hasOwnProperty');
const key = fc.oneof(fc.string({ maxLength: 8 }), hostileKey, fc.constantFrom('workers', 'listeners', 'upstreams', 'routes', 'timeouts', 'limits', 'handoff', 'status', 'servers', 'address', 'port', 'host', 'read', 'dir'));
const json: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom(null, true, false, 0, -1, 1.5, 1e300, 65536, '', 'auto', '127.0.0.1:0', '1s', '10m', 'stdout', 'off'),
    fc.string({ maxLength: 12 }),
    fc.integer(),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(key, tie('value'), { maxKeys: 4 }),
  ),
})).value;

/** A repo config with a few values replaced, removed or added at random paths. */
const mutatedConfig = fc.tuple(fc.nat({ max: valid.length - 1 }), fc.array(fc.tuple(fc.array(fc.nat(), { minLength: 1, maxLength: 4 }), fc.nat({ max: 2 }), key, json), { minLength: 1, maxLength: 4 }))
  .map(([which, edits]) => {
    const config = structuredClone(valid[which]!) as Record<string, unknown>;
    for (const [walk, kind, newKey, value] of edits) {
      let node: Record<string, unknown> = config;
      for (const step of walk.slice(0, -1)) {
        const keys = Object.keys(node);
        const child = keys.length === 0 ? undefined : node[keys[step % keys.length]!];
        if (child === null || typeof child !== 'object') break;
        node = child as Record<string, unknown>;
      }
      const keys = Object.keys(node);
      const target = keys.length === 0 || kind === 2 ? newKey : keys[walk.at(-1)! % keys.length]!;
      if (kind === 1) delete node[target];
      else Object.defineProperty(node, target, { value, enumerable: true, writable: true, configurable: true });
    }
    return JSON.stringify(config);
  });

/** Text edits of valid JSON: the syntax errors an editor makes. */
const mutatedText = fc.tuple(fc.nat({ max: valid.length - 1 }), fc.array(fc.tuple(fc.nat(), fc.constantFrom('', ',', '}', ']', '"', "'", '//', '\n', ':', '{', '\u0000', '\ufeff')), { minLength: 1, maxLength: 3 }))
  .map(([which, edits]) => {
    let text = JSON.stringify(valid[which], null, 2);
    for (const [at, insert] of edits) {
      const i = at % (text.length + 1);
      text = insert === '' ? text.slice(0, i) + text.slice(i + 1) : text.slice(0, i) + insert + text.slice(i);
    }
    return text;
  });

const index = fc.oneof(fc.nat({ max: 3 }).map(String), fc.constantFrom('1000000', '4294967295', '-1', '1e3', '00'));
const overridePath = fc.oneof(
  fc.array(fc.oneof(key, index), { minLength: 1, maxLength: 4 }),
  fc.tuple(fc.constantFrom('listeners', 'routes', 'upgrades'), index, fc.array(key, { maxLength: 1 })).map(([k, i, rest]) => [k, i, ...rest]),
);
const override = fc.oneof(
  fc.tuple(overridePath, json).map(([p, v]) => `${p.join('.')}=${JSON.stringify(v)}`),
  fc.tuple(overridePath, fc.string({ maxLength: 10 })).map(([p, v]) => `${p.join('.')}=${v}`),
  fc.string({ maxLength: 20 }),
);

const properties = {
  'any JSON value: a frozen config or a ConfigError': {
    cost: 4,
    arbitrary: json,
    check: (raw: unknown) => {
      try {
        assert.ok(isDeepFrozen(validateConfig(raw, null)));
      } catch (err) {
        if (!(err instanceof ConfigError)) throw new Error(`not a ConfigError: ${(err as Error)?.stack ?? String(err)}`);
        assert.ok(err.problems.length > 0);
      }
    },
  },
  'a mutated repo config, as a file: a frozen config or a ConfigError': {
    cost: 4,
    arbitrary: fc.oneof(mutatedConfig, mutatedText),
    check: (text: string) => checkLoad(text, []),
  },
  'the JSON scanner agrees with JSON.parse on where a file is valid': {
    arbitrary: fc.oneof(mutatedText, fc.string({ maxLength: 30 })),
    check: (text: string) => {
      let parses = true;
      try {
        JSON.parse(text);
      } catch {
        parses = false;
      }
      assert.equal(firstJsonErrorOffset(text) === null, parses);
    },
  },
  'random --set overrides on a repo config: a frozen config or a ConfigError': {
    cost: 4,
    arbitrary: fc.tuple(fc.nat({ max: valid.length - 1 }), fc.array(override, { maxLength: 3 })),
    check: ([which, texts]: [number, string[]]) => {
      const overrides: ConfigOverride[] = [];
      for (const text of texts) {
        try {
          overrides.push(parseSetOption(text));
        } catch (err) {
          assert.ok(err instanceof SyntaxError, `parseSetOption throws only SyntaxError, not ${String(err)}`);
        }
      }
      checkLoad(JSON.stringify(valid[which]), overrides);
    },
  },
  'two wrong values in different places: both reported at once': {
    cost: 4,
    arbitrary: fc.tuple(fc.nat({ max: valid.length - 1 }), fc.constantFrom('workers', 'accessLog', 'limits.maxBodySize', 'timeouts.read', 'handoff.policy'), fc.constantFrom('listeners', 'routes', 'upgrades', 'status')),
    check: ([which, a, b]: [number, string, string]) => {
      try {
        loadConfigFile(REPO_CONFIGS[which]!, [parseSetOption(`${a}=[[]]`), parseSetOption(`${b}={"x":{}}`)]);
        assert.fail('two wrong values were accepted');
      } catch (err) {
        assert.ok(err instanceof ConfigError, String(err));
        const paths = err.problems.map((p) => p.path);
        assert.ok(paths.some((p) => p === a || p.startsWith(`${a}.`)), `${a} reported: ${paths.join(', ')}`);
        assert.ok(paths.some((p) => p === b || p.startsWith(`${b}.`) || p.startsWith(`${b}[`)), `${b} reported: ${paths.join(', ')}`);
      }
    },
  },
};

if (!onPropertyThread) {
  describe('fuzz: the config loader', () => {
    for (const [name, property] of Object.entries(properties)) {
      it(name, { timeout: 120_000 }, () => runPureProperty(__filename, name, property as never));
    }
  });
} else {
  for (const [name, property] of Object.entries(properties)) void runPureProperty(__filename, name, property as never);
}
