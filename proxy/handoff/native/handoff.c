// handoff.c: the native half of Handoff. Everything that touches raw fds lives here:
// listening sockets, accept4 on a libuv poll, and SOCK_SEQPACKET channels that carry one
// fd per message (SCM_RIGHTS). The typed contract is proxy/handoff/native.ts; read it first.
//
// Two rules shape the whole file:
//  1. Every fd has exactly one owner (see native.ts). Whenever we cannot hand an fd on, we
//     close it; once JS has it, we never touch it again (closing it twice could close some
//     unrelated fd that reused the number).
//  2. A struct lives until BOTH its uv handles have finished closing (uv_close callbacks) AND
//     its JS object has been garbage collected (napi_wrap finalizer). Either can happen first.

#define _GNU_SOURCE // accept4, MSG_CMSG_CLOEXEC
#define NAPI_VERSION 8
#include <node_api.h>
#include <uv.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define ACCEPT_BATCH 64    // accepts per wakeup: a connection flood must not starve the rest of the loop
#define READ_BATCH 128     // messages per wakeup, for the same reason (the poll is level-triggered, so we come back)
#define MAX_MESSAGE 64     // protocol messages are 16 bytes; a bigger one arrives cut to this (decode rejects it)
#define BACKOFF_MIN_MS 50  // EMFILE backoff: soon enough to recover fast, ...
#define BACKOFF_MAX_MS 1000 // ... rare enough not to burn CPU while the process is out of fds

// ---- errors and arguments -------------------------------------------------------------------

// Throws a Node-style system error: .code is the errno name ('EADDRINUSE'), .errno Node's
// negative number, .syscall the call that failed, and the message "<what>: <description>".
static napi_value throw_sys(napi_env env, int err, const char* syscall, const char* what, const char* detail) {
  char name[64], desc[128], msg[640];
  uv_err_name_r(-err, name, sizeof name); // libuv's codes are -errno on Unix; _r variants never allocate
  uv_strerror_r(-err, desc, sizeof desc);
  snprintf(msg, sizeof msg, "%s: %s%s%s", what, desc, detail ? " " : "", detail ? detail : "");
  napi_value code_v, msg_v, error, errno_v, syscall_v;
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code_v);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &msg_v);
  napi_create_error(env, code_v, msg_v, &error);
  napi_create_int32(env, -err, &errno_v);
  napi_set_named_property(env, error, "errno", errno_v);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &syscall_v);
  napi_set_named_property(env, error, "syscall", syscall_v);
  napi_throw(env, error);
  return NULL;
}

static napi_value throw_type(napi_env env, const char* name, const char* expected) {
  char msg[128];
  snprintf(msg, sizeof msg, "%s must be %s", name, expected);
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
  return NULL;
}

static napi_value make_string(napi_env env, const char* s) {
  napi_value v;
  napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &v);
  return v;
}

// Argument readers: each throws a TypeError and returns false on a bad argument.
static bool arg_int(napi_env env, napi_value v, const char* name, int min, int max, int32_t* out) {
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok || d != (double)(int32_t)d || d < min || d > max) {
    char expected[64];
    snprintf(expected, sizeof expected, "an integer in [%d, %d]", min, max);
    throw_type(env, name, expected);
    return false;
  }
  *out = (int32_t)d;
  return true;
}

static bool arg_string(napi_env env, napi_value v, const char* name, char* buf, size_t size, size_t* len) {
  if (napi_get_value_string_utf8(env, v, NULL, 0, len) != napi_ok) return throw_type(env, name, "a string"), false;
  if (*len >= size) return true; // caller decides how to report a too-long value (ENAMETOOLONG for paths)
  napi_get_value_string_utf8(env, v, buf, size, len);
  if (strlen(buf) != *len) return throw_type(env, name, "a string without NUL bytes"), false;
  return true;
}

static bool arg_function(napi_env env, napi_value v, const char* name, napi_ref* out) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_function) return throw_type(env, name, "a function"), false;
  return napi_create_reference(env, v, 1, out) == napi_ok;
}

// ---- calling into JS ------------------------------------------------------------------------

enum call_result { CALL_OK, CALL_THREW, CALL_FAILED };

// Calls a JS callback from a libuv callback the way Node calls its own (MakeCallback): async hooks
// and AsyncLocalStorage see the object's context, and nextTicks/microtasks queued by the callback
// run when it returns. A throw becomes an uncaught exception, like one thrown by a 'data' listener:
// leaving it pending would make it pop out of some unrelated later N-API call.
static enum call_result call_js(napi_env env, napi_ref self, napi_async_context async, napi_ref fn_ref,
                                size_t argc, const napi_value* argv) {
  napi_value recv = NULL, fn = NULL;
  if (fn_ref == NULL || napi_get_reference_value(env, fn_ref, &fn) != napi_ok || fn == NULL) return CALL_FAILED;
  if (napi_get_reference_value(env, self, &recv) != napi_ok || recv == NULL) napi_get_undefined(env, &recv);
  if (napi_make_callback(env, async, recv, fn, argc, argv, NULL) == napi_ok) return CALL_OK;
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending) return CALL_FAILED; // e.g. the environment is shutting down: the callback never ran
  napi_value exception;
  napi_get_and_clear_last_exception(env, &exception);
  napi_fatal_exception(env, exception); // -> process 'uncaughtException'; exits if nobody listens
  return CALL_THREW;
}

// ---- listening sockets ----------------------------------------------------------------------

// One getaddrinfo result -> a listening socket, or -errno with *syscall set to the failed step.
static int open_tcp_listener(const struct addrinfo* ai, bool reuse_port, int backlog, const char** syscall) {
  // NONBLOCK: accept4 on a poll must never block the event loop. CLOEXEC: workers and other
  // children spawned later must not inherit the listening socket (they would keep the port busy).
  int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
  if (fd < 0) return *syscall = "socket", -errno;
  int one = 1;
  // SO_REUSEADDR: a restarted master can bind while old connections sit in TIME_WAIT.
  // SO_REUSEPORT (opt-in): several processes bind the same port and the kernel spreads connections.
  // IPv6 sockets keep the system's dual-stack default (IPV6_V6ONLY off on Linux), as Node does.
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0) *syscall = "setsockopt";
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
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char host[256], what[320], service[8];
  size_t len;
  int32_t port, backlog;
  bool reuse_port;
  if (!arg_string(env, argv[0], "host", host, sizeof host, &len)) return NULL;
  if (len >= sizeof host) return throw_type(env, "host", "at most 255 bytes");
  if (!arg_int(env, argv[1], "port", 0, 65535, &port) || !arg_int(env, argv[2], "backlog", 0, INT32_MAX, &backlog))
    return NULL;
  if (napi_get_value_bool(env, argv[3], &reuse_port) != napi_ok) return throw_type(env, "reusePort", "a boolean");
  bool v6 = strchr(host, ':') != NULL;
  snprintf(what, sizeof what, "listen %s%s%s:%d", v6 ? "[" : "", host, v6 ? "]" : "", port);
  snprintf(service, sizeof service, "%d", port);

  // AI_PASSIVE: an empty host means the wildcard address. Names are allowed and resolved
  // synchronously: this runs once at startup, before there is anything to block.
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
  // Take the first address that works (a name may resolve to both an IPv4 and an IPv6 address).
  int fd = -EADDRNOTAVAIL;
  const char* syscall = "bind";
  for (struct addrinfo* ai = res; ai && fd < 0; ai = ai->ai_next) fd = open_tcp_listener(ai, reuse_port, backlog, &syscall);
  freeaddrinfo(res);
  if (fd < 0) return throw_sys(env, -fd, syscall, what, NULL);
  napi_value out;
  napi_create_int32(env, fd, &out);
  return out;
}

// localPort(fd) -> port (for listeners bound to port 0)
static napi_value local_port(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], out;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd;
  if (!arg_int(env, argv[0], "fd", 0, INT32_MAX, &fd)) return NULL;
  struct sockaddr_storage ss;
  socklen_t sslen = sizeof ss;
  if (getsockname(fd, (struct sockaddr*)&ss, &sslen) < 0) return throw_sys(env, errno, "getsockname", "localPort", NULL);
  int port;
  if (ss.ss_family == AF_INET) port = ntohs(((struct sockaddr_in*)&ss)->sin_port);
  else if (ss.ss_family == AF_INET6) port = ntohs(((struct sockaddr_in6*)&ss)->sin6_port);
  else return throw_sys(env, EAFNOSUPPORT, "getsockname", "localPort", "(not an IP socket)");
  napi_create_int32(env, port, &out);
  return out;
}

// Reads a socket path argument into addr. sun_path is 108 bytes and silently truncating a path
// would bind or connect somewhere else, so a long path is ENAMETOOLONG.
static bool unix_address(napi_env env, napi_value v, const char* verb, struct sockaddr_un* addr, char* what, size_t what_size) {
  memset(addr, 0, sizeof *addr);
  addr->sun_family = AF_UNIX;
  size_t len;
  if (!arg_string(env, v, "path", addr->sun_path, sizeof addr->sun_path, &len)) return false;
  if (len == 0) return throw_type(env, "path", "a non-empty path"), false;
  if (len >= sizeof addr->sun_path) {
    char detail[128];
    snprintf(what, what_size, "%s (%zu-byte path)", verb, len);
    snprintf(detail, sizeof detail, "(a Unix socket path holds at most %zu bytes; use a shorter directory)",
             sizeof addr->sun_path - 1);
    throw_sys(env, ENAMETOOLONG, verb, what, detail);
    return false;
  }
  snprintf(what, what_size, "%s %s", verb, addr->sun_path);
  return true;
}

// bind() found something at the path. Returns 0 when it was a stale socket (a master that died
// without unlinking) and is now gone, so bind may be retried; otherwise an errno to throw.
// A live socket is never removed: that would silently steal another master's workers.
static int clear_stale_socket(const struct sockaddr_un* addr, const char** detail) {
  struct stat st;
  if (lstat(addr->sun_path, &st) < 0) return errno == ENOENT ? 0 : errno; // vanished meanwhile: retry
  if (!S_ISSOCK(st.st_mode)) return *detail = "(the path exists and is not a socket)", EADDRINUSE;
  // Non-blocking probe: a live master with a full backlog answers EAGAIN instead of blocking us.
  int probe = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (probe < 0) return errno;
  int err = connect(probe, (const struct sockaddr*)addr, sizeof *addr) == 0 ? 0 : errno;
  close(probe);
  if (err == ECONNREFUSED) return unlink(addr->sun_path) == 0 || errno == ENOENT ? 0 : errno;
  if (err == ENOENT) return 0;
  // Connected, EAGAIN (backlog full) or EPROTOTYPE (someone's stream socket): it is alive.
  if (err == 0 || err == EAGAIN || err == EPROTOTYPE) return *detail = "(a live process is listening there)", EADDRINUSE;
  return err;
}

// seqpacketListen(path, backlog) -> fd
static napi_value seqpacket_listen(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], out;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  struct sockaddr_un addr;
  char what[160];
  int32_t backlog;
  if (!unix_address(env, argv[0], "listen", &addr, what, sizeof what)) return NULL;
  if (!arg_int(env, argv[1], "backlog", 0, INT32_MAX, &backlog)) return NULL;
  // SEQPACKET: reliable and ordered like a stream, but keeps message boundaries, so one recvmsg
  // is one 16-byte message and its fd, never half of one or two glued together.
  int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_sys(env, errno, "socket", what, NULL);
  const char* detail = NULL;
  int rc = bind(fd, (struct sockaddr*)&addr, sizeof addr), err = errno;
  if (rc < 0 && err == EADDRINUSE && (err = clear_stale_socket(&addr, &detail)) == 0) {
    rc = bind(fd, (struct sockaddr*)&addr, sizeof addr); // one retry: a second EADDRINUSE means a race we lost
    err = errno;
  }
  if (rc < 0) return close(fd), throw_sys(env, err, "bind", what, detail);
  // chmod the path (fchmod on a socket fd does not touch the file), and before listen():
  // until listen, every connect is refused, so nobody can slip in under the umask's mode.
  // Only our own user may hand us workers or receive client connections.
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
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  struct sockaddr_un addr;
  char what[160];
  if (!unix_address(env, argv[0], "connect", &addr, what, sizeof what)) return NULL;
  // A blocking connect keeps this synchronous. On a local socket it returns at once, unless the
  // master's backlog is full, and then only until the master accepts (it does so on every wakeup).
  int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_sys(env, errno, "socket", what, NULL);
  int rc;
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
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd;
  if (!arg_int(env, argv[0], "fd", 0, INT32_MAX, &fd)) return NULL;
  // On Linux the fd is gone even when close() says EINTR; retrying could close a reused number.
  if (close(fd) < 0 && errno != EINTR) {
    char what[48];
    snprintf(what, sizeof what, "close fd %d", fd);
    return throw_sys(env, errno, "close", what, NULL);
  }
  return NULL;
}

// ---- Acceptor: accept4 on a libuv poll ------------------------------------------------------

typedef struct {
  napi_env env;
  napi_ref self;          // strong while open, like a net.Server: an active acceptor is not collected
  napi_ref on_accept, on_error;
  napi_async_context async;
  uv_poll_t poll;
  uv_timer_t timer;       // EMFILE backoff
  int fd;                 // the listening fd: not ours, never closed here
  int open_handles;       // uv handles whose close callback has not run yet
  unsigned backoff_ms;    // 0 = not in an out-of-fds episode
  bool paused, closed, finalized;
} acceptor_t;

static void acceptor_maybe_free(acceptor_t* a) {
  if (a->finalized && a->open_handles == 0) free(a);
}

// Close callbacks touch only C memory: at exit they may run after the N-API env is gone.
static void acceptor_on_handle_closed(uv_handle_t* handle) {
  acceptor_t* a = handle->data;
  a->open_handles--;
  acceptor_maybe_free(a);
}

static void acceptor_on_poll(uv_poll_t* handle, int status, int events);

static void acceptor_start(acceptor_t* a) {
  if (!a->closed && !a->paused) uv_poll_start(&a->poll, UV_READABLE, acceptor_on_poll);
}

static void acceptor_on_timer(uv_timer_t* timer) {
  acceptor_start(timer->data); // level-triggered: a waiting connection wakes the poll at once
}

static void acceptor_report(acceptor_t* a, int err, const char* what) {
  char name[64], desc[128], msg[256];
  uv_err_name_r(-err, name, sizeof name);
  uv_strerror_r(-err, desc, sizeof desc);
  snprintf(msg, sizeof msg, "accept on fd %d: %s%s", a->fd, desc, what);
  napi_value argv[2] = {make_string(a->env, name), make_string(a->env, msg)};
  call_js(a->env, a->self, a->async, a->on_error, 2, argv);
}

// Accepts until the backlog is empty, the batch is used up, or JS paused/closed us.
static void acceptor_accept_batch(acceptor_t* a) {
  for (int i = 0; i < ACCEPT_BATCH && !a->closed && !a->paused; i++) {
    // The accepted socket gets its own NONBLOCK|CLOEXEC flags (they are not inherited from the
    // listener): net.Socket and libuv expect non-blocking fds, and children must not inherit clients.
    int fd = accept4(a->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      int err = errno;
      if (err == EAGAIN || err == EWOULDBLOCK) return;
      // That one connection died in the backlog (or, per accept(2), a pending network error
      // surfaced here): the next one may be fine.
      if (err == EINTR || err == ECONNABORTED || err == EPROTO || err == EPERM || err == ENETDOWN ||
          err == ENOPROTOOPT || err == EHOSTDOWN || err == ENONET || err == EHOSTUNREACH ||
          err == EOPNOTSUPP || err == ENETUNREACH)
        continue;
      uv_poll_stop(&a->poll); // otherwise the still-readable listener would wake us in a busy loop
      if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
        // Out of fds or memory. Connections wait in the kernel backlog; retry with backoff and
        // report once per episode (a success ends the episode), not on every retry.
        bool first = a->backoff_ms == 0;
        a->backoff_ms = first ? BACKOFF_MIN_MS : (a->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : a->backoff_ms * 2);
        uv_timer_start(&a->timer, acceptor_on_timer, a->backoff_ms, 0);
        if (first) acceptor_report(a, err, " (backing off and retrying)");
      } else {
        acceptor_report(a, err, " (stopped; resume() retries)"); // EBADF, EINVAL...: retrying cannot help
      }
      return;
    }
    a->backoff_ms = 0;
    napi_handle_scope scope; // one scope per connection: a long batch must not pile up handles
    napi_open_handle_scope(a->env, &scope);
    napi_value arg;
    enum call_result r = napi_create_int32(a->env, fd, &arg) == napi_ok
                             ? call_js(a->env, a->self, a->async, a->on_accept, 1, &arg)
                             : CALL_FAILED;
    napi_close_handle_scope(a->env, scope);
    // JS owns the fd once onAccept ran, even if it threw (it may already have wrapped the fd).
    // Only an fd that never reached JS is ours to close.
    if (r == CALL_FAILED) close(fd);
    // After a throw, end the batch: the rest stay in the backlog (not accepted, so not leaked)
    // and the still-armed poll brings us back next loop turn, if the process lives on.
    if (r != CALL_OK) return;
  }
}

static void acceptor_on_poll(uv_poll_t* handle, int status, int events) {
  (void)events;
  acceptor_t* a = handle->data;
  napi_handle_scope scope;
  if (napi_open_handle_scope(a->env, &scope) != napi_ok) return;
  if (status < 0) { // libuv saw POLLERR and already stopped the poll
    uv_poll_stop(&a->poll);
    acceptor_report(a, -status, " (stopped; resume() retries)");
  } else {
    acceptor_accept_batch(a);
  }
  napi_close_handle_scope(a->env, scope);
}

// Stops for good: handles are freed by their close callbacks, callbacks are released, and the
// JS object becomes collectable. Safe to call from inside onAccept/onError (the batch checks closed).
static void acceptor_close(acceptor_t* a) {
  if (a->closed) return;
  a->closed = true;
  uv_close((uv_handle_t*)&a->poll, acceptor_on_handle_closed);
  uv_close((uv_handle_t*)&a->timer, acceptor_on_handle_closed);
  napi_delete_reference(a->env, a->on_accept);
  napi_delete_reference(a->env, a->on_error);
  a->on_accept = a->on_error = NULL;
  napi_reference_unref(a->env, a->self, NULL);
}

static void acceptor_finalize(napi_env env, void* data, void* hint) {
  (void)hint;
  acceptor_t* a = data;
  acceptor_close(a); // still open only at environment teardown
  napi_delete_reference(env, a->self);
  // Destroyed here, not in close(): close() may run inside a callback that still uses the context.
  napi_async_destroy(env, a->async);
  a->finalized = true;
  acceptor_maybe_free(a);
}

static void* unwrap_this(napi_env env, napi_callback_info info, size_t* argc, napi_value* argv) {
  napi_value self;
  void* data = NULL;
  if (napi_get_cb_info(env, info, argc, argv, &self, NULL) != napi_ok) return NULL;
  if (napi_unwrap(env, self, &data) != napi_ok) return NULL; // throws on a foreign `this`
  return data;
}

// new Acceptor(listenFd, onAccept(fd), onError(code, message))
static napi_value acceptor_new(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], self, target;
  napi_get_cb_info(env, info, &argc, argv, &self, NULL);
  if (napi_get_new_target(env, info, &target) != napi_ok || target == NULL) return throw_type(env, "Acceptor", "called with new");
  int32_t fd;
  if (!arg_int(env, argv[0], "listenFd", 0, INT32_MAX, &fd)) return NULL;
  // Check up front: a non-listening socket would fail accept4 on every wakeup.
  int listening = 0;
  socklen_t len = sizeof listening;
  if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) < 0) return throw_sys(env, errno, "getsockopt", "Acceptor", NULL);
  if (!listening) return throw_sys(env, EINVAL, "getsockopt", "Acceptor", "(not a listening socket)");
  acceptor_t* a = calloc(1, sizeof *a);
  if (!a) return throw_sys(env, ENOMEM, "calloc", "Acceptor", NULL);
  a->env = env;
  a->fd = fd;
  uv_loop_t* loop;
  int rc = -EINVAL;
  if (!arg_function(env, argv[1], "onAccept", &a->on_accept) || !arg_function(env, argv[2], "onError", &a->on_error) ||
      napi_get_uv_event_loop(env, &loop) != napi_ok || (rc = uv_poll_init(loop, &a->poll, fd)) < 0) {
    if (a->on_accept) napi_delete_reference(env, a->on_accept);
    if (a->on_error) napi_delete_reference(env, a->on_error);
    free(a);
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    return pending ? NULL : throw_sys(env, -rc, "uv_poll_init", "Acceptor", NULL);
  }
  uv_timer_init(loop, &a->timer);
  a->poll.data = a->timer.data = a;
  a->open_handles = 2;
  napi_async_init(env, self, make_string(env, "HandoffAcceptor"), &a->async);
  napi_wrap(env, self, a, acceptor_finalize, NULL, &a->self);
  napi_reference_ref(env, a->self, NULL);
  acceptor_start(a);
  return self;
}

static napi_value acceptor_pause(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  acceptor_t* a = unwrap_this(env, info, &argc, NULL);
  if (a && !a->closed) {
    a->paused = true;
    uv_poll_stop(&a->poll);
    uv_timer_stop(&a->timer);
  }
  return NULL;
}

static napi_value acceptor_resume(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  acceptor_t* a = unwrap_this(env, info, &argc, NULL);
  if (a && !a->closed) {
    a->paused = false;
    uv_timer_stop(&a->timer); // retry now; a still-failing accept4 just continues the backoff
    acceptor_start(a);
  }
  return NULL;
}

static napi_value acceptor_close_js(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  acceptor_t* a = unwrap_this(env, info, &argc, NULL);
  if (a) acceptor_close(a);
  return NULL;
}

// ---- Channel: one fd-carrying message at a time over SOCK_SEQPACKET -------------------------

typedef struct {
  napi_env env;
  napi_ref self;          // strong while open: an open channel keeps delivering messages
  napi_ref on_message, on_writable, on_close;
  napi_async_context async;
  uv_poll_t poll;
  int fd;                 // -1 once closed
  int pending_err;        // ECONNRESET seen before the EOF: reported with the EOF
  bool want_writable, closed, handle_open, finalized;
} channel_t;

static void channel_maybe_free(channel_t* ch) {
  if (ch->finalized && !ch->handle_open) free(ch);
}

static void channel_on_handle_closed(uv_handle_t* handle) {
  channel_t* ch = handle->data;
  ch->handle_open = false;
  channel_maybe_free(ch);
}

static void channel_on_poll(uv_poll_t* handle, int status, int events);
static void channel_finalize(napi_env env, void* data, void* hint);

// Always readable; writable only while a sender waits: a socket with buffer space is writable
// all the time, and watching it permanently would wake the loop for nothing.
static void channel_arm(channel_t* ch) {
  uv_poll_start(&ch->poll, UV_READABLE | (ch->want_writable ? UV_WRITABLE : 0), channel_on_poll);
}

// Releases the fd. uv_close stops the poll first (epoll_ctl DEL), as libuv requires before the
// fd is closed: otherwise a new fd reusing the number could inherit a stale registration.
static void channel_close_fd(channel_t* ch) {
  ch->closed = true;
  uv_close((uv_handle_t*)&ch->poll, channel_on_handle_closed);
  close(ch->fd);
  ch->fd = -1;
}

static void channel_drop_js(channel_t* ch) {
  napi_delete_reference(ch->env, ch->on_message);
  napi_delete_reference(ch->env, ch->on_writable);
  napi_delete_reference(ch->env, ch->on_close);
  ch->on_message = ch->on_writable = ch->on_close = NULL;
  napi_reference_unref(ch->env, ch->self, NULL);
}

// The peer is gone (EOF: err 0) or the socket failed: close first, then tell JS, which may
// look at channel.fd (-1) or call close() (a no-op by then).
static void channel_lost(channel_t* ch, int err) {
  channel_close_fd(ch);
  napi_value arg;
  char name[64];
  if (err) {
    uv_err_name_r(-err, name, sizeof name);
    arg = make_string(ch->env, name);
  } else {
    napi_get_null(ch->env, &arg);
  }
  call_js(ch->env, ch->self, ch->async, ch->on_close, 1, &arg);
  channel_drop_js(ch);
}

// Returns the first fd the message carried (or -1) and closes any others: the protocol passes
// at most one, and an fd nobody owns would leak. This is not hypothetical: CMSG_SPACE rounds up
// to 8-byte alignment, so a control buffer sized for one int has room for two.
static int take_fd(struct msghdr* msg) {
  int fd = -1;
  for (struct cmsghdr* c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; i++) {
      int got;
      memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof got); // CMSG_DATA may be unaligned for int
      if (fd < 0) fd = got;
      else close(got);
    }
  }
  return fd;
}

static void channel_read(channel_t* ch) {
  for (int i = 0; i < READ_BATCH && !ch->closed; i++) {
    char data[MAX_MESSAGE];
    union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } control; // room for ONE fd
    struct iovec iov = {.iov_base = data, .iov_len = sizeof data};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof control.buf};
    // MSG_CMSG_CLOEXEC: received fds are close-on-exec from birth, so a child spawned in
    // between cannot inherit a client connection. MSG_DONTWAIT: never block the loop.
    ssize_t n = recvmsg(ch->fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n < 0) {
      int err = errno;
      if (err == EINTR) continue;
      if (err == EAGAIN || err == EWOULDBLOCK) return;
      // A peer that closes with unread messages leaves us ECONNRESET *before* the messages it
      // had already sent; those may carry client fds, so keep reading them and report at EOF.
      if (err == ECONNRESET && !ch->pending_err) {
        ch->pending_err = err;
        continue;
      }
      channel_lost(ch, err);
      return;
    }
    int fd = take_fd(&msg);
    // 0 bytes is EOF (send() refuses empty messages, so a real message is never 0 bytes).
    if (n == 0) {
      if (fd >= 0) close(fd);
      channel_lost(ch, ch->pending_err);
      return;
    }
    // MSG_CTRUNC: the kernel could not install the fd (EMFILE here) and dropped it.
    bool truncated = (msg.msg_flags & MSG_CTRUNC) != 0;
    napi_handle_scope scope;
    napi_open_handle_scope(ch->env, &scope);
    napi_value argv[3];
    enum call_result r = CALL_FAILED;
    if (napi_create_buffer_copy(ch->env, (size_t)n, data, NULL, &argv[0]) == napi_ok &&
        napi_create_int32(ch->env, fd, &argv[1]) == napi_ok && napi_get_boolean(ch->env, truncated, &argv[2]) == napi_ok)
      r = call_js(ch->env, ch->self, ch->async, ch->on_message, 3, argv);
    napi_close_handle_scope(ch->env, scope);
    if (r == CALL_FAILED && fd >= 0) close(fd); // never reached JS, so still ours (same rule as onAccept)
    if (r != CALL_OK) return;
  }
}

static void channel_on_poll(uv_poll_t* handle, int status, int events) {
  channel_t* ch = handle->data;
  napi_handle_scope scope;
  if (napi_open_handle_scope(ch->env, &scope) != napi_ok) return;
  if (status < 0) {
    // libuv saw POLLERR, stopped the poll and says UV_EBADF whatever the socket error was.
    // The peer is gone; first read what it sent (fds included), then close.
    channel_read(ch);
    if (!ch->closed) channel_lost(ch, ch->pending_err ? ch->pending_err : -status);
  } else {
    // Read first: if the peer is gone, onClose fires before onWritable could invite a send
    // that would only fail with EPIPE.
    if (events & UV_READABLE) channel_read(ch);
    if (!ch->closed && (events & UV_WRITABLE) && ch->want_writable) {
      ch->want_writable = false; // one onWritable per EAGAIN; disarm before JS can send again
      channel_arm(ch);
      call_js(ch->env, ch->self, ch->async, ch->on_writable, 0, NULL);
    }
  }
  napi_close_handle_scope(ch->env, scope);
}

// new Channel(fd, onMessage(header, fd, truncated), onWritable(), onClose(code|null)).
// Takes ownership of fd only when it returns; if it throws, the caller still owns fd.
static napi_value channel_new(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4], self, target;
  napi_get_cb_info(env, info, &argc, argv, &self, NULL);
  if (napi_get_new_target(env, info, &target) != napi_ok || target == NULL) return throw_type(env, "Channel", "called with new");
  int32_t fd;
  if (!arg_int(env, argv[0], "fd", 0, INT32_MAX, &fd)) return NULL;
  // Everything here assumes message boundaries; a stream socket would glue messages together.
  int type = 0;
  socklen_t len = sizeof type;
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0) return throw_sys(env, errno, "getsockopt", "Channel", NULL);
  if (type != SOCK_SEQPACKET) return throw_sys(env, EINVAL, "getsockopt", "Channel", "(not a SOCK_SEQPACKET socket)");
  channel_t* ch = calloc(1, sizeof *ch);
  if (!ch) return throw_sys(env, ENOMEM, "calloc", "Channel", NULL);
  ch->env = env;
  ch->fd = fd;
  uv_loop_t* loop;
  int rc = -EINVAL;
  if (!arg_function(env, argv[1], "onMessage", &ch->on_message) || !arg_function(env, argv[2], "onWritable", &ch->on_writable) ||
      !arg_function(env, argv[3], "onClose", &ch->on_close) || napi_get_uv_event_loop(env, &loop) != napi_ok ||
      (rc = uv_poll_init(loop, &ch->poll, fd)) < 0) { // UV_EEXIST if another handle already polls this fd
    ch->fd = -1;
    channel_drop_js(ch); // self is NULL here: napi_reference_unref just fails
    free(ch);
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    return pending ? NULL : throw_sys(env, -rc, "uv_poll_init", "Channel", NULL);
  }
  ch->poll.data = ch;
  ch->handle_open = true;
  napi_async_init(env, self, make_string(env, "HandoffChannel"), &ch->async);
  napi_wrap(env, self, ch, channel_finalize, NULL, &ch->self);
  napi_reference_ref(env, ch->self, NULL);
  channel_arm(ch);
  return self;
}

static void channel_finalize(napi_env env, void* data, void* hint) {
  (void)hint;
  channel_t* ch = data;
  if (!ch->closed) { // only at environment teardown: an open channel holds a strong self reference
    channel_close_fd(ch);
    channel_drop_js(ch);
  }
  napi_delete_reference(env, ch->self);
  napi_async_destroy(env, ch->async); // here, not in close(): see acceptor_finalize
  ch->finalized = true;
  channel_maybe_free(ch);
}

// send(header, fd) -> 0 | 'EAGAIN'
static napi_value channel_send(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], out;
  channel_t* ch = unwrap_this(env, info, &argc, argv);
  if (!ch) return NULL;
  void* data;
  size_t len;
  bool is_buffer = false;
  int32_t pass_fd;
  if (napi_is_buffer(env, argv[0], &is_buffer) != napi_ok || !is_buffer) return throw_type(env, "header", "a Buffer");
  napi_get_buffer_info(env, argv[0], &data, &len);
  // Empty would read as EOF on the other side; longer than MAX_MESSAGE would arrive cut.
  if (len == 0 || len > MAX_MESSAGE) return throw_type(env, "header", "1 to 64 bytes long");
  if (!arg_int(env, argv[1], "fd", -1, INT32_MAX, &pass_fd)) return NULL;
  char what[48];
  snprintf(what, sizeof what, pass_fd >= 0 ? "send with fd %d" : "send", pass_fd);
  if (ch->closed) return throw_sys(env, EBADF, "sendmsg", what, "(the channel is closed)");

  union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } control;
  struct iovec iov = {.iov_base = data, .iov_len = len};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
  if (pass_fd >= 0) {
    // The kernel duplicates the fd into the message; our copy stays ours (see native.ts).
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
  // SIGPIPE that would kill a process that did not ignore it.
  ssize_t n;
  while ((n = sendmsg(ch->fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL)) < 0 && errno == EINTR) {}
  if (n >= 0) return napi_create_int32(env, 0, &out), out; // SEQPACKET sends are all or nothing
  if (errno == EAGAIN || errno == EWOULDBLOCK) {
    // Nothing was sent, the fd included: the caller keeps the message and retries on onWritable.
    if (!ch->want_writable) {
      ch->want_writable = true;
      channel_arm(ch);
    }
    return make_string(env, "EAGAIN");
  }
  return throw_sys(env, errno, "sendmsg", what, NULL);
}

static napi_value channel_close_js(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  channel_t* ch = unwrap_this(env, info, &argc, NULL);
  if (ch && !ch->closed) { // after close() inside onMessage, the read loop sees closed and stops
    channel_close_fd(ch);
    channel_drop_js(ch);
  }
  return NULL;
}

static napi_value channel_get_fd(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  napi_value out;
  channel_t* ch = unwrap_this(env, info, &argc, NULL);
  if (!ch) return NULL;
  napi_create_int32(env, ch->fd, &out);
  return out;
}

// ---- module ---------------------------------------------------------------------------------

#define METHOD(name, fn) {name, NULL, fn, NULL, NULL, NULL, napi_default_method, NULL}

NAPI_MODULE_INIT() {
  napi_property_descriptor functions[] = {
      METHOD("tcpListen", tcp_listen),           METHOD("localPort", local_port),
      METHOD("seqpacketListen", seqpacket_listen), METHOD("seqpacketConnect", seqpacket_connect),
      METHOD("closeFd", close_fd),
  };
  napi_property_descriptor acceptor_methods[] = {
      METHOD("pause", acceptor_pause), METHOD("resume", acceptor_resume), METHOD("close", acceptor_close_js)};
  napi_property_descriptor channel_methods[] = {
      METHOD("send", channel_send), METHOD("close", channel_close_js),
      {"fd", NULL, NULL, channel_get_fd, NULL, NULL, napi_enumerable, NULL}};
  napi_value acceptor_class, channel_class;
  if (napi_define_properties(env, exports, sizeof functions / sizeof *functions, functions) != napi_ok ||
      napi_define_class(env, "Acceptor", NAPI_AUTO_LENGTH, acceptor_new, NULL, 3, acceptor_methods, &acceptor_class) != napi_ok ||
      napi_define_class(env, "Channel", NAPI_AUTO_LENGTH, channel_new, NULL, 3, channel_methods, &channel_class) != napi_ok ||
      napi_set_named_property(env, exports, "Acceptor", acceptor_class) != napi_ok ||
      napi_set_named_property(env, exports, "Channel", channel_class) != napi_ok)
    return NULL;
  return exports;
}
