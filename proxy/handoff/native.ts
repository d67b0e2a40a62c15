// Typed view of the C addon (proxy/handoff/native/). Everything that touches raw fds,
// accept4, SOCK_SEQPACKET and SCM_RIGHTS lives in the addon; everything else is TypeScript.
//
// Fd ownership rules (one owner closes each fd):
//  - tcpListen / seqpacketListen / seqpacketConnect return an fd the caller owns.
//  - An Acceptor polls a listening fd it does NOT own; each accepted fd is handed to onAccept,
//    whose caller then owns it, from the moment onAccept is called (even if it throws).
//  - A Channel takes ownership of its fd once its constructor returns (if the constructor
//    throws, the caller still owns the fd): Channel.close() or a peer close closes it, and
//    nothing else may.
//  - Channel.send() never takes ownership of the passed fd: the kernel duplicates it into the
//    message, and the sender still closes its own copy (after the peer's ack).
//  - An fd that arrives in onMessage belongs to the receiver (even if onMessage throws).
//
// Errors thrown by the addon look like Node's system errors: .code is the errno name
// ('EADDRINUSE'), .errno the negative number, .syscall the failing call, and the message
// names the operation and address ("listen 127.0.0.1:8080: address already in use").
// Bad argument types throw a TypeError with code 'ERR_INVALID_ARG_TYPE'.
//
// Lifetime: like a net.Server or net.Socket, an open Acceptor or Channel keeps itself (and its
// callbacks) alive until it is closed, so close() what you open. Callbacks run like Node's own
// (MakeCallback); one that throws raises an uncaught exception. When a worker thread or the
// process environment ends, the addon closes whatever is still open.
import path from 'node:path';

export interface Acceptor {
  /** Stop polling for new connections; the kernel backlog holds them meanwhile. */
  pause(): void;
  /** Polls again; also retries at once after an out-of-fds backoff or a fatal accept error. */
  resume(): void;
  /** Stop polling for good. Idempotent. Does not close the listening fd. */
  close(): void;
}
export interface AcceptorConstructor {
  new (
    /** Must be a listening socket (else EINVAL). Up to 64 connections are accepted per wakeup. */
    listenFd: number,
    /** A non-blocking, close-on-exec connected socket. */
    onAccept: (fd: number) => void,
    /**
     * EMFILE, ENFILE, ENOBUFS, ENOMEM: reported once per episode; the acceptor backs off
     * (50 ms doubling to 1 s) and retries by itself, and a successful accept ends the episode.
     * Any other error (EBADF, EINVAL...) stops polling until resume(). Transient per-connection
     * errors (ECONNABORTED, EPROTO...) are skipped silently.
     */
    onError: (code: string, message: string) => void,
  ): Acceptor;
}

export interface Channel {
  /**
   * Sends one message: a small fixed header (1 to 64 bytes) and optionally one fd (-1 for none),
   * or an array of 1 to MAX_FDS_PER_MESSAGE fds, which arrive in that order.
   * Returns 0 when sent, or 'EAGAIN' when the socket buffer is full: nothing was sent (the fd
   * neither), and onWritable fires once when the channel can take more. Other errors are thrown
   * (EPIPE: the peer is gone; EBADF: this channel is closed, or `fd` is not open).
   */
  send(header: Buffer, fd: number | readonly number[]): 0 | 'EAGAIN';
  /**
   * Stops polling and closes the fd. Idempotent, and safe inside any of the callbacks (no
   * further messages are delivered). onClose is not called for a local close.
   */
  close(): void;
  /** The channel's fd, or -1 once closed. */
  readonly fd: number;
}
export interface ChannelConstructor {
  new (
    /** A connected SOCK_SEQPACKET socket (else EINVAL), not polled by anything else (else EEXIST). */
    fd: number,
    /**
     * header is a copy of the message (a message longer than 64 bytes arrives cut to 64).
     * fd is the first fd it carried (-1 for none), close-on-exec; moreFds the others, in order,
     * when it carried more than one (up to maxFds in all; any beyond are closed). truncated is
     * MSG_CTRUNC: the kernel dropped fds (e.g. EMFILE, or more than maxFds); those it installed
     * come first.
     */
    onMessage: (header: Buffer, fd: number, truncated: boolean, moreFds?: number[]) => void,
    /** After send() returned 'EAGAIN' (once, however many did), when the channel can take more. */
    onWritable: () => void,
    /**
     * The peer closed (code null) or the socket failed (e.g. 'ECONNRESET': the peer closed
     * with our messages unread; what it had sent us is still delivered first). The channel
     * has already closed its fd.
     */
    onClose: (code: string | null) => void,
    /** Fds a message may bring (1 to MAX_FDS_PER_MESSAGE): 1 unless the owner takes batches. */
    maxFds?: number,
  ): Channel;
}

/** The most fds one message carries (proxy/handoff/native/channel.c, MAX_FDS). */
export const MAX_FDS_PER_MESSAGE = 64;

export interface NativeBinding {
  /**
   * Non-blocking, close-on-exec TCP listening socket (SO_REUSEADDR; SO_REUSEPORT when asked),
   * with TCP_NODELAY, which the sockets accepted on it inherit.
   * host is an IPv4/IPv6 address ('' = wildcard) or a name, resolved synchronously.
   */
  tcpListen(host: string, port: number, backlog: number, reusePort: boolean): number;
  /** Port a bound socket listens on (for port 0). */
  localPort(fd: number): number;
  /**
   * An exclusive flock(2) on `path` (created 0600 if missing): the fd that holds it (the lock
   * lasts while it is open, and ends with the process), or -1 when another process holds it.
   */
  lockFile(path: string): number;
  /** Whether a TCP socket has TCP_NODELAY set. */
  tcpNoDelay(fd: number): boolean;
  /**
   * Non-blocking, close-on-exec SOCK_SEQPACKET pathname socket, listening, chmod 0600.
   * Unlinks a stale socket file (nobody listening); a live socket or a non-socket file at the
   * path is EADDRINUSE. A path over 107 bytes is ENAMETOOLONG.
   */
  seqpacketListen(path: string, backlog: number): number;
  /** Connects a close-on-exec SOCK_SEQPACKET socket to a pathname, then makes it non-blocking. */
  seqpacketConnect(path: string): number;
  /**
   * Who is at the other end of a Unix socket (SO_PEERCRED): as of its connect() for an accepted
   * socket, as of the listener's listen() for a connected one. The kernel's word, not the peer's.
   */
  peerCredentials(fd: number): { pid: number; uid: number; gid: number };
  closeFd(fd: number): void;
  /** shutdown(fd, SHUT_WR): the FIN goes now, whoever else holds the socket. 0 or -errno. */
  shutdownWrite(fd: number): number;
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
