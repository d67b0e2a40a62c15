// common.h: what every file of the addon shares: build macros, errors and argument readers, and
// object_t, the lifetime that Acceptor and Channel are built on (implemented in common.c).
// What the addon is for, and its one rule about fds, is at the top of module.c.
//
// Include this first in every .c file: _GNU_SOURCE must come before any system header.

#ifndef HANDOFF_COMMON_H
#define HANDOFF_COMMON_H

#define _GNU_SOURCE // accept4, MSG_CMSG_CLOEXEC
#define NAPI_VERSION 8 // for napi_add_async_cleanup_hook
#include <node_api.h>
#include <uv.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

// Hidden: shared between our files, but not exported from handoff.node, where a same-named
// symbol in the node binary could otherwise interpose. Only NAPI_MODULE_INIT's entry points are.
#pragma GCC visibility push(hidden)

// ---- errors and arguments -------------------------------------------------------------------

napi_value str(napi_env env, const char* s);
napi_value throw_sys(napi_env env, int err, const char* syscall, const char* what, const char* detail);
napi_value throw_type(napi_env env, const char* name, const char* expected);
bool arg_int(napi_env env, napi_value v, const char* name, int min, int max, int32_t* out);
bool arg_string(napi_env env, napi_value v, const char* name, char* buf, size_t size, size_t* len);
bool arg_function(napi_env env, napi_value v, const char* name, napi_ref* out);

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

enum call_result call_js(object_t* o, napi_ref fn_ref, size_t argc, const napi_value* argv);
void object_on_handle_closed(uv_handle_t* handle);
void object_init(object_t* o, napi_value self, const char* name, int handles, void (*close)(object_t*));
object_t* unwrap_this(napi_env env, napi_callback_info info, size_t* argc, napi_value* argv);
napi_value constructor_failed(object_t* o, napi_ref* refs, int nrefs, int uv_err, const char* what);

// ---- registration: each role adds its exports; module.c calls these in order ----------------

#define FUNCTION(name, fn) {name, NULL, fn, NULL, NULL, NULL, napi_default_jsproperty, NULL}
#define METHOD(name, fn) {name, NULL, fn, NULL, NULL, NULL, napi_default_method, NULL}

napi_status sockets_define(napi_env env, napi_value exports);  // sockets.c: the plain functions
napi_status acceptor_define(napi_env env, napi_value exports); // acceptor.c: class Acceptor
napi_status channel_define(napi_env env, napi_value exports);  // channel.c: class Channel

#pragma GCC visibility pop

#endif
