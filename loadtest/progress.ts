// Progress while a run goes on, on stderr (stdout carries the report). On a terminal one line is
// redrawn every second; otherwise (docker compose logs, CI) a plain line is printed every 2 seconds.
import type { Recorder } from './recorder';

export class Progress {
  private timer: NodeJS.Timeout | null = null;
  private readonly tty = process.stderr.isTTY === true;

  constructor(private readonly stream: NodeJS.WriteStream = process.stderr) {}

  start(label: string, durationS: number, recorder: Recorder): void {
    const startedAt = Date.now();
    let lastCount = 0;
    let lastAt = startedAt;
    let ticks = 0;
    const line = (): string => {
      const now = Date.now();
      const count = recorder.responses;
      const rate = ((count - lastCount) * 1000) / Math.max(1, now - lastAt);
      lastCount = count;
      lastAt = now;
      const elapsed = Math.min(durationS, (now - startedAt) / 1000);
      return `  ${label.padEnd(22)} ${elapsed.toFixed(0).padStart(3)}/${durationS}s  ${count.toLocaleString('en-US').padStart(9)} responses  ${Math.round(rate).toLocaleString('en-US').padStart(7)} req/s  ${recorder.failures} failed`;
    };
    this.timer = setInterval(() => {
      ticks++;
      if (this.tty) this.stream.write(`\r${line()}\x1b[K`);
      else if (ticks % 2 === 0) this.stream.write(`${line()}\n`);
    }, 1000);
    this.timer.unref();
    if (!this.tty) this.stream.write(`  ${label}: running for ${durationS}s\n`);
  }

  stop(summary: string): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.stream.write(this.tty ? `\r  ${summary}\x1b[K\n` : `  ${summary}\n`);
  }
}
