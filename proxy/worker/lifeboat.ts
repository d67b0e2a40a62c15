// The lifeboat: this worker's copies of the master's listening sockets (LISTENER), kept without
// accepting while the master lives. If the master dies (its channel closes with no QUIT), the
// worker accepts on them itself, as nginx's workers do (they hold the listening sockets and go on
// serving without their master): the port stays open, connections waiting in its backlog and
// new ones are served, until a new master takes the handoff directory over and this worker hands
// the port to it (successor-watch.ts). It owns the fds: close() closes them.
//
//   holding    copies kept, nothing polled (the master accepts on the same sockets)
//   accepting  the master is gone: accept4 on each, as the reuseport transport's workers do
//   closed     fds closed (a QUIT, a shutdown, or a new master took over)
import { native, type Acceptor } from '../handoff/native';
import type { Logger } from '../observability/logger';

type State = 'holding' | 'accepting' | 'closed';

export class Lifeboat {
  private state: State = 'holding';
  /** Listening fds by listener index. */
  private readonly fds = new Map<number, number>();
  private readonly acceptors: Acceptor[] = [];
  private paused = false;

  constructor(private readonly log: Logger) {}

  /** How many listening sockets it holds. */
  get size(): number {
    return this.fds.size;
  }

  get isAccepting(): boolean {
    return this.state === 'accepting';
  }

  /** Keeps the master's listener `index`; a later copy of the same one replaces the first. */
  hold(index: number, fd: number): void {
    if (this.state !== 'holding') return native.closeFd(fd);
    const previous = this.fds.get(index);
    if (previous !== undefined) native.closeFd(previous);
    this.fds.set(index, fd);
  }

  /** The master closes listener `index` (it is shutting down): the port must close with it. */
  drop(index: number): void {
    const fd = this.fds.get(index);
    if (fd === undefined || this.state !== 'holding') return;
    this.fds.delete(index);
    native.closeFd(fd);
  }

  /**
   * Accepts on every listener from now on: `onAccepted` owns each client fd. A copy that cannot
   * be polled (not a listening socket: never from a master of ours) is closed and said so.
   * Returns how many listeners it accepts on.
   */
  launch(onAccepted: (listener: number, fd: number) => void): number {
    if (this.state !== 'holding') return 0;
    this.state = 'accepting';
    for (const [index, fd] of [...this.fds]) {
      try {
        this.acceptors.push(new native.Acceptor(
          fd,
          (clientFd) => onAccepted(index, clientFd),
          (code, message) => this.log.error(`accept() on the master's listener ${index} failed (${code}: ${message}), backing off`),
        ));
      } catch (err) {
        this.fds.delete(index);
        native.closeFd(fd);
        this.log.error(`cannot accept on the master's listener ${index}: ${(err as Error).message}`);
      }
    }
    return this.acceptors.length;
  }

  get isPaused(): boolean {
    return this.paused;
  }

  /** At the connection limit the kernel backlog holds the rest, as with reuseport. */
  setAccepting(on: boolean): void {
    this.paused = !on;
    for (const acceptor of this.acceptors) {
      if (on) acceptor.resume();
      else acceptor.pause();
    }
  }

  /**
   * Closes the fds. The kernel resets connections still queued on a listening socket when its
   * last fd closes: a caller that hands the port over does this right after a poll phase (from
   * setImmediate), when the acceptors have just emptied the queues.
   */
  close(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    for (const acceptor of this.acceptors.splice(0)) acceptor.close();
    for (const fd of this.fds.values()) native.closeFd(fd);
    this.fds.clear();
  }
}
