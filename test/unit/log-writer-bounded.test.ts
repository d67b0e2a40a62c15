// The access log's writer keeps its memory bounded when its reader is slow or gone, and its
// alerts few: a real FIFO whose reader never reads fills the pipe, one write blocks, and what
// waits behind it stops at the cap; everything beyond is dropped and counted. /dev/full fails
// every write: one alert, then at most one per interval with the count.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { LogWriter } from '../../proxy/observability/log-writer';
import { waitFor } from '../helpers/procfs';

const LINE = `${'x'.repeat(99)}\n`;

describe('LogWriter', () => {
  it('a reader that never reads: at most the cap waits, the rest is dropped and counted, with one alert', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'handoff-fifo-'));
    const fifo = path.join(dir, 'log');
    execFileSync('mkfifo', [fifo]);
    const reader = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK); // there, never reading
    const reports: string[] = [];
    const cap = 256 * 1024;
    const writer = new LogWriter(fifo, (level, message) => reports.push(`${level}: ${message}`), { maxQueuedBytes: cap });
    try {
      // 4 MiB in 100-byte lines, a burst per turn of the event loop.
      for (let burst = 0; burst < 64; burst++) {
        for (let i = 0; i < 655; i++) writer.append(LINE);
        await new Promise((r) => setImmediate(r));
        assert.ok(writer.waitingBytes <= cap, `${writer.waitingBytes} bytes wait, at most ${cap}`);
      }
      // The pipe holds 64 KiB and one write is blocked in flight; the cap waits; the rest is dropped.
      assert.ok(writer.droppedLines > 30_000, `${writer.droppedLines} lines dropped`);
      assert.equal(reports.length, 1, reports.join('\n'));
      assert.match(reports[0]!, new RegExp(`^alert: writing the access log to ${fifo} failed \\(\\d+ KiB were already waiting to be written, the most it holds\\), so its lines are dropped until a write succeeds$`));
    } finally {
      fs.closeSync(reader); // the blocked write ends (EPIPE), and the thread pool gets its thread back
      await waitFor('the blocked write to end', () => reports.some((r) => /EPIPE/.test(r)) || writer.waitingBytes === 0, 5_000).catch(() => undefined);
      await writer.close(100);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('every write failing (/dev/full): one alert, then one per interval with the count', async () => {
    const reports: string[] = [];
    const writer = new LogWriter('/dev/full', (level, message) => reports.push(`${level}: ${message}`), { alertIntervalMs: 500 });
    try {
      const started = Date.now();
      while (Date.now() - started < 2_600) {
        writer.append(LINE);
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.match(reports[0]!, /^alert: writing the access log to \/dev\/full failed \(ENOSPC: no space left on device\), so its lines are dropped until a write succeeds$/);
      const again = reports.slice(1);
      // A try a second after each failure: one at ~1 s and one at ~2 s, each past the 500 ms interval.
      assert.ok(again.length >= 1 && again.length <= 2, reports.join('\n'));
      for (const line of again) assert.match(line, /^alert: writing the access log to \/dev\/full still fails \(ENOSPC: no space left on device\), and \d+ line\(s\) have been dropped since \d\d:\d\d:\d\d$/);
      assert.ok(writer.droppedLines > 50, `${writer.droppedLines} lines dropped`);
    } finally {
      await writer.close(100);
    }
  });
});
