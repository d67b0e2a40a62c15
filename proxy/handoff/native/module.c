// module.c: the native half of Handoff. Everything that touches raw fds lives in this directory:
// listening sockets, accept4 on a libuv poll, and SOCK_SEQPACKET channels that carry one fd per
// message (SCM_RIGHTS). The typed contract, including who owns which fd, is in native.ts.
//
// One rule above all: every fd has exactly one owner. When we cannot hand an fd on, we close
// it; once JS has it, we never touch it again: closing an fd twice can close some unrelated
// socket that has reused the number in between.
//
// The files, by role:
//   common.h, common.c  errors, argument readers, and object_t: the lifetime Acceptor and Channel share
//   sockets.c           tcpListen, localPort, tcpNoDelay, lockFile, seqpacketListen/Connect, peerCredentials, closeFd
//   acceptor.c          class Acceptor: accept4 on a libuv poll
//   channel.c           class Channel: recvmsg/sendmsg, one message and at most one fd at a time
//   module.c            this file: registers the exports

#include "common.h"

NAPI_MODULE_INIT() {
  if (sockets_define(env, exports) != napi_ok || acceptor_define(env, exports) != napi_ok ||
      channel_define(env, exports) != napi_ok)
    return NULL;
  return exports;
}
