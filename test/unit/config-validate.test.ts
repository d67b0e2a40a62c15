// validateConfig: every problem reported at once with its path, defaults filled in, and a
// deep-frozen result (the scalar parsers have their own file, config-value-parsers.test.ts; the
// generated JSON Schema, config-schema.test.ts).
import assert from 'node:assert/strict';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { ConfigError, ConfigProblem } from '../../proxy/config/errors';
import { defaultHandoffDir } from '../../proxy/config/resolve';
import {
  DEFAULT_TIMEOUTS, MAX_WORKERS, validateConfig,
} from '../../proxy/config/validate';

/** The smallest valid config; tests spread their changes over it. */
function minimal(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { listeners: ['127.0.0.1:8080'], upstreams: { backend: { servers: ['127.0.0.1:3000'] } }, ...extra };
}

function configErrorOf(raw: unknown, file: string | null = null): ConfigError {
  try {
    validateConfig(raw, file);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected validateConfig to throw');
}

function problemsOf(raw: unknown): readonly ConfigProblem[] {
  return configErrorOf(raw).problems;
}

function problemAt(raw: unknown, at: string): string {
  const problem = problemsOf(raw).find((p) => p.path === at);
  assert.ok(problem, `expected a problem at ${at}, got ${JSON.stringify(problemsOf(raw))}`);
  return problem.message;
}

describe('validateConfig', () => {
  test('a config with three mistakes reports all three, each with its path', () => {
    const err = configErrorOf({
      workers: 0,
      listeners: ['127.0.0.1:8080'],
      upstreams: { api: { servers: ['127.0.0.1:3000', 'localhost'] } },
      timeouts: { connect: '5x' },
    });
    assert.deepEqual(err.problems.map((p) => p.path), ['workers', 'upstreams.api.servers[1]', 'timeouts.connect']);
    assert.equal(err.code, 'HANDOFF_CONFIG_INVALID');
  });

  test('the message lists every problem on its own line, prefixed with the file name', () => {
    const file = path.join(process.cwd(), 'config', 'handoff.json');
    const err = configErrorOf({
      workers: 'many',
      listeners: ['127.0.0.1:8080'],
      upstreams: { api: { servers: ['127.0.0.1:3000', { address: 'localhost' }] } },
    }, file);
    assert.equal(err.file, file);
    assert.deepEqual(err.message.split('\n'), [
      'config/handoff.json: workers: expected an integer from 1 to 256 or "auto", got "many"',
      'config/handoff.json: upstreams.api.servers[1].address: expected "host:port", got "localhost"',
    ]);
  });

  test('unknown keys are named, with the closest known key suggested for typos', () => {
    assert.equal(problemAt(minimal({ timeout: {} }), 'timeout'), 'unknown key "timeout"; did you mean "timeouts"?');
    assert.match(problemAt(minimal({ timeouts: { keepalive: '75s' } }), 'timeouts.keepalive'), /did you mean "keepAlive"\?/);
    const raw = minimal({ upstreams: { api: { sever: ['127.0.0.1:1'], servers: ['127.0.0.1:1'] } } });
    assert.match(problemAt(raw, 'upstreams.api.sever'), /did you mean "servers"\?/);
    // Nothing close: list what is allowed instead.
    assert.equal(problemAt(minimal({ limits: { zzz: 1 } }), 'limits.zzz'),
      'unknown key "zzz"; expected one of "maxConnectionsPerWorker", "maxBodySize"');
  });

  test('a top-level "$schema" key is allowed and ignored', () => {
    const config = validateConfig(minimal({ $schema: './handoff.schema.json' }), null);
    assert.equal('$schema' in config, false);
  });

  test('defaults are applied for every omitted optional field', () => {
    const config = validateConfig({ listeners: [{ port: 8080 }], upstreams: { backend: { servers: ['h:1'] } } }, null);
    assert.deepEqual(config, {
      file: null,
      workers: 1,
      workerPriority: 'auto',
      accessLog: null,
      pidFile: path.join(defaultHandoffDir(), 'master.pid'),
      workerHeader: null,
      status: null,
      resolver: null,
      realIp: null,
      upgrades: ['websocket'],
      handoff: { dir: defaultHandoffDir(), transport: 'seqpacket', policy: 'least-conn', maxInFlightPerWorker: 64, ackTimeout: 500 },
      listeners: [{ host: '127.0.0.1', port: 8080, backlog: 511 }],
      upstreams: { backend: { name: 'backend', servers: [{ host: 'h', port: 1, weight: 1, maxFails: 1, failTimeout: 10_000 }], keepalive: 32, balancer: 'round-robin', hashKey: null, healthCheck: null } },
      routes: [{ host: '*', pathPrefix: '/', upstream: 'backend', accessLog: true }],
      timeouts: { connect: 60_000, read: 60_000, send: 60_000, clientHeader: 60_000, clientBody: 60_000, keepAlive: 75_000, clientSend: 60_000 },
      limits: { maxConnectionsPerWorker: 10_000, maxBodySize: 0 },
    });
  });

  test('accessLog: "stdout" stays the combined format on stdout; a file is resolved beside the config, with its format', () => {
    assert.deepEqual(validateConfig(minimal({ accessLog: 'stdout' }), null).accessLog, { file: null, format: 'combined' });
    assert.equal(validateConfig(minimal({ accessLog: 'off' }), null).accessLog, null);
    assert.deepEqual(validateConfig(minimal({ accessLog: { path: 'logs/access.log', format: 'json' } }), '/etc/handoff/handoff.json').accessLog,
      { file: '/etc/handoff/logs/access.log', format: 'json' });
    assert.deepEqual(validateConfig(minimal({ accessLog: { path: 'stdout', format: 'json' } }), null).accessLog, { file: null, format: 'json' });
    assert.equal(problemAt(minimal({ accessLog: { path: '/x', format: 'common' } }), 'accessLog.format') !== undefined, true);
    assert.equal(problemAt(minimal({ accessLog: 'file' }), 'accessLog') !== undefined, true);
  });

  test('pidFile: beside the config when relative; master.pid in the handoff directory by default', () => {
    assert.equal(validateConfig(minimal({ pidFile: 'run/handoff.pid' }), '/etc/handoff/handoff.json').pidFile, '/etc/handoff/run/handoff.pid');
    assert.equal(validateConfig(minimal({ handoff: { dir: '/run/h' } }), null).pidFile, '/run/h/master.pid');
  });

  test('upgrades: protocol names, lower-cased and deduplicated; anything else named by its index', () => {
    assert.deepEqual(validateConfig(minimal({ upgrades: ['WebSocket', 'websocket', 'h2c'] }), null).upgrades, ['websocket', 'h2c']);
    assert.deepEqual(validateConfig(minimal({ upgrades: [] }), null).upgrades, []);
    assert.match(problemAt(minimal({ upgrades: 'websocket' }), 'upgrades'), /expected an array of protocol names such as \["websocket"\]/);
    const raw = minimal({ upgrades: ['websocket', 'web socket', 'websocket/13', 7] });
    assert.deepEqual(problemsOf(raw).map((p) => p.path), ['upgrades[1]', 'upgrades[2]', 'upgrades[3]']);
    assert.match(problemAt(raw, 'upgrades[2]'), /a token, without "\/version"\), got "websocket\/13"/);
  });

  test('routes are required when there is more than one upstream', () => {
    const raw = minimal({ upstreams: { a: { servers: ['h:1'] }, b: { servers: ['h:2'] } } });
    assert.equal(problemAt(raw, 'routes'), 'is required when there is more than one upstream (known upstreams: "a", "b")');
  });

  test('a route to an unknown upstream names it and lists the known ones', () => {
    const raw = minimal({
      upstreams: { api: { servers: ['h:1'] }, static: { servers: ['h:2'] } },
      routes: [{ upstream: 'apii' }, { pathPrefix: '/s/', upstream: 'nope' }],
    });
    assert.equal(problemAt(raw, 'routes[0].upstream'),
      'unknown upstream "apii"; did you mean "api"? (known upstreams: "api", "static")');
    assert.equal(problemAt(raw, 'routes[1].upstream'), 'unknown upstream "nope" (known upstreams: "api", "static")');
  });

  test('"auto" workers means one per CPU, capped at 256; more than 256 is an error', () => {
    const auto = validateConfig(minimal({ workers: 'auto' }), null).workers;
    assert.equal(auto, Math.min(MAX_WORKERS, os.availableParallelism()));
    assert.match(problemAt(minimal({ workers: 257 }), 'workers'), /from 1 to 256/);
    assert.match(problemAt(minimal({ workers: 2.5 }), 'workers'), /from 1 to 256/);
  });

  test('workerPriority is "auto" by default, or a nice value from -20 to 19', () => {
    assert.equal(validateConfig(minimal(), null).workerPriority, 'auto');
    assert.equal(validateConfig(minimal({ workerPriority: -20 }), null).workerPriority, -20);
    assert.equal(validateConfig(minimal({ workerPriority: 19 }), null).workerPriority, 19);
    assert.match(problemAt(minimal({ workerPriority: 20 }), 'workerPriority'), /from -20 to 19/);
    assert.match(problemAt(minimal({ workerPriority: -1.5 }), 'workerPriority'), /from -20 to 19/);
    assert.equal(problemAt(minimal({ workerPriority: 'high' }), 'workerPriority'), 'expected an integer from -20 to 19 or "auto", got "high"');
  });

  test('listener and server shorthands parse, with IPv6 in brackets', () => {
    const config = validateConfig(minimal({
      listeners: ['[::1]:8080', { host: '[::1]', port: 8081, backlog: 128 }],
      upstreams: { b: { servers: ['[::1]:3000', { address: 'backend.internal:3001', weight: 5 }], keepalive: 0 } },
    }), null);
    assert.deepEqual(config.listeners, [
      { host: '::1', port: 8080, backlog: 511 },
      { host: '::1', port: 8081, backlog: 128 },
    ]);
    assert.deepEqual(config.upstreams.b!.servers, [
      { host: '::1', port: 3000, weight: 1, maxFails: 1, failTimeout: 10_000 },
      { host: 'backend.internal', port: 3001, weight: 5, maxFails: 1, failTimeout: 10_000 },
    ]);
    assert.match(problemAt(minimal({ listeners: ['::1:8080'] }), 'listeners[0]'), /IPv6 addresses in brackets/);
    assert.match(problemAt(minimal({ listeners: ['127.0.0.1:70000'] }), 'listeners[0]'), /port must be from 0 to 65535/);
    assert.match(problemAt(minimal({ upstreams: { b: { servers: ['h:0'] } } }), 'upstreams.b.servers[0]'), /from 1 to 65535/);
    assert.match(problemAt(minimal({ upstreams: { b: { servers: [{ address: 'h:1', weight: 0 }] } } }),
      'upstreams.b.servers[0].weight'), /from 1 to 1000/);
    assert.match(problemAt(minimal({ listeners: [] }), 'listeners'), /must not be empty/);
    assert.match(problemAt(minimal({ upstreams: { b: { servers: [] } } }), 'upstreams.b.servers'), /must not be empty/);
  });

  test('duplicate listeners and duplicate routes are errors; port 0 may repeat', () => {
    const raw = minimal({
      listeners: ['127.0.0.1:8080', { host: '127.0.0.1', port: 8080 }],
      routes: [{ host: 'Example.com', upstream: 'backend' }, { host: 'example.com:8080', pathPrefix: '/', upstream: 'backend' }],
    });
    assert.equal(problemAt(raw, 'listeners[1]'), 'duplicate listener 127.0.0.1:8080 (same as listeners[0])');
    assert.equal(problemAt(raw, 'routes[1]'),
      'duplicate route for host "example.com" and pathPrefix "/" (same as routes[0])');
    assert.equal(validateConfig(minimal({ listeners: ['127.0.0.1:0', '127.0.0.1:0'] }), null).listeners.length, 2);
  });

  test('listeners that cannot all bind are errors: a wildcard overlaps a specific address on the same port', () => {
    assert.equal(problemAt(minimal({ listeners: ['0.0.0.0:8080', '127.0.0.1:8080'] }), 'listeners[1]'),
      '127.0.0.1:8080 overlaps listeners[0] (0.0.0.0:8080)');
    assert.equal(problemAt(minimal({ listeners: ['127.0.0.1:8080', { host: '0.0.0.0', port: 8080 }] }), 'listeners[1]'),
      '0.0.0.0:8080 overlaps listeners[0] (127.0.0.1:8080)');
    assert.equal(problemAt(minimal({ listeners: ['[::]:8080', '[::1]:8080'] }), 'listeners[1]'),
      '[::1]:8080 overlaps listeners[0] ([::]:8080)');
    // The sockets are dual-stack (IPV6_V6ONLY off), so [::] takes IPv4 connections as well.
    assert.equal(problemAt(minimal({ listeners: ['[::]:8080', '0.0.0.0:8080'] }), 'listeners[1]'),
      '0.0.0.0:8080 overlaps listeners[0] ([::]:8080); [::] also accepts IPv4 connections');
    // Equal addresses however written: IPv6 spellings, IPv4-mapped IPv6.
    assert.equal(problemAt(minimal({ listeners: ['[::]:8080', '[0:0::0]:8080'] }), 'listeners[1]'),
      'duplicate listener [0:0::0]:8080 (same as listeners[0])');
    assert.equal(problemAt(minimal({ listeners: ['127.0.0.1:8080', '[::ffff:127.0.0.1]:8080'] }), 'listeners[1]'),
      'duplicate listener [::ffff:127.0.0.1]:8080 (same as listeners[0])');
    // Ports differ, addresses differ, families differ (0.0.0.0 is IPv4 only), or port 0: all bind.
    for (const listeners of [
      ['0.0.0.0:8080', '127.0.0.1:8081'], ['127.0.0.1:8080', '127.0.0.2:8080'], ['0.0.0.0:8080', '[::1]:8080'],
      ['0.0.0.0:0', '127.0.0.1:0', '[::]:0'], ['localhost:8080', '127.0.0.1:8080'],
    ]) {
      assert.equal(validateConfig(minimal({ listeners }), null).listeners.length, listeners.length, listeners.join(' '));
    }
  });

  test('the status address may not overlap a listener', () => {
    assert.equal(problemAt(minimal({ listeners: ['0.0.0.0:8080'], status: '127.0.0.1:8080' }), 'status'),
      '127.0.0.1:8080 overlaps listeners[0] (0.0.0.0:8080)');
    assert.equal(problemAt(minimal({ listeners: ['127.0.0.1:9000', '127.0.0.1:8080'], status: '127.0.0.1:8080' }), 'status'),
      '127.0.0.1:8080 is the same address as listeners[1]');
    assert.equal(problemAt(minimal({ listeners: ['127.0.0.1:8080'], status: '[::]:8080' }), 'status'),
      '[::]:8080 overlaps listeners[0] (127.0.0.1:8080); [::] also accepts IPv4 connections');
    // Checked against every listener, even one already refused for overlapping another.
    assert.equal(problemAt(minimal({ listeners: ['127.0.0.1:8080', '0.0.0.0:8080'], status: '127.0.0.2:8080' }), 'status'),
      '127.0.0.2:8080 overlaps listeners[1] (0.0.0.0:8080)');
    assert.deepEqual(validateConfig(minimal({ listeners: ['0.0.0.0:8080'], status: '127.0.0.1:9000' }), null).status,
      { host: '127.0.0.1', port: 9000 });
    assert.deepEqual(validateConfig(minimal({ listeners: ['127.0.0.1:0'], status: '127.0.0.1:0' }), null).status,
      { host: '127.0.0.1', port: 0 });
  });

  test('balancer: one of four, and hashKey required with "hash" and refused without it', () => {
    const upstream = (extra: Record<string, unknown>) => minimal({ upstreams: { backend: { servers: ['127.0.0.1:3000'], ...extra } } });
    assert.equal(validateConfig(upstream({ balancer: 'least-conn' }), null).upstreams.backend!.balancer, 'least-conn');
    const hashed = validateConfig(upstream({ balancer: 'hash', hashKey: 'header:X-User' }), null).upstreams.backend!;
    assert.deepEqual([hashed.balancer, hashed.hashKey], ['hash', 'header:X-User']);
    assert.match(problemAt(upstream({ balancer: 'least_conn' }), 'upstreams.backend.balancer'), /least-conn/);
    assert.match(problemAt(upstream({ balancer: 'hash' }), 'upstreams.backend.hashKey'), /^is required with balancer "hash"/);
    assert.match(problemAt(upstream({ hashKey: 'uri' }), 'upstreams.backend.hashKey'), /^is only used with balancer "hash", not "round-robin"/);
    assert.ok(problemAt(upstream({ balancer: 'hash', hashKey: 'cookie:session' }), 'upstreams.backend.hashKey'));
  });

  test('passive health: maxFails and failTimeout per upstream, overridden per server', () => {
    const config = validateConfig(minimal({
      upstreams: { backend: { maxFails: 3, failTimeout: '30s', servers: ['127.0.0.1:3000', { address: '127.0.0.1:3001', maxFails: 0, failTimeout: '1m' }] } },
    }), null);
    assert.deepEqual(config.upstreams.backend!.servers.map((s) => [s.maxFails, s.failTimeout]), [[3, 30_000], [0, 60_000]]);
    assert.match(problemAt(minimal({ upstreams: { backend: { failTimeout: '10', servers: ['127.0.0.1:3000'] } } }), 'upstreams.backend.failTimeout'), /duration/);
    assert.ok(problemAt(minimal({ upstreams: { backend: { maxFails: -1, servers: ['127.0.0.1:3000'] } } }), 'upstreams.backend.maxFails'));
  });

  test("active health checks: HAProxy's defaults filled in, statuses as ranges, nonsense refused", () => {
    const withCheck = (healthCheck: unknown) => minimal({ upstreams: { backend: { healthCheck, servers: ['127.0.0.1:3000'] } } });
    assert.deepEqual(validateConfig(withCheck({}), null).upstreams.backend!.healthCheck,
      { path: '/', interval: 2_000, timeout: 1_000, expectStatus: [[200, 399]], rise: 2, fall: 3 });
    assert.deepEqual(validateConfig(withCheck({ path: '/healthz', interval: '500ms', expectStatus: '200,204-206', rise: 1, fall: 1 }), null).upstreams.backend!.healthCheck,
      { path: '/healthz', interval: 500, timeout: 1_000, expectStatus: [[200, 200], [204, 206]], rise: 1, fall: 1 });
    assert.equal(validateConfig(withCheck(null), null).upstreams.backend!.healthCheck, null);
    assert.match(problemAt(withCheck({ expectStatus: '399-200' }), 'upstreams.backend.healthCheck.expectStatus'), /ends before it starts/);
    assert.ok(problemAt(withCheck({ expectStatus: '2xx' }), 'upstreams.backend.healthCheck.expectStatus'));
    assert.ok(problemAt(withCheck({ path: 'health' }), 'upstreams.backend.healthCheck.path'));
    assert.ok(problemAt(withCheck({ fall: 0 }), 'upstreams.backend.healthCheck.fall'));
    assert.match(problemAt(withCheck({ interval: 0 }), 'upstreams.backend.healthCheck.interval'), /greater than 0/);
  });

  test('resolver: names looked up again every valid; absent, once', () => {
    assert.deepEqual(validateConfig(minimal({ resolver: { valid: '5s' } }), null).resolver, { valid: 5_000, addresses: [] });
    assert.deepEqual(validateConfig(minimal({ resolver: { valid: 1000, addresses: ['127.0.0.11', '10.0.0.2:5353', '[::1]:53', '::1'] } }), null).resolver!.addresses, ['127.0.0.11:53', '10.0.0.2:5353', '[::1]:53', '[::1]:53']);
    assert.match(problemAt(minimal({ resolver: { valid: 1000, addresses: ['dns.example:53'] } }), 'resolver.addresses[0]'), /must be an IP address/);
    assert.equal(validateConfig(minimal(), null).resolver, null);
    assert.ok(problemAt(minimal({ resolver: {} }), 'resolver.valid') || problemAt(minimal({ resolver: {} }), 'resolver'));
  });

  test('the same server twice in one upstream is an error naming the first; other upstreams may share it', () => {
    const raw = minimal({
      upstreams: { backend: { servers: ['127.0.0.1:3000', '127.0.0.1:3001', { address: '127.0.0.1:3000', weight: 2 }] } },
    });
    assert.deepEqual(problemsOf(raw), [{
      path: 'upstreams.backend.servers[2]',
      message: 'duplicate server 127.0.0.1:3000 (same as upstreams.backend.servers[0]); list it once with a higher weight instead',
    }]);
    assert.match(problemAt(minimal({ upstreams: { backend: { servers: ['[::1]:3000', '[0:0::1]:3000'] } } }),
      'upstreams.backend.servers[1]'), /^duplicate server \[0:0::1\]:3000 \(same as upstreams.backend.servers\[0\]\)/);
    assert.match(problemAt(minimal({ upstreams: { backend: { servers: ['Backend.internal:80', 'backend.internal:80'] } } }),
      'upstreams.backend.servers[1]'), /same as upstreams.backend.servers\[0\]/);
    const shared = validateConfig(minimal({
      upstreams: { a: { servers: ['127.0.0.1:3000'] }, b: { servers: ['127.0.0.1:3000'] } },
      routes: [{ pathPrefix: '/a/', upstream: 'a' }, { pathPrefix: '/', upstream: 'b' }],
    }), null);
    assert.equal(Object.keys(shared.upstreams).length, 2);
  });

  test('route hosts are lower-cased with the port stripped; pathPrefix must start with "/"', () => {
    const config = validateConfig(minimal({
      routes: [{ host: 'API.Example.COM:8443', pathPrefix: '/v1/', upstream: 'backend' }, { host: '[::1]:80', upstream: 'backend' }],
    }), null);
    assert.deepEqual(config.routes.map((r) => [r.host, r.pathPrefix]), [['api.example.com', '/v1/'], ['[::1]', '/']]);
    assert.equal(problemAt(minimal({ routes: [{ pathPrefix: 'api', upstream: 'backend' }] }), 'routes[0].pathPrefix'),
      'expected a path starting with "/", got "api"');
    assert.match(problemAt(minimal({ routes: [{ host: '*.example.com', upstream: 'backend' }] }), 'routes[0].host'),
      /only "\*" on its own/);
  });

  test('a pathPrefix is written as requests are matched: no %XX, dot segments or doubled slashes', () => {
    assert.equal(problemAt(minimal({ routes: [{ pathPrefix: '/%61dmin', upstream: 'backend' }] }), 'routes[0].pathPrefix'),
      'must be written as requests are matched (no %XX escapes, "." or ".." segments, or "//"; here: "/admin"), got "/%61dmin"');
    assert.match(problemAt(minimal({ routes: [{ pathPrefix: '/../x', upstream: 'backend' }] }), 'routes[0].pathPrefix'), /must be written as requests are matched/);
    assert.match(problemAt(minimal({ routes: [{ pathPrefix: '/a//b/', upstream: 'backend' }] }), 'routes[0].pathPrefix'), /here: "\/a\/b\/"/);
  });

  test('handoff settings: relative dir resolves against the config file, enums suggest fixes', () => {
    const config = validateConfig(minimal({ handoff: { dir: 'run/handoff', transport: 'ipc', policy: 'round-robin' } }),
      '/etc/handoff/handoff.json');
    assert.equal(config.handoff.dir, '/etc/handoff/run/handoff');
    assert.equal(config.file, '/etc/handoff/handoff.json');
    assert.equal(problemAt(minimal({ handoff: { transport: 'seqpaket' } }), 'handoff.transport'),
      'expected one of "seqpacket", "ipc", "reuseport", got "seqpaket"; did you mean "seqpacket"?');
    assert.match(problemAt(minimal({ handoff: { maxInFlightPerWorker: 5000 } }), 'handoff.maxInFlightPerWorker'), /1 to 4096/);
    assert.match(problemAt(minimal({ handoff: { dir: `/tmp/${'x'.repeat(100)}` } }), 'handoff.dir'), /too long/);
  });

  test('the file is made absolute', () => {
    assert.equal(validateConfig(minimal(), 'conf/h.json').file, path.resolve('conf/h.json'));
  });

  test('durations and sizes in the config are parsed, bad units reported at their path', () => {
    const config = validateConfig(minimal({
      timeouts: { connect: '500ms', read: '5m', send: 1500, keepAlive: '1h' },
      limits: { maxBodySize: '10k' },
    }), null);
    assert.deepEqual(config.timeouts, { ...DEFAULT_TIMEOUTS, connect: 500, read: 300_000, send: 1500, keepAlive: 3_600_000 });
    assert.equal(config.limits.maxBodySize, 10_240);
    assert.equal(problemAt(minimal({ timeouts: { read: '60' } }), 'timeouts.read'),
      'duration "60" has no unit; write "60s" for seconds or the number 60 for milliseconds');
    assert.equal(problemAt(minimal({ limits: { maxBodySize: '10kb' } }), 'limits.maxBodySize'),
      'unknown unit "kb" in size "10kb"; use k, m or g');
  });

  test('the result is deep-frozen: assignment throws in strict mode', () => {
    const config = validateConfig(minimal(), null);
    const mutable = config as unknown as {
      workers: number; listeners: unknown[]; upstreams: Record<string, { servers: { weight: number }[] }>; timeouts: { read: number };
    };
    assert.throws(() => { mutable.workers = 9; }, TypeError);
    assert.throws(() => { mutable.timeouts.read = 1; }, TypeError);
    assert.throws(() => { mutable.upstreams.backend!.servers[0]!.weight = 9; }, TypeError);
    assert.throws(() => { mutable.listeners.push({}); }, TypeError);
    assert.throws(() => { mutable.upstreams.extra = { servers: [] }; }, TypeError);
  });

  test('a config that is not an object is one problem at the root', () => {
    assert.deepEqual(problemsOf([]), [{ path: '', message: 'expected an object, got an array' }]);
    assert.equal(configErrorOf('x', '/etc/h.json').message, '/etc/h.json: expected an object, got "x"');
  });

  test('a dotted all-numeric host must be a valid IPv4 address, wherever a host is given', () => {
    assert.equal(problemAt(minimal({ listeners: ['999.1.1.1:8080'] }), 'listeners[0]'), '"999.1.1.1" is not a valid IPv4 address');
    assert.equal(problemAt(minimal({ listeners: [{ host: '1.2.3', port: 8080 }] }), 'listeners[0].host'),
      '"1.2.3" is not a valid IPv4 address');
    assert.equal(problemAt(minimal({ upstreams: { b: { servers: [{ address: '10.0.0.256:80' }] } } }), 'upstreams.b.servers[0].address'),
      '"10.0.0.256" is not a valid IPv4 address');
    assert.equal(problemAt(minimal({ status: '1.2.3.4.5:9000' }), 'status'), '"1.2.3.4.5" is not a valid IPv4 address');
  });

  test('the cross-field checks are reported together with every other problem', () => {
    const raw = {
      workers: 0,
      listeners: ['0.0.0.0:8080', '127.0.0.1:8080', '1.2.3:8081'],
      upstreams: { api: { servers: ['127.0.0.1:3000', '127.0.0.1:3000'] } },
      status: '127.0.0.1:8080',
    };
    assert.deepEqual(problemsOf(raw).map((p) => p.path),
      ['workers', 'listeners[1]', 'listeners[2]', 'upstreams.api.servers[1]', 'status']);
  });

  test('missing listeners and upstreams are reported together', () => {
    assert.deepEqual(problemsOf({}).map((p) => p.path), ['listeners', 'upstreams']);
  });

  test('a value of the wrong type is one problem naming what fits, whichever union it is in', () => {
    assert.equal(problemAt(minimal({ listeners: [5] }), 'listeners[0]'), 'expected a "host:port" string or an object, got 5');
    assert.equal(problemAt(minimal({ status: 9000 }), 'status'), 'expected a "host:port" string or null, got 9000');
    assert.equal(problemAt(minimal({ listeners: [{ host: '127.0.0.1' }] }), 'listeners[0].port'), 'is required');
    assert.equal(problemAt(minimal({ upstreams: { 'my api': { servers: ['h:1'] } } }), 'upstreams["my api"]'),
      'expected an upstream name of letters, digits, "_", "." and "-", got "my api"');
    assert.equal(problemAt(minimal({ timeouts: { read: true } }), 'timeouts.read'),
      'expected a duration like "500ms", "60s", "5m", "1h" or a number of milliseconds, got true');
  });

  test('workerHeader: off (null) by default, or a header name', () => {
    assert.equal(validateConfig(minimal({ workerHeader: 'X-Handoff-Worker' }), null).workerHeader, 'X-Handoff-Worker');
    assert.equal(validateConfig(minimal({ workerHeader: null }), null).workerHeader, null);
    assert.equal(problemAt(minimal({ workerHeader: 'X Worker' }), 'workerHeader'),
      'expected a header name (an HTTP token) or null, got "X Worker"');
    assert.equal(problemAt(minimal({ workerHeader: true }), 'workerHeader'), 'expected a header name (an HTTP token) or null, got true');
  });

  test('a route may turn its access log off; it is on by default', () => {
    const config = validateConfig(minimal({
      routes: [{ pathPrefix: '/health', upstream: 'backend', accessLog: false }, { upstream: 'backend' }],
    }), null);
    assert.deepEqual(config.routes.map((r) => r.accessLog), [false, true]);
    assert.equal(problemAt(minimal({ routes: [{ upstream: 'backend', accessLog: 'off' }] }), 'routes[0].accessLog'),
      'expected true or false, got "off"');
  });
});
