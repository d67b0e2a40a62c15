// channel.c: class Channel, messages with at most one fd each (SCM_RIGHTS) over SOCK_SEQPACKET.

#include "common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define READ_BATCH 128 // messages per wakeup: a flood must not starve the loop (level-triggered: we come back)
#define MAX_MESSAGE 64 // a 16-byte header, and for REGISTER and UPSTREAM a trailer; what is longer arrives cut

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
