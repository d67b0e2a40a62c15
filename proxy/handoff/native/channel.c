// channel.c: class Channel, messages with their fds (SCM_RIGHTS) over SOCK_SEQPACKET. A channel
// takes one fd per message unless its owner asks for more (maxFds): a burst of connections can
// then go to a worker in one sendmsg instead of one each.

#include "common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define READ_BATCH 128 // messages per wakeup: a flood must not starve the loop (level-triggered: we come back)
#define MAX_MESSAGE 64 // a 16-byte header, and for REGISTER and UPSTREAM a trailer; what is longer arrives cut
#define MAX_FDS 64     // fds per message (SCM_RIGHTS allows 253); the acceptor's batch is as large

// ---- Channel: messages with their fds, over SOCK_SEQPACKET ----------------------------------

typedef struct {
  object_t base;
  napi_ref on_message, on_writable, on_close;
  uv_poll_t poll;
  int fd;          // ours; -1 once closed
  int pending_err; // ECONNRESET seen before the EOF, reported with the EOF
  int max_fds;     // fds a message may bring to JS; any beyond are closed on arrival
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

// Takes up to `max` of the fds the message carried, in order, into fds[], and closes any others:
// an fd nobody owns would leak. Not hypothetical: CMSG_SPACE rounds up to 8-byte alignment, so a
// control buffer sized for one int has room for two. Returns how many it took.
static int take_fds(struct msghdr* msg, int* fds, int max) {
  int n = 0, got;
  for (struct cmsghdr* c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) {
      memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof got); // CMSG_DATA need not be int-aligned
      if (n < max) fds[n++] = got;
      else close(got);
    }
  }
  return n;
}

// The fds after the first, as a JS array (the first goes as its own argument).
static bool more_fds_array(napi_env env, const int* fds, int n, napi_value* out) {
  if (napi_create_array_with_length(env, (size_t)(n - 1), out) != napi_ok) return false;
  for (int i = 1; i < n; i++) {
    napi_value v;
    if (napi_create_int32(env, fds[i], &v) != napi_ok || napi_set_element(env, *out, (uint32_t)(i - 1), v) != napi_ok) return false;
  }
  return true;
}

static void channel_read(channel_t* ch) {
  for (int i = 0; i < READ_BATCH && !ch->base.closed; i++) {
    char data[MAX_MESSAGE];
    union { char buf[CMSG_SPACE(sizeof(int) * MAX_FDS)]; struct cmsghdr align; } control;
    int fds[MAX_FDS];
    struct iovec iov = {.iov_base = data, .iov_len = sizeof data};
    // Room for max_fds only: more would be installed in this process just to be closed again.
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = CMSG_SPACE(sizeof(int) * ch->max_fds)};
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
    int nfds = take_fds(&msg, fds, ch->max_fds);
    if (n == 0) { // EOF (never a message: send() refuses empty ones)
      for (int i = 0; i < nfds; i++) close(fds[i]);
      channel_lost(ch, ch->pending_err);
      return;
    }
    // MSG_CTRUNC: the kernel could not install an fd (EMFILE here), or the message had more than
    // max_fds; it dropped those (the ones it did install come first, in order).
    bool truncated = (msg.msg_flags & MSG_CTRUNC) != 0;
    napi_handle_scope scope;
    napi_open_handle_scope(ch->base.env, &scope);
    napi_value argv[4];
    size_t argc = nfds > 1 ? 4 : 3;
    enum call_result r = CALL_NOT_CALLED;
    if (napi_create_buffer_copy(ch->base.env, (size_t)n, data, NULL, &argv[0]) == napi_ok &&
        napi_create_int32(ch->base.env, nfds > 0 ? fds[0] : -1, &argv[1]) == napi_ok &&
        napi_get_boolean(ch->base.env, truncated, &argv[2]) == napi_ok && (argc == 3 || more_fds_array(ch->base.env, fds, nfds, &argv[3])))
      r = call_js(&ch->base, ch->on_message, argc, argv);
    napi_close_handle_scope(ch->base.env, scope);
    if (r == CALL_NOT_CALLED) // never reached JS: still ours (as in the Acceptor)
      for (int i = 0; i < nfds; i++) close(fds[i]);
    if (r != CALL_OK) return; // after a throw, the rest waits for the next turn
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

// new Channel(fd, onMessage(header, fd, truncated, moreFds?), onWritable(), onClose(code | null), maxFds = 1)
// Owns fd once it returns; if it throws, the caller still owns fd.
static napi_value channel_new(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5], self, target;
  napi_valuetype max_type = napi_undefined;
  int32_t fd, max_fds = 1;
  int type = 0, rc = 0;
  socklen_t len = sizeof type;
  uv_loop_t* loop;
  napi_get_cb_info(env, info, &argc, argv, &self, NULL);
  if (napi_get_new_target(env, info, &target) != napi_ok || !target) return throw_type(env, "Channel", "called with new");
  if (!arg_int(env, argv[0], "fd", 0, INT32_MAX, &fd)) return NULL;
  if (argc >= 5) napi_typeof(env, argv[4], &max_type);
  if (max_type != napi_undefined && !arg_int(env, argv[4], "maxFds", 1, MAX_FDS, &max_fds)) return NULL;
  // Everything here relies on message boundaries; a stream socket would glue messages together.
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0) return throw_sys(env, errno, "getsockopt", "Channel", NULL);
  if (type != SOCK_SEQPACKET) return throw_sys(env, EINVAL, "getsockopt", "Channel", "(not a SOCK_SEQPACKET socket)");
  channel_t* ch = calloc(1, sizeof *ch);
  if (!ch) return throw_sys(env, ENOMEM, "calloc", "Channel", NULL);
  ch->base.env = env;
  ch->fd = fd;
  ch->max_fds = max_fds;
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

// send(header, fd | fds) -> 0 | 'EAGAIN'. fds: an array of 1 to MAX_FDS fds, in one message.
static napi_value channel_send(napi_env env, napi_callback_info info) {
  size_t argc = 2, len;
  napi_value argv[2], out;
  void* data;
  bool is_buffer = false, is_array = false;
  int32_t fds[MAX_FDS];
  uint32_t nfds = 0;
  char what[48];
  channel_t* ch = (channel_t*)unwrap_this(env, info, &argc, argv);
  if (!ch) return NULL;
  if (napi_is_buffer(env, argv[0], &is_buffer) != napi_ok || !is_buffer) return throw_type(env, "header", "a Buffer");
  napi_get_buffer_info(env, argv[0], &data, &len);
  // Empty would read as EOF at the other end; longer than MAX_MESSAGE would arrive cut.
  if (len == 0 || len > MAX_MESSAGE) return throw_type(env, "header", "1 to 64 bytes long");
  if (napi_is_array(env, argv[1], &is_array) == napi_ok && is_array) {
    napi_get_array_length(env, argv[1], &nfds);
    if (nfds == 0 || nfds > MAX_FDS) return throw_type(env, "fds", "an array of 1 to 64 fds");
    for (uint32_t i = 0; i < nfds; i++) {
      napi_value v;
      if (napi_get_element(env, argv[1], i, &v) != napi_ok || !arg_int(env, v, "fds[i]", 0, INT32_MAX, &fds[i])) return NULL;
    }
  } else {
    if (!arg_int(env, argv[1], "fd", -1, INT32_MAX, &fds[0])) return NULL;
    nfds = fds[0] >= 0 ? 1 : 0;
  }
  if (nfds > 1) snprintf(what, sizeof what, "send with %u fds from %d", nfds, fds[0]);
  else snprintf(what, sizeof what, nfds ? "send with fd %d" : "send", fds[0]);
  if (ch->base.closed) return throw_sys(env, EBADF, "sendmsg", what, "(the channel is closed)");

  union { char buf[CMSG_SPACE(sizeof(int) * MAX_FDS)]; struct cmsghdr align; } control;
  struct iovec iov = {.iov_base = data, .iov_len = len};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
  if (nfds > 0) { // the kernel puts its own references in the message; our fds stay the caller's
    memset(&control, 0, sizeof control);
    msg.msg_control = control.buf;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
    struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
    memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
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

napi_status channel_define(napi_env env, napi_value exports) {
  napi_property_descriptor methods[] = {
      METHOD("send", channel_send),
      METHOD("close", channel_close_js),
      {"fd", NULL, NULL, channel_get_fd, NULL, NULL, napi_enumerable | napi_configurable, NULL},
  };
  napi_value cls;
  napi_status s =
      napi_define_class(env, "Channel", NAPI_AUTO_LENGTH, channel_new, NULL, sizeof methods / sizeof methods[0], methods, &cls);
  return s != napi_ok ? s : napi_set_named_property(env, exports, "Channel", cls);
}
