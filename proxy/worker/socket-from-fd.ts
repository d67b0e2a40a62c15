// A net.Socket around a TCP fd that the master passed over the handoff channel.
// `new net.Socket({ fd })` first asks libuv what the fd is (uv_guess_handle: an isatty ioctl,
// fstat, getsockname, getsockopt(SO_TYPE) — four syscalls per connection, measured with strace)
// and only then builds a TCP handle. The master only ever passes accepted TCP sockets, so this
// builds the TCP handle directly and gives it to net.Socket as `handle` (how node:net and
// child_process wrap handles they already know the type of).
//
// The TCP class comes from `process.binding('tcp_wrap')`: documentation-deprecated only
// (DEP0111), and tcp_wrap is on its allow-list in Node 20, 22 and 24. If a Node drops it, or its
// shape changes, the fd path is used: slower by those syscalls, otherwise the same.
import net from 'node:net';

interface TcpHandle {
  open(fd: number): number;
  close(): void;
}
type TcpClass = new (type: number) => TcpHandle;

let tcp: { TCP: TcpClass; SOCKET: number } | null | undefined;

function tcpWrap(): { TCP: TcpClass; SOCKET: number } | null {
  if (tcp !== undefined) return tcp;
  tcp = null;
  try {
    const binding = (process as unknown as { binding(name: string): { TCP?: unknown; constants?: { SOCKET?: unknown } } }).binding('tcp_wrap');
    if (typeof binding.TCP === 'function' && typeof binding.constants?.SOCKET === 'number') {
      tcp = { TCP: binding.TCP as TcpClass, SOCKET: binding.constants.SOCKET };
    }
  } catch {
    // not exposed: stay null, use { fd }
  }
  return tcp;
}

/**
 * Throws (as `new net.Socket({ fd })` does) if the fd cannot be opened; the caller still owns it then.
 * `onread`: net's own option, reads into the caller's buffer instead of a new one per read.
 */
export function socketFromTcpFd(fd: number, onread?: net.OnReadOpts): net.Socket {
  const wrap = tcpWrap();
  if (wrap === null) return new net.Socket({ fd, readable: true, writable: true, onread } as net.SocketConstructorOpts);
  const handle = new wrap.TCP(wrap.SOCKET);
  const err = handle.open(fd);
  if (err !== 0) {
    // The handle does not own the fd when open() fails (uv_tcp_open left it alone).
    handle.close();
    throw new Error(`open: uv error ${err}`);
  }
  return new net.Socket({ handle, readable: true, writable: true, onread } as net.SocketConstructorOpts);
}
