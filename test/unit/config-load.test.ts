// loadConfigFile: read + parse + validate, with every failure a ConfigError naming the file
// (and line:col for JSON syntax errors). Also checks the shipped default config and examples.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { ConfigError } from '../../proxy/config/errors';
import { defaultConfigPath, firstJsonErrorOffset, loadConfigFile } from '../../proxy/config/load';
import { ONLY_KEY, parseSetOption } from '../../proxy/config/overrides';
import { defaultHandoffDir } from '../../proxy/config/resolve';

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'handoff-config-test-'));
after(() => fs.rmSync(scratch, { recursive: true, force: true }));

function writeConfig(name: string, text: string): string {
  const file = path.join(scratch, name);
  fs.writeFileSync(file, text);
  return file;
}

function loadError(file: string): ConfigError {
  try {
    loadConfigFile(file);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    return err;
  }
  assert.fail(`expected loading ${file} to fail`);
}

const VALID = JSON.stringify({ listeners: ['127.0.0.1:0'], upstreams: { b: { servers: ['127.0.0.1:3000'] } } });

describe('shipped configs', () => {
  test('defaultConfigPath is the repo\'s config/handoff.json', () => {
    const file = defaultConfigPath();
    assert.ok(path.isAbsolute(file));
    assert.equal(path.basename(path.dirname(file)), 'config');
    assert.ok(fs.existsSync(path.join(path.dirname(file), '..', 'package.json')), `${file} is not in the repo root`);
  });

  test('the default config validates, with the values it spells out', () => {
    const config = loadConfigFile(defaultConfigPath());
    assert.equal(config.file, defaultConfigPath());
    assert.equal(config.workers, 2);
    assert.deepEqual(config.listeners, [{ host: '127.0.0.1', port: 8080, backlog: 511 }]);
    assert.deepEqual(config.upstreams.backend, {
      name: 'backend', servers: [{ host: '127.0.0.1', port: 3000, weight: 1, maxFails: 1, failTimeout: 10_000 }], keepalive: 32,
      balancer: 'round-robin', hashKey: null, healthCheck: null,
    });
    assert.deepEqual(config.routes, [{ host: '*', pathPrefix: '/', upstream: 'backend', accessLog: true }]);
    assert.equal(config.timeouts.keepAlive, 75_000);
    // Not spelled out: the per-user default (handoff/trust.ts refuses another user's directory).
    assert.equal(config.handoff.dir, defaultHandoffDir());
  });

  test('the default handoff dir is per user: $XDG_RUNTIME_DIR/handoff, else the temp dir with the uid in its name', () => {
    assert.equal(defaultHandoffDir({ XDG_RUNTIME_DIR: '/run/user/1000' }), '/run/user/1000/handoff');
    const perUid = path.join(os.tmpdir(), `handoff-${process.geteuid!()}`);
    assert.equal(defaultHandoffDir({}), perUid);
    assert.equal(defaultHandoffDir({ XDG_RUNTIME_DIR: 'relative/run' }), perUid, 'a relative XDG_RUNTIME_DIR is ignored, as the spec says');
  });

  test('every example in config/examples validates', () => {
    const dir = path.join(path.dirname(defaultConfigPath()), 'examples');
    const examples = fs.readdirSync(dir).filter((name) => name.endsWith('.json'));
    assert.ok(examples.length >= 2, `expected at least two examples in ${dir}`);
    for (const name of examples) {
      const config = loadConfigFile(path.join(dir, name));
      assert.ok(Object.isFrozen(config), name);
    }
  });
});

describe('loadConfigFile', () => {
  test('a JSON syntax error names the file and line:col', () => {
    const file = writeConfig('trailing-comma.json', '{\n  "listeners": ["127.0.0.1:0"],\n  "workers": 2,\n}\n');
    const err = loadError(file);
    assert.equal(err.code, 'HANDOFF_CONFIG_INVALID');
    assert.equal(err.file, file);
    assert.deepEqual(err.location, { line: 4, column: 1 });
    assert.equal(err.message,
      `${file}:4:1: invalid JSON at line 4, column 1: Expected double-quoted property name (JSON does not allow a trailing comma)`);
  });

  test('a syntax error V8 reports without a position still gets line:col', () => {
    // Node 20 says only "Unexpected token '}', ... is not valid JSON" here.
    const err = loadError(writeConfig('bad-literal.json', '{\n  "workers": tru,\n  "listeners": []\n}'));
    assert.deepEqual(err.location, { line: 2, column: 17 });
    assert.match(err.message, /:2:17: invalid JSON at line 2, column 17: Unexpected token ','$/);
    // The offending character is a newline here: it is escaped, the message stays one line.
    const newline = loadError(writeConfig('bad-literal-eol.json', '{\n  "workers": tru\n}'));
    assert.deepEqual(newline.location, { line: 2, column: 17 });
    assert.match(newline.message, /^[^\n]*: invalid JSON at line 2, column 17: Unexpected token '\\n'$/);
  });

  test('comments are named as the problem', () => {
    const err = loadError(writeConfig('comment.json', '{\n  // the listeners\n  "listeners": []\n}'));
    assert.deepEqual(err.location, { line: 2, column: 3 });
    assert.match(err.message, /JSON does not allow comments/);
  });

  test('an empty file is a syntax error at 1:1', () => {
    const err = loadError(writeConfig('empty.json', ''));
    assert.deepEqual(err.location, { line: 1, column: 1 });
    assert.match(err.message, /Unexpected end of JSON input/);
  });

  test('a missing file gives a ConfigError with ENOENT in its message', () => {
    const file = path.join(scratch, 'no-such.json');
    const err = loadError(file);
    assert.equal(err.file, file);
    assert.match(err.message, /ENOENT/);
    assert.ok(err.message.startsWith(`${file}: cannot read config file:`), err.message);
  });

  test('validation problems name the file', () => {
    const file = writeConfig('invalid.json', JSON.stringify({ listeners: ['localhost'], upstreams: { b: { servers: ['h:1'] } } }));
    const err = loadError(file);
    assert.equal(err.message, `${file}: listeners[0]: expected "host:port", got "localhost"`);
  });

  test('a UTF-8 byte order mark is accepted', () => {
    const config = loadConfigFile(writeConfig('bom.json', `\ufeff${VALID}`));
    assert.equal(config.listeners[0]!.port, 0);
  });

  test('a relative path is made absolute, and handoff.dir resolves against the file\'s directory', () => {
    const file = writeConfig('relative.json', JSON.stringify({ ...JSON.parse(VALID), handoff: { dir: 'sockets' } }));
    const config = loadConfigFile(path.relative(process.cwd(), file));
    assert.equal(config.file, file);
    assert.equal(config.handoff.dir, path.join(scratch, 'sockets'));
  });
});

describe('loadConfigFile with overrides', () => {
  test('--set values apply before validation: JSON when they parse, else strings; the file is left as it was', () => {
    const file = writeConfig('overridden.json', VALID);
    const config = loadConfigFile(file, ['workers=3', 'timeouts.read=5s', 'upgrades=[]', 'workerHeader=X-Handoff-Worker', 'handoff.policy=round-robin']
      .map(parseSetOption));
    assert.equal(config.workers, 3);
    assert.equal(config.timeouts.read, 5000);
    assert.deepEqual(config.upgrades, []);
    assert.equal(config.workerHeader, 'X-Handoff-Worker');
    assert.equal(config.handoff.policy, 'round-robin');
    assert.equal(loadConfigFile(file).workers, 1);
  });

  test('an override that cannot apply, or a malformed --set, is named', () => {
    const file = writeConfig('two-upstreams.json', JSON.stringify({
      listeners: ['127.0.0.1:0'], upstreams: { a: { servers: ['h:1'] }, b: { servers: ['h:2'] } }, routes: [{ upstream: 'a' }],
    }));
    assert.throws(() => loadConfigFile(file, [{ path: ['upstreams', ONLY_KEY, 'servers'], value: ['h:3'], source: '--upstream' }]),
      { message: `${file}: --upstream: needs exactly one entry in upstreams, the file has 2` });
    assert.throws(() => loadConfigFile(file, [parseSetOption('listeners.0.port=1')]),
      { message: `${file}: --set listeners.0.port=1: listeners.0 is not an object or array` });
    assert.throws(() => parseSetOption('=1'), /expected key\.path=value/);
  });

  test('--set with an index far past an array\'s end is refused at once, not validated hole by hole (found by fuzzing: it hung)', () => {
    const file = writeConfig('far-index.json', VALID);
    const started = Date.now();
    assert.throws(() => loadConfigFile(file, [parseSetOption('listeners.1000000="127.0.0.1:0"')]),
      { message: `${file}: --set listeners.1000000="127.0.0.1:0": listeners has 1 entries: use an index up to 1 (1 adds one)` });
    assert.ok(Date.now() - started < 1000, `answered in ${Date.now() - started} ms`);
    const config = loadConfigFile(file, [parseSetOption('listeners.1="127.0.0.1:0"')]);
    assert.equal(config.listeners.length, 2, 'the index just past the end adds one');
  });

  test('--set never walks into an object\'s prototype (it would change every object of the master)', () => {
    const file = writeConfig('proto.json', VALID);
    for (const [set, key] of [['__proto__.polluted=1', '__proto__'], ['constructor.prototype.polluted=1', 'constructor'], ['timeouts.__proto__.polluted=1', 'timeouts.__proto__']]) {
      assert.throws(() => loadConfigFile(file, [parseSetOption(set)]), { message: `${file}: --set ${set}: ${key} is not a config key` });
    }
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });
});

describe('firstJsonErrorOffset', () => {
  test('finds the same offset V8 reports, and null for valid JSON', () => {
    const broken = ['{"a":1,}', '{"a":1', '{"a" 1}', '[1,2', '{"a":01}', '{"a":"\\x"}', '{"a":1.}', '{"a":-}', '{"a":1}x', '{\'a\':1}'];
    for (const text of broken) {
      const v8 = /at position (\d+)/.exec(String((() => { try { JSON.parse(text); } catch (e) { return e; } })()));
      assert.ok(v8, `V8 gave no position for ${text}`);
      assert.equal(firstJsonErrorOffset(text), Number(v8[1]), text);
    }
    assert.equal(firstJsonErrorOffset('{"a":tru}'), 8);
    assert.equal(firstJsonErrorOffset('{"a":[1,2,]}'), 10);
    assert.equal(firstJsonErrorOffset(' {"a": [1, -2.5e3, true, null, "\\u00e9"], "b": {}} '), null);
  });
});
