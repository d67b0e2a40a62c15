// sockets.c: the plain functions: listening sockets (TCP and SOCK_SEQPACKET), connect, a lock
// file, and the small fd utilities (localPort, tcpNoDelay, peerCredentials, closeFd, shutdownWrite).

#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

// ---- listening sockets ----------------------------------------------------------------------

// One getaddrinfo result -> a listening socket, or -errno with *syscall naming the failed step.
static int open_tcp_listener(const struct addrinfo* ai, bool reuse_port, int backlog, const char** syscall) {
  // NONBLOCK: the Acceptor's accept4 must never block the loop. CLOEXEC: children spawned later
  // (workers included) must not inherit the listener and keep the port busy after we exit.
  int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol), one = 1;
  if (fd < 0) return *syscall = "socket", -errno;
  // SO_REUSEADDR: a restarted master can bind while old connections linger in TIME_WAIT.
  // SO_REUSEPORT (opt-in): several sockets bind one port and the kernel spreads connections.
  // IPv6 keeps the system's dual-stack default (IPV6_V6ONLY off on Linux), as Node does.
  // TCP_NODELAY: accepted sockets inherit it from the listener (Linux copies the listener's TCP
  // options into each child), which saves the worker a setsockopt per connection.
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0) *syscall = "setsockopt";
  else if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0) *syscall = "setsockopt";
  else if (reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) *syscall = "setsockopt";
  else if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0) *syscall = "bind";
  else if (listen(fd, backlog) < 0) *syscall = "listen";
  else return fd;
  int err = errno;
  close(fd);
  return -err;
}

// tcpListen(host, port, backlog, reusePort) -> fd
static napi_value tcp_listen(napi_env env, napi_callback_info info) {
  size_t argc = 4, len;
  napi_value argv[4], out;
  char host[256], what[300], service[8];
  int32_t port, backlog;
  bool reuse_port;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (!arg_string(env, argv[0], "host", host, sizeof host, &len)) return NULL;
  if (len >= sizeof host) return throw_type(env, "host", "at most 255 bytes");
  if (!arg_int(env, argv[1], "port", 0, 65535, &port) || !arg_int(env, argv[2], "backlog", 0, INT32_MAX, &backlog)) return NULL;
  if (napi_get_value_bool(env, argv[3], &reuse_port) != napi_ok) return throw_type(env, "reusePort", "a boolean");
  bool v6 = strchr(host, ':') != NULL;
  snprintf(what, sizeof what, "listen %s%s%s:%d", v6 ? "[" : "", host, v6 ? "]" : "", port);
  snprintf(service, sizeof service, "%d", port);

  // AI_PASSIVE: an empty host means the wildcard address. A name is resolved synchronously:
  // this runs once at startup, before there is any traffic to block.
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
  struct addrinfo* res;
  int gai = getaddrinfo(host[0] ? host : NULL, service, &hints, &res);
  if (gai == EAI_SYSTEM) return throw_sys(env, errno, "getaddrinfo", what, NULL);
  if (gai != 0) {
    char msg[400];
    snprintf(msg, sizeof msg, "%s: %s", what, gai_strerror(gai));
    napi_throw_error(env, gai == EAI_NONAME || gai == EAI_NODATA ? "ENOTFOUND" : "EAI_FAIL", msg);
    return NULL;
  }
  // The first address that works wins (a name may resolve to IPv4 and IPv6 addresses).
  int fd = -EADDRNOTAVAIL;
  const char* syscall = "bind";
  for (struct addrinfo* ai = res; ai && fd < 0; ai = ai->ai_next) fd = open_tcp_listener(ai, reuse_port, backlog, &syscall);
  freeaddrinfo(res);
  if (fd < 0) return throw_sys(env, -fd, syscall, what, NULL);
  return napi_create_int32(env, fd, &out), out;
}

// lockFile(path) -> fd holding an exclusive flock on path (created 0600 if missing), or -1 if
// another process holds it. The lock lives as long as the fd, so it goes with the process
// however that ends (SIGKILL included), and it works across containers sharing a volume.
static napi_value lock_file(napi_env env, napi_callback_info info) {
  size_t argc = 1, len;
  napi_value argv[1], out;
  char path[4096], what[4200];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (!arg_string(env, argv[0], "path", path, sizeof path, &len)) return NULL;
  if (len == 0 || len >= sizeof path) return throw_type(env, "path", "a non-empty path under 4096 bytes");
  snprintf(what, sizeof what, "lock %s", path);
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return throw_sys(env, errno, "open", what, NULL);
  if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
    int err = errno;
    close(fd);
    if (err == EWOULDBLOCK) return napi_create_int32(env, -1, &out), out;
    return throw_sys(env, err, "flock", what, NULL);
  }
  return napi_create_int32(env, fd, &out), out;
}

// The argument of a function taking one fd; false with a JS exception pending if it is not one.
static bool fd_argument(napi_env env, napi_callback_info info, int32_t* fd) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  return arg_int(env, argv[0], "fd", 0, INT32_MAX, fd);
}

// tcpNoDelay(fd) -> whether TCP_NODELAY is set (a diagnostic: workers rely on inheriting it)
static napi_value tcp_no_delay(napi_env env, napi_callback_info info) {
  napi_value out;
  int32_t fd;
  int on = 0;
  socklen_t len = sizeof on;
  if (!fd_argument(env, info, &fd)) return NULL;
  if (getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, &len) < 0) return throw_sys(env, errno, "getsockopt", "tcpNoDelay", NULL);
  return napi_get_boolean(env, on != 0, &out), out;
}

// localPort(fd) -> the port a socket is bound to (for port 0)
static napi_value local_port(napi_env env, napi_callback_info info) {
  napi_value out;
  int32_t fd;
  if (!fd_argument(env, info, &fd)) return NULL;
  struct sockaddr_storage ss;
  socklen_t sslen = sizeof ss;
  if (getsockname(fd, (struct sockaddr*)&ss, &sslen) < 0) return throw_sys(env, errno, "getsockname", "localPort", NULL);
  if (ss.ss_family == AF_INET) return napi_create_int32(env, ntohs(((struct sockaddr_in*)&ss)->sin_port), &out), out;
  if (ss.ss_family == AF_INET6) return napi_create_int32(env, ntohs(((struct sockaddr_in6*)&ss)->sin6_port), &out), out;
  return throw_sys(env, EAFNOSUPPORT, "getsockname", "localPort", "(not an IP socket)");
}

// Reads a socket path argument. sun_path holds 108 bytes, and silently cutting a longer path
// would bind or connect somewhere else, so that is ENAMETOOLONG.
static bool unix_address(napi_env env, napi_value v, const char* verb, struct sockaddr_un* addr, char* what, size_t what_size) {
  size_t len;
  memset(addr, 0, sizeof *addr);
  addr->sun_family = AF_UNIX;
  if (!arg_string(env, v, "path", addr->sun_path, sizeof addr->sun_path, &len)) return false;
  if (len == 0) return throw_type(env, "path", "a non-empty path"), false; // "" would be Linux's autobind
  if (len < sizeof addr->sun_path) return snprintf(what, what_size, "%s %s", verb, addr->sun_path), true;
  char detail[96];
  snprintf(what, what_size, "%s (a %zu-byte path)", verb, len);
  snprintf(detail, sizeof detail, "(a Unix socket path holds at most %zu bytes)", sizeof addr->sun_path - 1);
  return throw_sys(env, ENAMETOOLONG, verb, what, detail), false;
}

// bind() found something at the path. Returns 0 if it was a stale socket (a master that died
// without unlinking it) and is gone now, so bind may be retried; else an errno to throw.
// A live socket is never removed: that would silently steal another master's workers.
static int clear_stale_socket(const struct sockaddr_un* addr, const char** detail) {
  struct stat st;
  if (lstat(addr->sun_path, &st) < 0) return errno == ENOENT ? 0 : errno; // gone meanwhile: retry
  if (!S_ISSOCK(st.st_mode)) return *detail = "(the path exists and is not a socket)", EADDRINUSE;
  // Non-blocking probe: a live master with a full backlog answers EAGAIN instead of blocking us.
  int probe = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (probe < 0) return errno;
  int err = connect(probe, (const struct sockaddr*)addr, sizeof *addr) == 0 ? 0 : errno;
  close(probe);
  if (err == ECONNREFUSED) return unlink(addr->sun_path) == 0 || errno == ENOENT ? 0 : errno;
  if (err == ENOENT) return 0;
  // Connected, EAGAIN (backlog full) or EPROTOTYPE (someone's stream socket): alive, not ours.
  if (err == 0 || err == EAGAIN || err == EPROTOTYPE) return *detail = "(a live process is listening there)", EADDRINUSE;
  return err;
}

// seqpacketListen(path, backlog) -> fd
static napi_value seqpacket_listen(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], out;
  struct sockaddr_un addr;
  char what[160];
  int32_t backlog;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (!unix_address(env, argv[0], "listen", &addr, what, sizeof what)) return NULL;
  if (!arg_int(env, argv[1], "backlog", 0, INT32_MAX, &backlog)) return NULL;
  // SEQPACKET: reliable and ordered like a stream, but it keeps message boundaries, so one
  // recvmsg is one whole message with its fd, never half of one or two glued together.
  int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_sys(env, errno, "socket", what, NULL);
  const char* detail = NULL;
  int rc = bind(fd, (struct sockaddr*)&addr, sizeof addr), err = errno;
  if (rc < 0 && err == EADDRINUSE && (err = clear_stale_socket(&addr, &detail)) == 0) {
    rc = bind(fd, (struct sockaddr*)&addr, sizeof addr); // once: EADDRINUSE again means we lost a race
    err = errno;
  }
  if (rc < 0) return close(fd), throw_sys(env, err, "bind", what, detail);
  // Only our own user may hand us workers (and so receive client connections). chmod the path,
  // since fchmod on a socket fd does not touch the file, and do it before listen(): until then
  // every connect is refused, so nobody slips in while the file still has the umask's mode.
  const char* syscall = "chmod";
  if (chmod(addr.sun_path, 0600) == 0) {
    syscall = "listen";
    if (listen(fd, backlog) == 0) return napi_create_int32(env, fd, &out), out;
  }
  err = errno;
  unlink(addr.sun_path);
  close(fd);
  return throw_sys(env, err, syscall, what, NULL);
}

// seqpacketConnect(path) -> fd
static napi_value seqpacket_connect(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], out;
  struct sockaddr_un addr;
  char what[160];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (!unix_address(env, argv[0], "connect", &addr, what, sizeof what)) return NULL;
  // A blocking connect keeps this call synchronous. On a local socket it returns at once, or,
  // if the master's backlog is full, as soon as the master accepts (it does on every wakeup).
  int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0), rc;
  if (fd < 0) return throw_sys(env, errno, "socket", what, NULL);
  while ((rc = connect(fd, (struct sockaddr*)&addr, sizeof addr)) < 0 && errno == EINTR) {}
  if (rc == 0 && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) == 0) return napi_create_int32(env, fd, &out), out;
  int err = errno;
  close(fd);
  return throw_sys(env, err, rc == 0 ? "fcntl" : "connect", what, NULL);
}

// closeFd(fd)
static napi_value close_fd(napi_env env, napi_callback_info info) {
  int32_t fd;
  char what[32];
  if (!fd_argument(env, info, &fd)) return NULL;
  // On Linux the fd is gone even if close() says EINTR; retrying could close a reused number.
  if (close(fd) == 0 || errno == EINTR) return NULL;
  snprintf(what, sizeof what, "close fd %d", fd);
  return throw_sys(env, errno, "close", what, NULL);
}

// peerCredentials(fd) -> { pid, uid, gid } of the process at the other end of a Unix socket, as
// the kernel recorded them at connect() (the connecting side) or listen() (the listening side):
// SO_PEERCRED cannot be forged by the peer, unlike anything it could send us.
static napi_value peer_credentials(napi_env env, napi_callback_info info) {
  napi_value out, v;
  int32_t fd;
  struct ucred cred;
  socklen_t len = sizeof cred;
  if (!fd_argument(env, info, &fd)) return NULL;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) return throw_sys(env, errno, "getsockopt", "peerCredentials", NULL);
  napi_create_object(env, &out);
  napi_create_int32(env, cred.pid, &v), napi_set_named_property(env, out, "pid", v);
  napi_create_uint32(env, cred.uid, &v), napi_set_named_property(env, out, "uid", v);
  napi_create_uint32(env, cred.gid, &v), napi_set_named_property(env, out, "gid", v);
  return out;
}

// shutdownWrite(fd) -> 0, or -errno (ENOTCONN: the peer is already gone; nothing to send)
// A socket handed to a worker may still be open in the master, whose copy is released only when
// the worker's ACK reaches it; a worker's close() sends no FIN while that copy exists, so the
// worker sends it first.
static napi_value shutdown_write(napi_env env, napi_callback_info info) {
  napi_value out;
  int32_t fd;
  if (!fd_argument(env, info, &fd)) return NULL;
  return napi_create_int32(env, shutdown(fd, SHUT_WR) == 0 ? 0 : -errno, &out), out;
}

napi_status sockets_define(napi_env env, napi_value exports) {
  napi_property_descriptor functions[] = {
      FUNCTION("tcpListen", tcp_listen),
      FUNCTION("localPort", local_port),
      FUNCTION("tcpNoDelay", tcp_no_delay),
      FUNCTION("lockFile", lock_file),
      FUNCTION("seqpacketListen", seqpacket_listen),
      FUNCTION("seqpacketConnect", seqpacket_connect),
      FUNCTION("closeFd", close_fd),
      FUNCTION("shutdownWrite", shutdown_write),
      FUNCTION("peerCredentials", peer_credentials),
  };
  return napi_define_properties(env, exports, sizeof functions / sizeof functions[0], functions);
}
