#!/usr/bin/env node
// The `handoff` command: runs the master (which spawns its workers), one worker that joins a
// master through a handoff directory, or `-t`, a config check like `nginx -t`.
import fs from 'node:fs';
import { ConfigError } from './config/errors';
import { defaultConfigPath, loadConfigFile } from './config/load';
import { validateConfig } from './config/validate';
import type { Config } from './config/types';
import { Master } from './master/master';
import type { WorkerCommand } from './master/worker-spawner';
import { Logger } from './observability/logger';
import { resolveUpstreamServers } from './upstream/resolve-servers';
import { Worker } from './worker/worker';

const USAGE = `Usage:
  handoff [options]                 run the master and its workers
  handoff worker --handoff-dir DIR  run one worker that joins the master owning DIR

Options:
  -c, --config FILE       config file (default: ${defaultConfigPath()})
  -t, --test              check the config, then exit: 0 if valid, 1 if not (as nginx -t)
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
  configFile: string;
  test: boolean;
  listen?: string;
  upstream?: string;
  workers?: string;
  handoffDir?: string;
  waitMs: number;
}

function parseArgs(argv: string[]): Options {
  const opts: Options = { role: 'master', configFile: defaultConfigPath(), test: false, waitMs: 30_000 };
  const args = [...argv];
  if (args[0] === 'worker') {
    opts.role = 'worker';
    args.shift();
  }
  const value = (flag: string): string => {
    const v = args.shift();
    if (v === undefined || v.startsWith('-')) throw new UsageError(`option ${flag} needs a value`);
    return v;
  };
  while (args.length > 0) {
    const arg = args.shift()!;
    switch (arg) {
      case '-c': case '--config': opts.configFile = value(arg); break;
      case '-t': case '--test': opts.test = true; break;
      case '--listen': opts.listen = value(arg); break;
      case '--upstream': opts.upstream = value(arg); break;
      case '--workers': opts.workers = value(arg); break;
      case '--handoff-dir': opts.handoffDir = value(arg); break;
      case '--wait-ms': {
        opts.waitMs = Number(value(arg));
        if (!Number.isInteger(opts.waitMs) || opts.waitMs < 0) throw new UsageError('--wait-ms must be a whole number of milliseconds');
        break;
      }
      case '-h': case '--help': process.stdout.write(USAGE); process.exit(0);
      default: throw new UsageError(`unknown option "${arg}"`);
    }
  }
  if (opts.role === 'worker' && !opts.handoffDir) throw new UsageError('handoff worker needs --handoff-dir DIR');
  return opts;
}

/** The config file, with command-line overrides applied before validation (so they are checked too). */
function loadConfig(opts: Options): Config {
  const overrides = opts.listen ?? opts.upstream ?? opts.workers ?? opts.handoffDir;
  if (overrides === undefined) return loadConfigFile(opts.configFile);
  const file = fs.realpathSync(opts.configFile);
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch {
    return loadConfigFile(file); // reports the read or syntax error, naming file, line and column
  }
  if (opts.listen !== undefined) raw.listeners = [opts.listen];
  if (opts.workers !== undefined) raw.workers = /^\d+$/.test(opts.workers) ? Number(opts.workers) : opts.workers;
  if (opts.handoffDir !== undefined) raw.handoff = { ...(raw.handoff as object), dir: opts.handoffDir };
  if (opts.upstream !== undefined) {
    const upstreams = (raw.upstreams ?? {}) as Record<string, Record<string, unknown>>;
    const names = Object.keys(upstreams);
    if (names.length !== 1) throw new UsageError(`--upstream needs a config with exactly one upstream group (${file} has ${names.length})`);
    upstreams[names[0]] = { ...upstreams[names[0]], servers: opts.upstream.split(',') };
  }
  return validateConfig(raw, file);
}

function workerCommand(handoffDir: string): WorkerCommand {
  const entry = require.main?.filename ?? __filename;
  // Under `npm run dev` (ts-node) the workers run from source too.
  const loader = entry.endsWith('.ts') ? ['-r', 'ts-node/register'] : [];
  return { file: process.execPath, args: [...loader, entry, 'worker', '--handoff-dir', handoffDir] };
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.role === 'worker') {
    const log = new Logger('worker');
    await new Worker(opts.handoffDir!, log).start(opts.waitMs);
    return;
  }
  const config = loadConfig(opts);
  if (opts.test) {
    process.stdout.write(`handoff: the configuration file ${config.file} syntax is ok\nhandoff: configuration file ${config.file} test is successful\n`);
    return;
  }
  const log = new Logger('master');
  const resolved = await resolveUpstreamServers(config);
  const reload = () => resolveUpstreamServers(loadConfig(opts));
  await new Master(resolved, workerCommand(resolved.handoff.dir), reload, log).start();
}

main().catch((err: unknown) => {
  if (err instanceof UsageError) {
    process.stderr.write(`handoff: ${err.message}\n\n${USAGE}`);
    process.exit(2);
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
