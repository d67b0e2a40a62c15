// The root of the proxy's own errors. Each subclass has a stable `code` (HANDOFF_*) that code may
// branch on, as undici's errors have; messages are for people and may change.

export abstract class HandoffError extends Error {
  abstract readonly code: string;

  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}
