// nginx-style error log lines on stderr: `2026/11/25 21:40:00 [error] 1234#worker: message`.
// One line per event, no JSON, so a workshop can read it with `docker compose logs`. A line that
// cannot be written (stderr's reader gone: EPIPE; a full disk) is lost, never thrown: the next
// line that gets out says how many were lost before it.
import { SyncOutput } from './sync-output';

export type LogLevel = 'debug' | 'info' | 'notice' | 'warn' | 'error' | 'crit' | 'alert';
const LEVEL_ORDER: Record<LogLevel, number> = { debug: 0, info: 1, notice: 2, warn: 3, error: 4, crit: 5, alert: 6 };

function timestamp(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}/${p(d.getMonth() + 1)}/${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

export class Logger {
  private readonly threshold: number;

  constructor(
    private readonly role: string,
    level: LogLevel = (process.env.HANDOFF_LOG_LEVEL as LogLevel) || 'notice',
    private readonly out = new SyncOutput(2),
  ) {
    this.threshold = LEVEL_ORDER[level] ?? LEVEL_ORDER.notice;
  }

  log(level: LogLevel, message: string): void {
    if (LEVEL_ORDER[level] < this.threshold) return;
    if (!this.out.write(this.line(level, message))) return;
    const loss = this.out.takeLoss();
    if (loss) this.out.write(this.line('warn', `${loss.dropped} error log line(s) before the one above were lost, since writing to stderr failed (${loss.reason})`));
  }

  private line(level: LogLevel, message: string): string {
    return `${timestamp(new Date())} [${level}] ${process.pid}#${this.role}: ${message}\n`;
  }

  debug(message: string): void { this.log('debug', message); }
  info(message: string): void { this.log('info', message); }
  notice(message: string): void { this.log('notice', message); }
  warn(message: string): void { this.log('warn', message); }
  error(message: string): void { this.log('error', message); }
  alert(message: string): void { this.log('alert', message); }
}
