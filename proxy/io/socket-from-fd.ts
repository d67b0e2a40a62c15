// A net.Socket around a TCP fd that the master passed over the handoff channel, for when libuv's
// bindings are missing (handle-socket.ts serves fds without a net.Socket otherwise).
// `new net.Socket({ fd })` first asks libuv what the fd is (uv_guess_handle: an isatty ioctl,
// fstat, getsockname, getsockopt(SO_TYPE) — four syscalls per connection, measured with strace)
// and only then builds a TCP handle. The master only ever passes accepted TCP sockets, so this
// builds the TCP handle directly and gives it to net.Socket as `handle` (how node:net and
// child_process wrap handles they already know the type of).
import net from 'node:net';
import { openTcpHandle } from './libuv-bindings';

/**
 * Throws (as `new net.Socket({ fd })` does) if the fd cannot be opened; the caller still owns it
 * then. Half-open allowed, as net.Server makes its sockets for node:http: a client may send its
 * FIN after the request and still read the whole answer.
 */
export function socketFromTcpFd(fd: number): net.Socket {
  const handle = openTcpHandle(fd);
  if (handle === null) return new net.Socket({ fd, readable: true, writable: true, allowHalfOpen: true });
  return new net.Socket({ handle, readable: true, writable: true, allowHalfOpen: true } as net.SocketConstructorOpts);
}
