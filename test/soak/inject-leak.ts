// Loaded into the master and its workers (NODE_OPTIONS=--require) only when the soak is run with
// HANDOFF_SOAK_INJECT_LEAK, to show that its leak check fails on a leak; nothing else loads it.
//   fd:  one more open file every 2 s, never closed
//   rss: 64 KiB kept every 50 ms (1.25 MiB/s): what one 64 KiB buffer kept per request would cost
//        a process serving 20 requests a second
import fs from 'node:fs';

const kept: unknown[] = [];
const kind = process.env.HANDOFF_SOAK_INJECT_LEAK;
if (kind === 'fd') setInterval(() => kept.push(fs.openSync('/dev/null', 'r')), 2_000).unref();
else if (kind === 'rss') setInterval(() => kept.push(Buffer.alloc(64 * 1024, 1)), 50).unref();
