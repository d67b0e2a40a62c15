// Typed view of the C addon (proxy/handoff/native/handoff.c). Everything that touches raw fds,
// accept4, SOCK_SEQPACKET and SCM_RIGHTS lives in the addon; everything else is TypeScript.
//
// Fd ownership rules (one owner closes each fd):
//  - tcpListen / seqpacketListen / seqpacketConnect return an fd the caller owns.
//  - An Acceptor polls a listening fd it does NOT own; each accepted fd is handed to onAccept,
//    whose caller then owns it.
//  - A Channel takes ownership of its fd: Channel.close() closes it, and nothing else may.
//  - Channel.send() never takes ownership of the passed fd: the kernel duplicates it into the
//    message, and the sender still closes its own copy (after the peer's ack).
//  - An fd that arrives in onMessage belongs to the receiver.
import path from 'node:path';

export interface Acceptor {
  /** Stop polling for new connections; the kernel backlog holds them meanwhile. */
  pause(): void;
  resume(): void;
  /** Stop polling for good. Does not close the listening fd. */
  close(): void;
}
export interface AcceptorConstructor {
  new (
    listenFd: number,
    onAccept: (fd: number) => void,
    /** Non-fatal accept errors (EMFILE, ENFILE, ENOBUFS, ENOMEM back off and retry by themselves). */
    onError: (code: string, message: string) => void,
  ): Acceptor;
}

export interface Channel {
  /**
   * Sends one message: a small fixed header and optionally one fd (-1 for none).
   * Returns 0 when sent, or 'EAGAIN' when the socket buffer is full: nothing was sent, and
   * onWritable fires once when the channel can take more. Other errors are thrown.
   */
  send(header: Buffer, fd: number): 0 | 'EAGAIN';
  /** Stops polling and closes the fd. Idempotent. onClose is not called for a local close. */
  close(): void;
  readonly fd: number;
}
export interface ChannelConstructor {
  new (
    fd: number,
    /** fd is -1 when the message carried none; truncated is MSG_CTRUNC (the fd was lost, e.g. EMFILE). */
    onMessage: (header: Buffer, fd: number, truncated: boolean) => void,
    onWritable: () => void,
    /** The peer closed (EOF) or the socket failed; the channel has already closed its fd. */
    onClose: (code: string | null) => void,
  ): Channel;
}

export interface NativeBinding {
  /** Non-blocking, close-on-exec TCP listening socket (SO_REUSEADDR; SO_REUSEPORT when asked). */
  tcpListen(host: string, port: number, backlog: number, reusePort: boolean): number;
  /** Port a bound socket listens on (for port 0). */
  localPort(fd: number): number;
  /** Non-blocking SOCK_SEQPACKET pathname socket, listening, chmod 0600. Unlinks a stale path. */
  seqpacketListen(path: string, backlog: number): number;
  /** Connects a non-blocking SOCK_SEQPACKET socket to a pathname. */
  seqpacketConnect(path: string): number;
  closeFd(fd: number): void;
  Acceptor: AcceptorConstructor;
  Channel: ChannelConstructor;
}

// The addon is built by node-gyp at `npm install` into <root>/build/Release. This file runs both
// compiled (dist/proxy/handoff) and from source under ts-node (proxy/handoff).
function loadBinding(): NativeBinding {
  const candidates = [
    path.resolve(__dirname, '../../build/Release/handoff.node'),
    path.resolve(__dirname, '../../../build/Release/handoff.node'),
  ];
  let lastError: unknown;
  for (const candidate of candidates) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-var-requires
      return require(candidate) as NativeBinding;
    } catch (err) {
      lastError = err;
    }
  }
  throw new Error(`handoff: native addon not found (run npm install): ${String(lastError)}`);
}

export const native: NativeBinding = loadBinding();
