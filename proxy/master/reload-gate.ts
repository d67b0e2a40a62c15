// One reload at a time. A HUP while one is loading its config (a DNS lookup may take seconds)
// is not dropped: the file may have changed after that load read it, and nginx's master loop
// would find its reconfigure flag raised again. So the flag is raised again once this reload is
// done, and the next reload reads the newest file; several HUPs meanwhile make one more, not several.
import type { Logger } from '../observability/logger';

export class ReloadGate {
  private running = false;
  private again = false;

  constructor(
    /** Raises the reload flag: the follow-up goes through the signal cycle like any HUP. */
    private readonly raiseAgain: () => void,
    private readonly log: Logger,
  ) {}

  async run(reload: () => Promise<void>): Promise<void> {
    if (this.running) {
      if (!this.again) this.log.notice('reload requested while one is loading its configuration: one more reload follows it');
      this.again = true;
      return;
    }
    this.running = true;
    try {
      await reload();
    } finally {
      this.running = false;
      if (this.again) {
        this.again = false;
        this.raiseAgain();
      }
    }
  }
}
