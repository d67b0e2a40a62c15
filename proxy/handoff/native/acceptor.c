// acceptor.c: class Acceptor, accept4 on a libuv poll, with a backoff when out of fds.

#include "common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#define ACCEPT_BATCH 64     // accepts per wakeup: a flood of connections must not starve the loop
#define BACKOFF_MIN_MS 50   // out-of-fds backoff: soon enough to recover fast...
#define BACKOFF_MAX_MS 1000 // ...rare enough not to spin while the process stays out of fds

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

napi_status acceptor_define(napi_env env, napi_value exports) {
  napi_property_descriptor methods[] = {
      METHOD("pause", acceptor_pause), METHOD("resume", acceptor_resume), METHOD("close", acceptor_close_js)};
  napi_value cls;
  napi_status s =
      napi_define_class(env, "Acceptor", NAPI_AUTO_LENGTH, acceptor_new, NULL, sizeof methods / sizeof methods[0], methods, &cls);
  return s != napi_ok ? s : napi_set_named_property(env, exports, "Acceptor", cls);
}
