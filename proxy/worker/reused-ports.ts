// The "reuseport" transport's intake: this worker binds the listeners' ports itself, with
// SO_REUSEPORT, and the kernel spreads connections over the workers that did. It accepts with the
// addon's Acceptor, as the master does, so its fds are served exactly as handed-off ones. At the
// connection limit it stops accepting and the kernel backlog holds the rest. It owns the
// listening fds: close() closes them.
import type { ListenerConfig } from '../config/types';
import { native, type Acceptor } from '../handoff/native';
import type { Logger } from '../observability/logger';

export class ReusedPorts {
  private readonly listening: { readonly fd: number; readonly acceptor: Acceptor }[] = [];
  private paused = false;

  constructor(
    listeners: readonly ListenerConfig[],
    /** An accepted client fd, with the index of the listener it came on. */
    onAccepted: (listener: number, fd: number) => void,
    log: Logger,
  ) {
    listeners.forEach((listener, index) => {
      const fd = native.tcpListen(listener.host, listener.port, listener.backlog, true);
      const acceptor = new native.Acceptor(
        fd,
        (clientFd) => onAccepted(index, clientFd),
        (code, message) => log.error(`accept() on ${listener.host}:${listener.port} failed (${code}: ${message}), backing off`),
      );
      this.listening.push({ fd, acceptor });
    });
  }

  get isPaused(): boolean {
    return this.paused;
  }

  setAccepting(on: boolean): void {
    this.paused = !on;
    for (const { acceptor } of this.listening) {
      if (on) acceptor.resume();
      else acceptor.pause();
    }
  }

  close(): void {
    for (const { fd, acceptor } of this.listening.splice(0)) {
      acceptor.close();
      native.closeFd(fd);
    }
  }
}
