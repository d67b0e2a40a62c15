// The health of one upstream server as one worker sees it, as a state machine: up, or down until
// a time (nginx's max_fails=1 fail_timeout=10s). Today it is fed by passive outcomes (an
// exchange's failure or response); an active health check would feed the same transitions.

/** How long a server that failed is skipped by the balancer (nginx's fail_timeout default). */
export const FAIL_TIMEOUT_MS = 10_000;

export const enum HealthState {
  Up,
  /** Skipped by the balancer until `downUntil`; past it, tried again (and Up once it answers). */
  DownUntil,
}

export class ServerHealth {
  private state = HealthState.Up;
  private downUntilMs = 0;
  /** Failures so far (each one a transition to DownUntil), for the master's figures. */
  failures = 0;

  /** Date.now() until which the balancer skips it; 0 when up. */
  get downUntil(): number {
    return this.state === HealthState.Up ? 0 : this.downUntilMs;
  }

  /** The balancer may pick it now. */
  isAvailable(now: number): boolean {
    return this.state === HealthState.Up || now >= this.downUntilMs;
  }

  /** It failed (refused, reset, timed out): down for FAIL_TIMEOUT_MS. */
  failed(now: number): void {
    this.failures++;
    this.state = HealthState.DownUntil;
    this.downUntilMs = now + FAIL_TIMEOUT_MS;
  }

  /** It answered: up. */
  succeeded(): void {
    this.state = HealthState.Up;
    this.downUntilMs = 0;
  }
}
