// handoff.c: the native half of Handoff. Everything that touches raw fds lives here:
// listening sockets, accept4 on a libuv poll, and SOCK_SEQPACKET channels that carry one fd per
// message (SCM_RIGHTS). The typed contract, including who owns which fd, is in native.ts.
//
// One rule above all: every fd has exactly one owner. When we cannot hand an fd on, we close
// it; once JS has it, we never touch it again: closing an fd twice can close some unrelated
// socket that has reused the number in between.

#define _GNU_SOURCE // accept4, MSG_CMSG_CLOEXEC
#define NAPI_VERSION 8 // for napi_add_async_cleanup_hook
#include <node_api.h>
#include <uv.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define ACCEPT_BATCH 64     // accepts per wakeup: a flood of connections must not starve the loop
#define READ_BATCH 128      // messages per wakeup, same reason (polls are level-triggered: we come back)
#define MAX_MESSAGE 64      // messages are 16 bytes; a longer one arrives cut (and decode rejects it)
#define BACKOFF_MIN_MS 50   // out-of-fds backoff: soon enough to recover fast...
#define BACKOFF_MAX_MS 1000 // ...rare enough not to spin while the process stays out of fds

// ---- errors and arguments -------------------------------------------------------------------

static napi_value str(napi_env env, const char* s) {
  napi_value v;
  napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &v);
  return v;
}

// Throws a Node-style system error: .code is the errno name ('EADDRINUSE'), .errno Node's
// negative number, .syscall the failed call; the message reads "<what>: <description>[ detail]".
static napi_value throw_sys(napi_env env, int err, const char* syscall, const char* what, const char* detail) {
  char name[64], desc[128], msg[640];
  uv_err_name_r(-err, name, sizeof name); // libuv codes are -errno on Unix; the _r forms never allocate
  uv_strerror_r(-err, desc, sizeof desc);
  snprintf(msg, sizeof msg, "%s: %s%s%s", what, desc, detail ? " " : "", detail ? detail : "");
  napi_value error, errno_v;
  napi_create_error(env, str(env, name), str(env, msg), &error);
  napi_create_int32(env, -err, &errno_v);
  napi_set_named_property(env, error, "errno", errno_v);
  napi_set_named_property(env, error, "syscall", str(env, syscall));
  napi_throw(env, error);
  return NULL;
}

static napi_value throw_type(napi_env env, const char* name, const char* expected) {
  char msg[128];
  snprintf(msg, sizeof msg, "%s must be %s", name, expected);
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
  return NULL;
}

// Argument readers: on a bad argument they throw a TypeError and return false.
static bool arg_int(napi_env env, napi_value v, const char* name, int min, int max, int32_t* out) {
  double d;
  // !(in range) also rejects NaN, and makes the cast below well defined.
  if (napi_get_value_double(env, v, &d) != napi_ok || !(d >= min && d <= max) || d != (int32_t)d) {
    char expected[64];
    snprintf(expected, sizeof expected, "an integer in [%d, %d]", min, max);
    return throw_type(env, name, expected), false;
  }
  return *out = (int32_t)d, true;
}

// Sets *len to the full UTF-8 length; the caller reports a value that did not fit (*len >= size).
static bool arg_string(napi_env env, napi_value v, const char* name, char* buf, size_t size, size_t* len) {
  if (napi_get_value_string_utf8(env, v, NULL, 0, len) != napi_ok) return throw_type(env, name, "a string"), false;
  if (*len >= size) return true;
  napi_get_value_string_utf8(env, v, buf, size, len);
  if (strlen(buf) != *len) return throw_type(env, name, "a string without NUL bytes"), false;
  return true;
}

static bool arg_function(napi_env env, napi_value v, const char* name, napi_ref* out) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_function) return throw_type(env, name, "a function"), false;
  return napi_create_reference(env, v, 1, out) == napi_ok;
}

// ---- what Acceptor and Channel share: a JS object, uv handles, a careful lifetime -----------
//
// The C struct is freed only when BOTH every uv handle has been through its close callback
// (libuv uses the handle memory until then) AND the JS object has been collected (napi_wrap
// finalizer), whichever comes last. While open, the struct holds a strong reference to its JS
// object, as a net.Server does: an active acceptor or channel is never collected from under us.

typedef struct object object_t;
struct object {
  napi_env env;
  napi_ref self;
  napi_async_context async; // so async hooks / AsyncLocalStorage see our callbacks properly
  napi_async_cleanup_hook_handle teardown;
  void (*close)(object_t*); // Acceptor's or Channel's close, for the teardown hook
  int open_handles;         // uv handles whose close callback has not run yet
  bool closed, finalized;
};

// NOT_CALLED: JS never saw the arguments. FAILED: the callback ran but threw, or was cut short
// (a worker thread being terminated): whatever it received may already be in use.
enum call_result { CALL_OK, CALL_FAILED, CALL_NOT_CALLED };

// Calls a JS callback from a libuv callback the way Node calls its own (MakeCallback): in the
// object's async context, with nextTicks and microtasks run when it returns. A throw becomes an
// uncaught exception, like one thrown by a 'data' listener; left pending, it would pop out of
// some unrelated later N-API call.
static enum call_result call_js(object_t* o, napi_ref fn_ref, size_t argc, const napi_value* argv) {
  napi_value recv = NULL, fn = NULL, exception;
  if (!fn_ref || napi_get_reference_value(o->env, fn_ref, &fn) != napi_ok || !fn) return CALL_NOT_CALLED;
  if (napi_get_reference_value(o->env, o->self, &recv) != napi_ok || !recv) napi_get_undefined(o->env, &recv);
  if (napi_make_callback(o->env, o->async, recv, fn, argc, argv, NULL) == napi_ok) return CALL_OK;
  bool pending = false;
  if (napi_is_exception_pending(o->env, &pending) == napi_ok && pending) {
    napi_get_and_clear_last_exception(o->env, &exception);
    napi_fatal_exception(o->env, exception); // -> process 'uncaughtException'; exits if nobody listens
  }
  return CALL_FAILED;
}

static void object_maybe_free(object_t* o) {
  if (o->finalized && o->open_handles == 0) free(o);
}

static void object_on_handle_closed(uv_handle_t* handle) {
  object_t* o = handle->data;
  if (--o->open_handles > 0) return;
  napi_remove_async_cleanup_hook(o->teardown); // no env needed: safe even during teardown
  object_maybe_free(o);
}

// The environment is going away (a worker thread ends, or Node exits cleanly) with this object
// still open. Node then keeps running the loop until our close callbacks have removed this
// hook, and only after that unloads the addon. Without the hook, a worker thread crashed: libuv
// called our close callbacks after this code had been unmapped.
static void object_on_teardown(napi_async_cleanup_hook_handle handle, void* arg) {
  object_t* o = arg;
  o->teardown = handle;
  o->close(o); // a no-op if close() already ran; its close callbacks are still pending then
}

static void object_finalize(napi_env env, void* data, void* hint) {
  (void)hint;
  object_t* o = data;
  o->close(o); // a no-op: an open object is only collected after the teardown hook closed it
  napi_delete_reference(env, o->self);
  // Destroyed here, not in close(): close() may run inside a callback that still uses it.
  napi_async_destroy(env, o->async);
  o->finalized = true;
  object_maybe_free(o);
}

// The last step of a successful constructor: from here on, the JS object owns the struct.
static void object_init(object_t* o, napi_value self, const char* name, int handles, void (*close)(object_t*)) {
  o->open_handles = handles;
  o->close = close;
  napi_async_init(o->env, self, str(o->env, name), &o->async);
  napi_add_async_cleanup_hook(o->env, object_on_teardown, o, &o->teardown);
  napi_wrap(o->env, self, o, object_finalize, NULL, &o->self);
  napi_reference_ref(o->env, o->self, NULL); // strong while open
}

static object_t* unwrap_this(napi_env env, napi_callback_info info, size_t* argc, napi_value* argv) {
  napi_value self;
  void* data = NULL;
  napi_get_cb_info(env, info, argc, argv, &self, NULL);
  napi_unwrap(env, self, &data); // throws on a foreign `this`
  return data;
}

// Constructor failure: drops what was made so far and throws (unless an argument error already did).
static napi_value constructor_failed(object_t* o, napi_ref* refs, int nrefs, int uv_err, const char* what) {
  napi_env env = o->env;
  for (int i = 0; i < nrefs; i++)
    if (refs[i]) napi_delete_reference(env, refs[i]);
  free(o);
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  return pending ? NULL : throw_sys(env, -uv_err, "uv_poll_init", what, NULL);
}

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

// tcpNoDelay(fd) -> whether TCP_NODELAY is set (a diagnostic: workers rely on inheriting it)
static napi_value tcp_no_delay(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], out;
  int32_t fd;
  int on = 0;
  socklen_t len = sizeof on;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (!arg_int(env, argv[0], "fd", 0, INT32_MAX, &fd)) return NULL;
  if (getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, &len) < 0) return throw_sys(env, errno, "getsockopt", "tcpNoDelay", NULL);
  return napi_get_boolean(env, on != 0, &out), out;
}

// localPort(fd) -> the port a socket is bound to (for port 0)
static napi_value local_port(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], out;
  int32_t fd;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (!arg_int(env, argv[0], "fd", 0, INT32_MAX, &fd)) return NULL;
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
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd;
  char what[32];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (!arg_int(env, argv[0], "fd", 0, INT32_MAX, &fd)) return NULL;
  // On Linux the fd is gone even if close() says EINTR; retrying could close a reused number.
  if (close(fd) == 0 || errno == EINTR) return NULL;
  snprintf(what, sizeof what, "close fd %d", fd);
  return throw_sys(env, errno, "close", what, NULL);
}

// ---- Acceptor: accept4 on a libuv poll ------------------------------------------------------

typedef struct {
  object_t base;
  napi_ref on_accept, on_error;
  uv_poll_t poll;
  uv_timer_t timer;    // out-of-fds backoff
  int fd;              // the listening fd: not ours, never closed here
  unsigned backoff_ms; // 0 = not in an out-of-fds episode
  bool paused;
} acceptor_t;

static void acceptor_on_poll(uv_poll_t* handle, int status, int events);

static void acceptor_start(acceptor_t* a) {
  if (!a->base.closed && !a->paused) uv_poll_start(&a->poll, UV_READABLE, acceptor_on_poll);
}

static void acceptor_on_timer(uv_timer_t* timer) {
  acceptor_start(timer->data); // level-triggered: a waiting connection wakes the poll at once
}

static void acceptor_report(acceptor_t* a, int err, const char* what) {
  char name[64], desc[128], msg[256];
  uv_err_name_r(-err, name, sizeof name);
  uv_strerror_r(-err, desc, sizeof desc);
  snprintf(msg, sizeof msg, "accept on fd %d: %s %s", a->fd, desc, what);
  napi_value argv[2] = {str(a->base.env, name), str(a->base.env, msg)};
  call_js(&a->base, a->on_error, 2, argv);
}

// Accepts until the backlog is empty, the batch is used up, or JS paused or closed us.
static void acceptor_accept_batch(acceptor_t* a) {
  for (int i = 0; i < ACCEPT_BATCH && !a->base.closed && !a->paused; i++) {
    // Flags are not inherited from the listener: the client fd gets its own NONBLOCK (libuv
    // and net.Socket expect it) and CLOEXEC (children must not inherit client connections).
    int fd = accept4(a->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      int err = errno;
      if (err == EAGAIN || err == EWOULDBLOCK) return;
      // This one connection died in the backlog, or (see accept(2)) a pending network error
      // surfaced here: the next connection may well be fine.
      if (err == EINTR || err == ECONNABORTED || err == EPROTO || err == EPERM || err == ENETDOWN || err == ENOPROTOOPT ||
          err == EHOSTDOWN || err == ENONET || err == EHOSTUNREACH || err == EOPNOTSUPP || err == ENETUNREACH)
        continue;
      uv_poll_stop(&a->poll); // the listener stays readable: polling on would spin
      if (err != EMFILE && err != ENFILE && err != ENOBUFS && err != ENOMEM) {
        acceptor_report(a, err, "(stopped; resume() retries)"); // EBADF, EINVAL...: retrying cannot help
        return;
      }
      // Out of fds or memory: clients wait in the kernel backlog meanwhile. Retry with backoff,
      // and report once per episode (a successful accept ends it), not on every retry.
      bool first = a->backoff_ms == 0;
      unsigned doubled = a->backoff_ms * 2;
      a->backoff_ms = first ? BACKOFF_MIN_MS : doubled > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : doubled;
      uv_timer_start(&a->timer, acceptor_on_timer, a->backoff_ms, 0);
      if (first) acceptor_report(a, err, "(backing off and retrying)");
      return;
    }
    a->backoff_ms = 0;
    napi_handle_scope scope; // one per connection, so a long batch does not pile up handles
    napi_open_handle_scope(a->base.env, &scope);
    napi_value arg;
    enum call_result r = CALL_NOT_CALLED;
    if (napi_create_int32(a->base.env, fd, &arg) == napi_ok) r = call_js(&a->base, a->on_accept, 1, &arg);
    napi_close_handle_scope(a->base.env, scope);
    // JS owns the fd once onAccept ran, even if it threw (it may have wrapped it already).
    // Only an fd that never reached JS is still ours to close.
    if (r == CALL_NOT_CALLED) close(fd);
    // After a throw, end the batch: later clients stay in the backlog (not accepted, so not
    // leaked), and the still-armed poll resumes next turn if the process survives.
    if (r != CALL_OK) return;
  }
}

static void acceptor_on_poll(uv_poll_t* handle, int status, int events) {
  (void)events;
  acceptor_t* a = handle->data;
  napi_handle_scope scope;
  napi_open_handle_scope(a->base.env, &scope);
  if (status < 0) { // libuv saw POLLERR on the listener and stopped the poll itself
    uv_poll_stop(&a->poll);
    acceptor_report(a, -status, "(stopped; resume() retries)");
  } else {
    acceptor_accept_batch(a);
  }
  napi_close_handle_scope(a->base.env, scope);
}

// Stops for good. Safe inside onAccept/onError: the batch loop checks `closed`.
static void acceptor_close(object_t* o) {
  acceptor_t* a = (acceptor_t*)o;
  if (o->closed) return;
  o->closed = true;
  uv_close((uv_handle_t*)&a->poll, object_on_handle_closed);
  uv_close((uv_handle_t*)&a->timer, object_on_handle_closed);
  napi_delete_reference(o->env, a->on_accept);
  napi_delete_reference(o->env, a->on_error);
  a->on_accept = a->on_error = NULL;
  napi_reference_unref(o->env, o->self, NULL); // collectable from now on
}

// new Acceptor(listenFd, onAccept(fd), onError(code, message))
static napi_value acceptor_new(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], self, target;
  int32_t fd;
  int listening = 0, rc = 0;
  socklen_t len = sizeof listening;
  uv_loop_t* loop;
  napi_get_cb_info(env, info, &argc, argv, &self, NULL);
  if (napi_get_new_target(env, info, &target) != napi_ok || !target) return throw_type(env, "Acceptor", "called with new");
  if (!arg_int(env, argv[0], "listenFd", 0, INT32_MAX, &fd)) return NULL;
  // Checked now: accept4 on a socket that is not listening would fail on every wakeup.
  if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) < 0) return throw_sys(env, errno, "getsockopt", "Acceptor", NULL);
  if (!listening) return throw_sys(env, EINVAL, "getsockopt", "Acceptor", "(not a listening socket)");
  acceptor_t* a = calloc(1, sizeof *a);
  if (!a) return throw_sys(env, ENOMEM, "calloc", "Acceptor", NULL);
  a->base.env = env;
  a->fd = fd;
  if (!arg_function(env, argv[1], "onAccept", &a->on_accept) || !arg_function(env, argv[2], "onError", &a->on_error) ||
      napi_get_uv_event_loop(env, &loop) != napi_ok || (rc = uv_poll_init(loop, &a->poll, fd)) < 0) {
    napi_ref refs[] = {a->on_accept, a->on_error};
    return constructor_failed(&a->base, refs, 2, rc ? rc : UV_EINVAL, "Acceptor");
  }
  uv_timer_init(loop, &a->timer);
  a->poll.data = a->timer.data = a;
  object_init(&a->base, self, "HandoffAcceptor", 2, acceptor_close);
  acceptor_start(a);
  return self;
}

static napi_value acceptor_pause(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  acceptor_t* a = (acceptor_t*)unwrap_this(env, info, &argc, NULL);
  if (a && !a->base.closed) {
    a->paused = true;
    uv_poll_stop(&a->poll);
    uv_timer_stop(&a->timer);
  }
  return NULL;
}

static napi_value acceptor_resume(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  acceptor_t* a = (acceptor_t*)unwrap_this(env, info, &argc, NULL);
  if (a && !a->base.closed) {
    a->paused = false;
    uv_timer_stop(&a->timer); // try now; if accept4 still fails, the backoff just goes on
    acceptor_start(a);
  }
  return NULL;
}

static napi_value acceptor_close_js(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  object_t* o = unwrap_this(env, info, &argc, NULL);
  if (o) acceptor_close(o);
  return NULL;
}

// ---- Channel: messages with at most one fd each, over SOCK_SEQPACKET ------------------------

typedef struct {
  object_t base;
  napi_ref on_message, on_writable, on_close;
  uv_poll_t poll;
  int fd;          // ours; -1 once closed
  int pending_err; // ECONNRESET seen before the EOF, reported with the EOF
  bool want_writable;
} channel_t;

static void channel_on_poll(uv_poll_t* handle, int status, int events);

// Always readable; writable only while a sender waits for room. A socket with buffer space is
// writable all the time, so watching it permanently would wake the loop for nothing.
static void channel_arm(channel_t* ch) {
  uv_poll_start(&ch->poll, UV_READABLE | (ch->want_writable ? UV_WRITABLE : 0), channel_on_poll);
}

// uv_close stops the poll (epoll_ctl DEL) before we close the fd, as libuv requires: a new fd
// reusing the number must not inherit a stale registration.
static void channel_close_fd(channel_t* ch) {
  ch->base.closed = true;
  uv_close((uv_handle_t*)&ch->poll, object_on_handle_closed);
  close(ch->fd);
  ch->fd = -1;
}

static void channel_drop_js(channel_t* ch) {
  napi_delete_reference(ch->base.env, ch->on_message);
  napi_delete_reference(ch->base.env, ch->on_writable);
  napi_delete_reference(ch->base.env, ch->on_close);
  ch->on_message = ch->on_writable = ch->on_close = NULL;
  napi_reference_unref(ch->base.env, ch->base.self, NULL); // collectable from now on
}

// close(), also from inside onMessage: the read loop sees `closed` and stops.
static void channel_close(object_t* o) {
  if (o->closed) return;
  channel_close_fd((channel_t*)o);
  channel_drop_js((channel_t*)o);
}

// The peer is gone (EOF: err 0) or the socket failed. Close first, then tell JS, so that
// channel.fd is already -1 and a close() from onClose is a harmless no-op.
static void channel_lost(channel_t* ch, int err) {
  napi_value arg;
  char name[64];
  channel_close_fd(ch);
  if (err) {
    uv_err_name_r(-err, name, sizeof name);
    arg = str(ch->base.env, name);
  } else {
    napi_get_null(ch->base.env, &arg);
  }
  call_js(&ch->base, ch->on_close, 1, &arg);
  channel_drop_js(ch);
}

// Returns the first fd the message carried (or -1) and closes any others: the protocol sends at
// most one, and an fd nobody owns would leak. Not hypothetical: CMSG_SPACE rounds up to 8-byte
// alignment, so a control buffer sized for one int has room for two.
static int take_fd(struct msghdr* msg) {
  int fd = -1, got;
  for (struct cmsghdr* c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) {
      memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof got); // CMSG_DATA need not be int-aligned
      if (fd < 0) fd = got;
      else close(got);
    }
  }
  return fd;
}

static void channel_read(channel_t* ch) {
  for (int i = 0; i < READ_BATCH && !ch->base.closed; i++) {
    char data[MAX_MESSAGE];
    union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } control; // room for ONE fd
    struct iovec iov = {.iov_base = data, .iov_len = sizeof data};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof control.buf};
    // MSG_CMSG_CLOEXEC: a received fd is close-on-exec from birth, so a child spawned meanwhile
    // cannot inherit a client connection. MSG_DONTWAIT: never block the loop.
    ssize_t n = recvmsg(ch->fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n < 0) {
      int err = errno;
      if (err == EINTR) continue;
      if (err == EAGAIN || err == EWOULDBLOCK) return;
      // A peer that closes with our messages unread leaves us ECONNRESET *ahead of* the messages
      // it had sent us. Those may carry client fds, so keep reading and report at the EOF.
      if (err == ECONNRESET && !ch->pending_err) {
        ch->pending_err = err;
        continue;
      }
      channel_lost(ch, err);
      return;
    }
    int fd = take_fd(&msg);
    if (n == 0) { // EOF (never a message: send() refuses empty ones)
      if (fd >= 0) close(fd);
      channel_lost(ch, ch->pending_err);
      return;
    }
    // MSG_CTRUNC: the kernel could not install the fd (EMFILE here) and dropped it.
    bool truncated = (msg.msg_flags & MSG_CTRUNC) != 0;
    napi_handle_scope scope;
    napi_open_handle_scope(ch->base.env, &scope);
    napi_value argv[3];
    enum call_result r = CALL_NOT_CALLED;
    if (napi_create_buffer_copy(ch->base.env, (size_t)n, data, NULL, &argv[0]) == napi_ok &&
        napi_create_int32(ch->base.env, fd, &argv[1]) == napi_ok && napi_get_boolean(ch->base.env, truncated, &argv[2]) == napi_ok)
      r = call_js(&ch->base, ch->on_message, 3, argv);
    napi_close_handle_scope(ch->base.env, scope);
    if (r == CALL_NOT_CALLED && fd >= 0) close(fd); // never reached JS: still ours (as in the Acceptor)
    if (r != CALL_OK) return;                   // after a throw, the rest waits for the next turn
  }
}

static void channel_on_poll(uv_poll_t* handle, int status, int events) {
  channel_t* ch = handle->data;
  napi_handle_scope scope;
  napi_open_handle_scope(ch->base.env, &scope);
  if (status < 0) {
    // libuv saw POLLERR, stopped the poll and reports UV_EBADF whatever the socket error was.
    // The peer is gone; read what it had sent (fds included), then close.
    channel_read(ch);
    if (!ch->base.closed) channel_lost(ch, ch->pending_err ? ch->pending_err : -status);
  } else {
    // Read first: when the peer is gone, onClose comes before an onWritable whose send would
    // only fail with EPIPE.
    if (events & UV_READABLE) channel_read(ch);
    if (!ch->base.closed && (events & UV_WRITABLE) && ch->want_writable) {
      ch->want_writable = false; // one onWritable per EAGAIN; disarmed before JS may send again
      channel_arm(ch);
      call_js(&ch->base, ch->on_writable, 0, NULL);
    }
  }
  napi_close_handle_scope(ch->base.env, scope);
}

// new Channel(fd, onMessage(header, fd, truncated), onWritable(), onClose(code | null))
// Owns fd once it returns; if it throws, the caller still owns fd.
static napi_value channel_new(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4], self, target;
  int32_t fd;
  int type = 0, rc = 0;
  socklen_t len = sizeof type;
  uv_loop_t* loop;
  napi_get_cb_info(env, info, &argc, argv, &self, NULL);
  if (napi_get_new_target(env, info, &target) != napi_ok || !target) return throw_type(env, "Channel", "called with new");
  if (!arg_int(env, argv[0], "fd", 0, INT32_MAX, &fd)) return NULL;
  // Everything here relies on message boundaries; a stream socket would glue messages together.
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0) return throw_sys(env, errno, "getsockopt", "Channel", NULL);
  if (type != SOCK_SEQPACKET) return throw_sys(env, EINVAL, "getsockopt", "Channel", "(not a SOCK_SEQPACKET socket)");
  channel_t* ch = calloc(1, sizeof *ch);
  if (!ch) return throw_sys(env, ENOMEM, "calloc", "Channel", NULL);
  ch->base.env = env;
  ch->fd = fd;
  if (!arg_function(env, argv[1], "onMessage", &ch->on_message) || !arg_function(env, argv[2], "onWritable", &ch->on_writable) ||
      !arg_function(env, argv[3], "onClose", &ch->on_close) || napi_get_uv_event_loop(env, &loop) != napi_ok ||
      (rc = uv_poll_init(loop, &ch->poll, fd)) < 0) { // UV_EEXIST: another handle already polls this fd
    napi_ref refs[] = {ch->on_message, ch->on_writable, ch->on_close};
    return constructor_failed(&ch->base, refs, 3, rc ? rc : UV_EINVAL, "Channel");
  }
  ch->poll.data = ch;
  object_init(&ch->base, self, "HandoffChannel", 1, channel_close);
  channel_arm(ch);
  return self;
}

// send(header, fd) -> 0 | 'EAGAIN'
static napi_value channel_send(napi_env env, napi_callback_info info) {
  size_t argc = 2, len;
  napi_value argv[2], out;
  void* data;
  bool is_buffer = false;
  int32_t pass_fd;
  char what[48];
  channel_t* ch = (channel_t*)unwrap_this(env, info, &argc, argv);
  if (!ch) return NULL;
  if (napi_is_buffer(env, argv[0], &is_buffer) != napi_ok || !is_buffer) return throw_type(env, "header", "a Buffer");
  napi_get_buffer_info(env, argv[0], &data, &len);
  // Empty would read as EOF at the other end; longer than MAX_MESSAGE would arrive cut.
  if (len == 0 || len > MAX_MESSAGE) return throw_type(env, "header", "1 to 64 bytes long");
  if (!arg_int(env, argv[1], "fd", -1, INT32_MAX, &pass_fd)) return NULL;
  snprintf(what, sizeof what, pass_fd >= 0 ? "send with fd %d" : "send", pass_fd);
  if (ch->base.closed) return throw_sys(env, EBADF, "sendmsg", what, "(the channel is closed)");

  union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } control;
  struct iovec iov = {.iov_base = data, .iov_len = len};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
  if (pass_fd >= 0) { // the kernel puts its own reference in the message; our fd stays the caller's
    memset(&control, 0, sizeof control);
    msg.msg_control = control.buf;
    msg.msg_controllen = sizeof control.buf;
    struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &pass_fd, sizeof pass_fd);
  }
  // MSG_DONTWAIT: never block the loop. MSG_NOSIGNAL: a dead peer is an EPIPE error, not a
  // SIGPIPE that kills a process which does not happen to ignore it.
  ssize_t n;
  while ((n = sendmsg(ch->fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL)) < 0 && errno == EINTR) {}
  if (n >= 0) return napi_create_int32(env, 0, &out), out; // SEQPACKET: all sent, or nothing
  if (errno != EAGAIN && errno != EWOULDBLOCK) return throw_sys(env, errno, "sendmsg", what, NULL);
  // Nothing was sent, fd included: the caller keeps the message and retries on onWritable.
  if (!ch->want_writable) {
    ch->want_writable = true;
    channel_arm(ch);
  }
  return str(env, "EAGAIN");
}

static napi_value channel_close_js(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  object_t* o = unwrap_this(env, info, &argc, NULL);
  if (o) channel_close(o);
  return NULL;
}

static napi_value channel_get_fd(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  napi_value out;
  channel_t* ch = (channel_t*)unwrap_this(env, info, &argc, NULL);
  return ch ? (napi_create_int32(env, ch->fd, &out), out) : NULL;
}

// ---- module ---------------------------------------------------------------------------------

#define FUNCTION(name, fn) {name, NULL, fn, NULL, NULL, NULL, napi_default_jsproperty, NULL}
#define METHOD(name, fn) {name, NULL, fn, NULL, NULL, NULL, napi_default_method, NULL}

NAPI_MODULE_INIT() {
  napi_property_descriptor functions[] = {
      FUNCTION("tcpListen", tcp_listen),
      FUNCTION("localPort", local_port),
      FUNCTION("tcpNoDelay", tcp_no_delay),
      FUNCTION("lockFile", lock_file),
      FUNCTION("seqpacketListen", seqpacket_listen),
      FUNCTION("seqpacketConnect", seqpacket_connect),
      FUNCTION("closeFd", close_fd),
  };
  napi_property_descriptor acceptor_methods[] = {
      METHOD("pause", acceptor_pause), METHOD("resume", acceptor_resume), METHOD("close", acceptor_close_js)};
  napi_property_descriptor channel_methods[] = {
      METHOD("send", channel_send),
      METHOD("close", channel_close_js),
      {"fd", NULL, NULL, channel_get_fd, NULL, NULL, napi_enumerable | napi_configurable, NULL},
  };
  napi_value acceptor_class, channel_class;
  if (napi_define_properties(env, exports, sizeof functions / sizeof functions[0], functions) != napi_ok ||
      napi_define_class(env, "Acceptor", NAPI_AUTO_LENGTH, acceptor_new, NULL, sizeof acceptor_methods / sizeof acceptor_methods[0], acceptor_methods, &acceptor_class) != napi_ok ||
      napi_define_class(env, "Channel", NAPI_AUTO_LENGTH, channel_new, NULL, sizeof channel_methods / sizeof channel_methods[0], channel_methods, &channel_class) != napi_ok ||
      napi_set_named_property(env, exports, "Acceptor", acceptor_class) != napi_ok ||
      napi_set_named_property(env, exports, "Channel", channel_class) != napi_ok)
    return NULL;
  return exports;
}
