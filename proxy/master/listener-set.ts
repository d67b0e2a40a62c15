// The master's TCP listening sockets and the accept loops on them. The accept loop runs in the
// addon (accept4 on a libuv poll), so the master never reads a byte from a client: it only
// passes fds on. Pausing stops the polls; the kernel backlog then holds new connections.
//
// They are bound with SO_REUSEPORT, always: the workers keep copies of them (LISTENER, the
// lifeboat), and if this master dies they go on accepting on them; a new master must then be
// able to bind the same ports beside them, which the kernel allows only when every socket on the
// port has SO_REUSEPORT (and the same owner uid). SO_REUSEPORT alone would also let an unrelated
// proxy share the port silently, so each port is first probed without it: a port someone
// already listens on is still EADDRINUSE, unless the previous master of our own handoff
// directory died and left its workers holding it (`shareWithOrphans`).
import type { ListenerConfig } from '../config/types';
import { native, type Acceptor } from '../handoff/native';
import type { Logger } from '../observability/logger';

interface BoundListener {
  readonly config: ListenerConfig;
  readonly fd: number;
  readonly port: number;
  acceptor: Acceptor | null;
}

export class ListenerSet {
  private readonly bound: BoundListener[] = [];
  private paused = false;

  constructor(private readonly log: Logger) {}

  /**
   * Binds every listener, or none: a failure closes what was already bound and throws.
   * `shareWithOrphans`: skip the probe (the orphaned workers of a master that died hold the ports).
   */
  bind(configs: readonly ListenerConfig[], shareWithOrphans = false): void {
    try {
      for (const config of configs) {
        if (!shareWithOrphans && config.port !== 0) probeExclusive(config);
        const fd = native.tcpListen(config.host, config.port, config.backlog, true);
        this.bound.push({ config, fd, port: native.localPort(fd), acceptor: null });
      }
    } catch (err) {
      this.close();
      throw err;
    }
  }

  /** Addresses as bound (port 0 resolved), in config order. */
  get addresses(): string[] {
    return this.bound.map((l) => (l.config.host.includes(':') ? `[${l.config.host}]:${l.port}` : `${l.config.host}:${l.port}`));
  }

  /** The listeners with port 0 replaced by the port the kernel chose. */
  boundListeners(): ListenerConfig[] {
    return this.bound.map((l) => ({ ...l.config, port: l.port }));
  }

  /** The listening fds, by listener index (still owned here: a receiver of a copy owns its copy). */
  get fds(): readonly number[] {
    return this.bound.map((l) => l.fd);
  }

  startAccepting(onConnection: (fd: number, listener: number) => void): void {
    this.bound.forEach((listener, index) => {
      listener.acceptor = new native.Acceptor(
        listener.fd,
        (fd) => onConnection(fd, index),
        (code, message) => this.log.error(`accept() on ${this.addresses[index]} failed (${code}: ${message}), backing off`),
      );
      if (this.paused) listener.acceptor.pause();
    });
  }

  get isPaused(): boolean {
    return this.paused;
  }

  pause(): void {
    if (this.paused) return;
    this.paused = true;
    for (const l of this.bound) l.acceptor?.pause();
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    for (const l of this.bound) l.acceptor?.resume();
  }

  /** Stops accepting and closes the listening sockets. */
  close(): void {
    for (const l of this.bound.splice(0)) {
      l.acceptor?.close();
      native.closeFd(l.fd);
    }
  }
}

/**
 * Throws EADDRINUSE if anyone listens on the port, SO_REUSEPORT or not: a socket without it
 * cannot bind beside a listening one. It listens for the moment between its bind and its close;
 * a client that connects in it is reset, where it would have been refused: the port was free.
 */
function probeExclusive(config: ListenerConfig): void {
  native.closeFd(native.tcpListen(config.host, config.port, config.backlog, false));
}
