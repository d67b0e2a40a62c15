// The health of one upstream server as one worker sees it, as a state machine: up, or down until
// a time. Passive, as nginx's max_fails / fail_timeout: `maxFails` failures within `failTimeout`
// of the first take the server out for `failTimeout`; past that it is tried again, and Up once
// it answers. maxFails 0 never takes it out. An active check would feed the same transitions.

export const enum HealthState {
  Up,
  /** Skipped by the balancer until `downUntil`; past it, tried again (and Up once it answers). */
  DownUntil,
}

export class ServerHealth {
  private state = HealthState.Up;
  private downUntilMs = 0;
  /** Failures in the current window, and when that window began (0: none open). */
  private recentFailures = 0;
  private windowStart = 0;
  /** Failures so far, for the master's figures. */
  failures = 0;

  constructor(
    private readonly maxFails = 1,
    private readonly failTimeoutMs = 10_000,
  ) {}

  /** Date.now() until which the balancer skips it; 0 when up. */
  get downUntil(): number {
    return this.state === HealthState.Up ? 0 : this.downUntilMs;
  }

  /** The balancer may pick it now. */
  isAvailable(now: number): boolean {
    return this.state === HealthState.Up || now >= this.downUntilMs;
  }

  /** It failed (refused, reset, timed out): out for failTimeout once maxFails have come within it. */
  failed(now: number): void {
    this.failures++;
    if (this.maxFails === 0) return;
    if (this.windowStart === 0 || now - this.windowStart > this.failTimeoutMs) {
      this.windowStart = now;
      this.recentFailures = 0;
    }
    if (++this.recentFailures < this.maxFails) return;
    this.state = HealthState.DownUntil;
    this.downUntilMs = now + this.failTimeoutMs;
    this.recentFailures = 0;
    this.windowStart = 0;
  }

  /** It answered: up, and the failures before count no more. */
  succeeded(): void {
    this.state = HealthState.Up;
    this.downUntilMs = 0;
    this.recentFailures = 0;
    this.windowStart = 0;
  }
}
