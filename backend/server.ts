// Entry point of the sample upstream: `node dist/backend/server.js [--port N] [--host H] [--id NAME]`.
// Prints exactly one line to stdout once listening (tests parse the port from it):
//   backend <id> listening on <host>:<port>
// SIGTERM/SIGINT: stop accepting, close idle keep-alive connections, exit 0 within ~2 s.
import type { AddressInfo } from 'node:net';
import { createBackend } from './app';
import { createContext } from './context';
import { USAGE, UsageError, defaultId, parseArgs } from './options';
import type { BackendOptions } from './options';

function start(options: BackendOptions): void {
  // Placeholder id until the port is known; no request can arrive before 'listening' runs.
  const ctx = createContext(options.id ?? defaultId(options.port));
  const backend = createBackend(ctx);

  backend.server.once('error', (err: NodeJS.ErrnoException) => {
    process.stderr.write(`backend: cannot listen on ${options.host}:${options.port}: ${err.message}\n`);
    process.exit(1);
  });

  backend.server.listen(options.port, options.host, () => {
    const port = (backend.server.address() as AddressInfo).port;
    if (options.id === undefined) ctx.id = defaultId(port);
    process.stdout.write(`backend ${ctx.id} listening on ${options.host}:${port}\n`);
  });

  let signalled = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (signalled) {
      // A second Ctrl+C means "now": skip the grace period.
      process.exit(0);
    }
    signalled = true;
    process.stderr.write(`backend ${ctx.id}: ${signal}, shutting down\n`);
    void backend.shutdown().then(() => process.exit(0));
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

function main(): void {
  let parsed;
  try {
    parsed = parseArgs(process.argv.slice(2), process.env);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`backend: ${err.message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (parsed.kind === 'help') {
    process.stdout.write(USAGE);
    return;
  }
  start(parsed.options);
}

if (require.main === module) main();
