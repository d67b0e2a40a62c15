// The health of one upstream server as one worker sees it, as a state machine: up, down until a
// time, or down by the master's health checks. Passive, as nginx's max_fails / fail_timeout:
// `maxFails` failures within `failTimeout` of the first take the server out for `failTimeout`;
// past that it is tried again, and Up once it answers. maxFails 0 never takes it out. Active, as
// HAProxy's checks: the master's prober says down (SERVER message), and the server stays out,
// whatever requests find, until it says up again.

export const enum HealthState {
  Up,
  /** Skipped by the balancer until `downUntil`; past it, tried again (and Up once it answers). */
  DownUntil,
  /** The master's health checks fail: skipped until they pass (checkedUp). */
  CheckedDown,
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
    return this.state === HealthState.DownUntil ? this.downUntilMs : 0;
  }

  /** The balancer may pick it now. */
  isAvailable(now: number): boolean {
    return this.state === HealthState.Up || (this.state === HealthState.DownUntil && now >= this.downUntilMs);
  }

  /** Out by the master's health checks (for passive health, as if up: downUntil is 0). */
  get checkedDown(): boolean {
    return this.state === HealthState.CheckedDown;
  }

  /** The master's checks fail: out until they pass, whatever passive health would say. */
  checkDown(): void {
    this.state = HealthState.CheckedDown;
    this.resetWindow();
  }

  /** The master's checks pass again: up, with no failures held against it. */
  checkUp(): void {
    if (this.state !== HealthState.CheckedDown) return;
    this.state = HealthState.Up;
    this.resetWindow();
  }

  /** It failed (refused, reset, timed out): out for failTimeout once maxFails have come within it. */
  failed(now: number): void {
    this.failures++;
    if (this.maxFails === 0 || this.state === HealthState.CheckedDown) return;
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

  /** It answered: up, and the failures before count no more (unless the checks hold it out). */
  succeeded(): void {
    if (this.state === HealthState.CheckedDown) return;
    this.state = HealthState.Up;
    this.resetWindow();
  }

  private resetWindow(): void {
    this.downUntilMs = 0;
    this.recentFailures = 0;
    this.windowStart = 0;
  }
}
