// What serves the connections of one listener. The worker picks one by the listener index each
// connection arrives with (the CONNECTION message's, the ipc message's, or its own reuseport
// listener's). Today every listener's is the HTTP/1 front (front.ts); a per-listener mode, such as
// an L4 stream or HTTP/2, is another implementation.
import type net from 'node:net';

export interface ConnectionHandler {
  /** Serves a client socket that Node made (the "ipc" transport). */
  serve(socket: net.Socket): void;
  /**
   * Serves an accepted TCP fd; `onClose` runs once its socket has closed. Throws if the fd cannot
   * be opened; the caller still owns the fd then. `handedOff`: the master passed it, and may
   * still hold its own copy.
   */
  serveFd(fd: number, onClose: () => void, handedOff: boolean): void;
}
