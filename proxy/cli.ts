#!/usr/bin/env node
// The `handoff` command: runs the master (which spawns its workers), one worker that joins a
// master through a handoff directory, `-t`, a config check like `nginx -t`, `-s SIGNAL` to a
// running master through its pid file, like `nginx -s`, or `-v`.
//
// Each role loads only its own modules (the require()s in main()): a worker never validates a
// config (the master publishes one already checked), so the validator (ajv and its schema, some
// 300 modules) and the master's modules would only take a worker's memory: 5-6 MB of it idle.
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError } from './config/errors';
import { type ConfigOverride, ONLY_KEY, parseSetOption } from './config/overrides';
import { CONTROL_SIGNALS, ControlError, controlSignal, signalMaster } from './master/pid-file';
import type { WorkerCommand } from './master/worker-spawner';
import { Logger } from './observability/logger';
import { guardStandardStreams } from './observability/sync-output';

/* eslint-disable @typescript-eslint/no-require-imports -- the roles' modules, loaded by role (above) */
const configLoader = (): typeof import('./config/load') => require('./config/load') as typeof import('./config/load');

const usage = (): string => `Usage:
  handoff [options]                 run the master and its workers
  handoff worker --handoff-dir DIR  run one worker that joins the master owning DIR

Options:
  -c, --config FILE       config file (default: ${configLoader().defaultConfigPath()})
  -t, --test              check the config, then exit: 0 if valid, 1 if not (as nginx -t)
  -s, --signal SIGNAL     send SIGNAL to the running master, found through the config's pid
                          file (as nginx -s): ${Object.keys(CONTROL_SIGNALS).join(', ')}
      --pid-file FILE     the master's pid file (default: master.pid in the handoff directory)
  -v, --version           print the version, then exit
      --set KEY.PATH=VALUE
                          set a config value before validation (as nginx -g), repeatable;
                          VALUE is JSON if it parses (4, true, null, ["a"]), else a string:
                          --set accessLog=stdout --set timeouts.read=5s
      --listen HOST:PORT  listen here instead of the config's listeners
      --upstream HOST:PORT[,HOST:PORT...]
                          servers of the config's only upstream group
      --workers N|auto    worker count
      --handoff-dir DIR   the handoff directory (worker: the one to join)
      --wait-ms N         worker: how long to wait for the master's socket (default 30000)
  -h, --help              this text
`;

class UsageError extends Error {}

interface Options {
  role: 'master' | 'worker';
  /** null: the default one (config/load.ts), which only the master's roles look for. */
  configFile: string | null;
  test: boolean;
  /** -s: the name of the signal to send to the running master. */
  signal: string | null;
  /** Applied to the file on every load: at start, by -t, and on each reload. */
  overrides: ConfigOverride[];
  handoffDir?: string;
  waitMs: number;
}

const OPTIONS = {
  config: { type: 'string', short: 'c' },
  test: { type: 'boolean', short: 't' },
  signal: { type: 'string', short: 's' },
  'pid-file': { type: 'string' },
  version: { type: 'boolean', short: 'v' },
  set: { type: 'string', multiple: true },
  listen: { type: 'string' },
  upstream: { type: 'string' },
  workers: { type: 'string' },
  'handoff-dir': { type: 'string' },
  'wait-ms': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

function parseCommandLine(argv: string[]): Options {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    const { code, message } = err as NodeJS.ErrnoException;
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') throw new UsageError(`unknown option "${/'([^']+)'/.exec(message)?.[1] ?? message}"`);
    if (code?.startsWith('ERR_PARSE_ARGS_')) throw new UsageError(message);
    throw err;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(usage());
    process.exit(0);
  }
  if (values.version) {
    process.stdout.write(`handoff version: handoff/${packageVersion()}\n`);
    process.exit(0);
  }
  const role = positionals[0] === 'worker' ? 'worker' : 'master';
  const extra = positionals.slice(role === 'worker' ? 1 : 0);
  if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`);
  const waitMs = values['wait-ms'] === undefined ? 30_000 : Number(values['wait-ms']);
  if (!Number.isInteger(waitMs) || waitMs < 0) throw new UsageError('--wait-ms must be a whole number of milliseconds');
  const handoffDir = values['handoff-dir'];
  if (role === 'worker' && !handoffDir) throw new UsageError('handoff worker needs --handoff-dir DIR');
  return {
    role,
    configFile: values.config ?? null,
    test: values.test ?? false,
    signal: values.signal ?? null,
    overrides: overridesOf(values),
    ...(handoffDir === undefined ? {} : { handoffDir }),
    waitMs,
  };
}

/** The shortcut flags as overrides, then every --set in order (so a --set can refine them). */
function overridesOf(values: { set?: string[]; listen?: string; upstream?: string; workers?: string; 'handoff-dir'?: string; 'pid-file'?: string }): ConfigOverride[] {
  const overrides: ConfigOverride[] = [];
  if (values['pid-file'] !== undefined) overrides.push({ path: ['pidFile'], value: values['pid-file'], source: '--pid-file' });
  if (values.listen !== undefined) overrides.push({ path: ['listeners'], value: [values.listen], source: '--listen' });
  if (values.workers !== undefined) {
    const workers = /^\d+$/.test(values.workers) ? Number(values.workers) : values.workers;
    overrides.push({ path: ['workers'], value: workers, source: '--workers' });
  }
  if (values['handoff-dir'] !== undefined) overrides.push({ path: ['handoff', 'dir'], value: values['handoff-dir'], source: '--handoff-dir' });
  if (values.upstream !== undefined) {
    overrides.push({ path: ['upstreams', ONLY_KEY, 'servers'], value: values.upstream.split(','), source: '--upstream' });
  }
  for (const text of values.set ?? []) {
    try {
      overrides.push(parseSetOption(text));
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
  }
  return overrides;
}

/** package.json's version: the nearest package.json above this file (dist/proxy/ or proxy/ under ts-node). */
function packageVersion(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    try {
      return (JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { version: string }).version;
    } catch {
      if (dir === path.dirname(dir)) return 'unknown';
    }
  }
}

function workerCommand(handoffDir: string): WorkerCommand {
  const entry = require.main?.filename ?? __filename;
  // Under `npm run dev` (ts-node) the workers run from source too.
  const loader = entry.endsWith('.ts') ? ['-r', 'ts-node/register'] : [];
  return { file: process.execPath, args: [...loader, entry, 'worker', '--handoff-dir', handoffDir] };
}

async function main(): Promise<void> {
  guardStandardStreams();
  const opts = parseCommandLine(process.argv.slice(2));
  if (opts.role === 'worker') {
    const { Worker } = require('./worker/worker') as typeof import('./worker/worker');
    const log = new Logger('worker');
    await new Worker(opts.handoffDir!, log).start(opts.waitMs);
    return;
  }
  const { defaultConfigPath, loadConfigFile } = configLoader();
  const configFile = opts.configFile ?? defaultConfigPath();
  if (opts.signal !== null) controlSignal(opts.signal); // before the config: a typo is named first
  const config = loadConfigFile(configFile, opts.overrides);
  if (opts.signal !== null) {
    signalMaster(opts.signal, config.pidFile);
    return;
  }
  if (opts.test) {
    process.stdout.write(`handoff: the configuration file ${config.file} syntax is ok\nhandoff: configuration file ${config.file} test is successful\n`);
    return;
  }
  const { Master } = require('./master/master') as typeof import('./master/master');
  const { resolveUpstreamServers } = require('./upstream/resolve-servers') as typeof import('./upstream/resolve-servers');
  const log = new Logger('master');
  const resolved = await resolveUpstreamServers(config);
  // SIGHUP re-reads the file with the same command-line overrides.
  const reload = () => resolveUpstreamServers(loadConfigFile(configFile, opts.overrides));
  await new Master(resolved, workerCommand(resolved.handoff.dir), reload, log).start();
}

main().catch((err: unknown) => {
  if (err instanceof UsageError) {
    process.stderr.write(`handoff: ${err.message}\n\n${usage()}`);
    process.exit(2);
  }
  if (err instanceof ControlError) {
    process.stderr.write(`handoff: [error] ${err.message}\n`);
    process.exit(1);
  }
  if (err instanceof ConfigError) {
    process.stderr.write(`handoff: [emerg] ${err.message}\n`);
    if (process.argv.includes('-t') || process.argv.includes('--test')) process.stderr.write('handoff: configuration file test failed\n');
    process.exit(1);
  }
  const e = err as NodeJS.ErrnoException;
  process.stderr.write(`handoff: [emerg] ${e.message ?? String(err)}\n`);
  process.exit(1);
});
